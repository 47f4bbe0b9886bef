"""The rules that decide what users are told, one mistake at a time (issue #25).

Each test here pins one rule of coverage, the ticket timeline, the weekly weeks and figures
and profiles to the answer a user relies on, with the smallest records that show it. They
are pure and fast, so ``make mutate`` runs them against every mutant of those modules; the
same cases through the real program are in test_tickets.py, test_weekly.py,
test_reconcile.py and test_first_contact.py.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from vulnpipe.ingest.coverage import COVERED, NOT_COVERED, REASON_NO_CREDENTIALS, UNKNOWN, coverage
from vulnpipe.ingest.profiles import RELATED, profile_from_mapping, resolve_profile
from vulnpipe.ingest.records import Host, Policy
from vulnpipe.reports.tickets.build import BuiltTickets
from vulnpipe.reports.tickets.model import (
    ACCEPT,
    FIXED,
    OPEN,
    RESURFACED,
    REVOKE,
    RISK_ACCEPTED,
    Decision,
    FindingKey,
    Observation,
    Ticket,
    ticket_key,
)
from vulnpipe.reports.tickets.timeline import ScanFacts, build_tickets
from vulnpipe.reports.weekly.figures import figures
from vulnpipe.reports.weekly.weeks import TICK, Week, cut_week, week_of

T0 = datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)          # Monday of 2026-W44
PROFILE = "l2tp"
ASSET = "host:10.0.0.1"
KEY = ticket_key(PROFILE, ASSET)
L2TP = FindingKey(11387, 1701, "udp")
PPTP = FindingKey(10622, 1723, "tcp")
COVERS = Policy(name="weekly", plugin_set=frozenset({11387, 10622, 68453}), port_range="default",
                targets=None, scanner_kind="nessus")
NO_FACTS = Policy(name="no facts", plugin_set=None, port_range="default", targets=None,
                  scanner_kind="nessus")
FAMILY = {L2TP: "Firewalls", PPTP: "Service detection"}


def host(when: datetime, credentialed: bool | None = None) -> Host:
    return Host(scan_file="s.nessus", report_name="s", name="10.0.0.1", host_ip="10.0.0.1",
                host_fqdn=None, hostname=None, netbios_name=None, mac_addresses=(), os=None,
                credentialed=credentialed, host_start=when, host_end=when + timedelta(minutes=5))


def seen(key: FindingKey, when: datetime) -> Observation:
    return Observation(key=key, plugin_name=f"plugin {key.plugin_id}", family=FAMILY[key],
                       plugin_type="remote", role="primary", severity=0, seen_at=when,
                       plugin_output=None, host_name="10.0.0.1", address="10.0.0.1")


def scan(n: int, when: datetime, *keys: FindingKey, policy: Policy | None = COVERS) -> ScanFacts:
    """Scan ``n`` at ``when`` holding the host, which reports ``keys``."""
    return ScanFacts(scan_id=n, name=f"s{n}", time=when, policy=policy,
                     hosts={ASSET: host(when)},
                     observations={ASSET: [seen(k, when) for k in keys]} if keys else {})


def ticket(scans, decisions=(), as_of=None) -> Ticket:
    return build_tickets(PROFILE, scans, decisions, as_of=as_of)[KEY]


# -- coverage: a local check on a host whose credential status is unknown ------------------

def test_local_check_on_a_host_with_unknown_credentials_is_not_covered():
    elsa = dict(plugin_id=68453, family="Oracle Linux Local Security Checks", port=0,
                protocol="tcp", plugin_type="local")
    for credentialed in (None, False):
        cov = coverage(COVERS, host(T0, credentialed), **elsa)
        assert (cov.status, cov.reason) == (NOT_COVERED, REASON_NO_CREDENTIALS), credentialed
    assert coverage(COVERS, host(T0, True), **elsa).status == COVERED
    # a remote check needs no credentials, whatever the host says
    assert coverage(COVERS, host(T0, None), plugin_id=11387, family="Firewalls", port=1701,
                    protocol="udp", plugin_type="remote").status == COVERED


# -- the timeline ----------------------------------------------------------------------------

def test_a_ticket_is_fixed_only_when_every_finding_is_gone():
    one_gone = ticket([scan(1, T0, L2TP, PPTP), scan(2, T0 + timedelta(days=7), L2TP)])
    assert one_gone.state == OPEN
    assert [e.kind for e in one_gone.events] == ["opened"]
    assert one_gone.findings[PPTP].is_fixed and not one_gone.findings[L2TP].is_fixed
    both_gone = ticket([scan(1, T0, L2TP, PPTP), scan(2, T0 + timedelta(days=7), L2TP),
                        scan(3, T0 + timedelta(days=14))])
    assert both_gone.state == FIXED
    assert [(e.kind, e.scan_id) for e in both_gone.events] == [("opened", 1), ("fixed", 3)]


def test_a_rescan_without_policy_information_fixes_nothing():
    for policy in (None, NO_FACTS):
        t = ticket([scan(1, T0, L2TP), scan(2, T0 + timedelta(days=7), policy=policy)])
        assert t.state == OPEN, policy
        assert not t.ever_fixed and not t.findings[L2TP].is_fixed
        assert [(c.scan_id, c.result) for c in t.checks] == [(1, "present"), (2, UNKNOWN)]


def test_a_resurfaced_ticket_is_resurfaced_again_when_its_acceptance_ends_or_is_revoked():
    history = [scan(1, T0, L2TP), scan(2, T0 + timedelta(days=7)),
               scan(3, T0 + timedelta(days=14), L2TP)]
    accepted_at = T0 + timedelta(days=15)
    until = T0 + timedelta(days=30)
    accept = Decision(KEY, ACCEPT, accepted_at, "partner VPN", "CISO", until=until, id=1)
    during = ticket(history, [accept], as_of=until - TICK)
    assert during.state == RISK_ACCEPTED
    after = ticket(history, [accept])
    assert after.state == RESURFACED
    assert [e.kind for e in after.events] == ["opened", "fixed", "resurfaced", "risk_accepted",
                                              "acceptance_expired"]
    assert after.events[-1].state == RESURFACED and after.acceptance is None
    revoke = Decision(KEY, REVOKE, accepted_at + timedelta(days=1), "cutover done", id=2)
    revoked = ticket(history, [accept, revoke])
    assert revoked.state == RESURFACED and revoked.events[-1].kind == "reopened"
    # never fixed before: an ended acceptance leaves it open
    plain = ticket([scan(1, T0, L2TP)], [replace(accept, at=T0 + timedelta(days=1))])
    assert plain.state == OPEN and plain.events[-1].kind == "acceptance_expired"


# -- weeks and figures -----------------------------------------------------------------------

def built(t: Ticket, due: datetime | None = None) -> BuiltTickets:
    return BuiltTickets(profile=PROFILE, tickets={t.key: t}, asset_info={},
                        priority={t.key: ("P2", 14, due)})


def test_a_week_holds_its_start_and_its_cut_off_instant_and_nothing_after():
    week = week_of(T0)
    assert week.contains(week.start) and week.contains(week.cutoff)
    assert not week.contains(week.start - TICK) and not week.contains(week.cutoff + TICK)
    cut = cut_week(T0)
    assert cut.cutoff == T0 and cut.contains(T0) and not cut.contains(T0 + TICK)


def test_a_fix_at_the_cut_off_instant_is_fixed_verified_that_week():
    fixed_at = T0 + timedelta(days=7)
    t = ticket([scan(1, T0, L2TP), scan(2, fixed_at)])
    week = cut_week(fixed_at)                       # a report as of the fixing scan's instant
    f = figures(built(t, due=T0 + timedelta(days=14)), week)
    assert (f.fixed_verified, f.open_tickets, f.sla_met, f.sla_judged) == (1, 0, 1, 1)
    assert f.sla_compliance_pct == 100.0
    assert figures(built(t), Week(week.start, fixed_at - TICK)).fixed_verified == 0


def test_due_exactly_at_the_cut_off_is_not_overdue_and_a_tick_later_is():
    t = ticket([scan(1, T0, L2TP)])
    due = T0 + timedelta(days=14)
    on_time = figures(built(t, due), cut_week(due))
    assert (on_time.overdue, on_time.sla_met, on_time.sla_judged) == (0, 1, 1)
    assert on_time.sla_compliance_pct == 100.0
    late = figures(built(t, due), cut_week(due + TICK))
    assert (late.overdue, late.sla_met, late.sla_judged) == (1, 0, 1)
    assert late.sla_compliance_pct == 0.0


# -- profiles: an exclusion wins over every other rule -----------------------------------------

ELSA = dict(plugin_name="Oracle Linux 6 : mysql (ELSA-2012-0105)",
            family="Oracle Linux Local Security Checks")


def test_an_excluded_plugin_stays_out_whatever_else_selects_it():
    l2tp = resolve_profile("l2tp")
    assert l2tp.role(68453, ELSA["plugin_name"], ELSA["family"], 1701, "udp") is None
    assert l2tp.role(10622, "PPTP Detection", None, 1701, "udp") == RELATED   # the port rule works
    assert resolve_profile("l2tp", extra_plugins=[68453]).role(
        68453, ELSA["plugin_name"], ELSA["family"], 0, "tcp") is None
    user = profile_from_mapping("oracle", {
        "primary_names": [ELSA["plugin_name"]], "related_plugins": [68453],
        "related_families": [ELSA["family"]], "related_ports": ["0/tcp"],
        "exclude_plugins": [68453]}, "test")
    assert user.role(68453, ELSA["plugin_name"], ELSA["family"], 0, "tcp") is None
    assert user.role(68454, "other", ELSA["family"], 0, "tcp") == RELATED
