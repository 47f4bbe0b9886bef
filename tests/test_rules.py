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
from vulnpipe.reports.weekly.figures import FIGURE_FIELDS, figures
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


# -- weeks: labels, bounds, --week and --weeks ---------------------------------------------------

def test_iso_weeks_labels_bounds_and_the_year_boundary():
    from datetime import date

    week = week_of(datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc))      # a Wednesday
    assert (week.label, week.start, week.end) == (
        "2026-W48", datetime(2026, 11, 23, tzinfo=timezone.utc), datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert week.cutoff == week.end - TICK and week.last_day == date(2026, 11, 29) and week.complete
    assert week_of(datetime(2026, 11, 25, 15, 30)) == week                     # naive means UTC
    east = timezone(timedelta(hours=5))
    assert week_of(datetime(2026, 11, 30, 3, 0, tzinfo=east)) == week          # Sunday 22:00 UTC
    assert week_of(datetime(2027, 1, 1, tzinfo=timezone.utc)).label == "2026-W53"
    assert week_of(datetime(2027, 1, 4, tzinfo=timezone.utc)).label == "2027-W01"
    cut = cut_week(datetime(2026, 11, 25, 15, 30, tzinfo=east))
    assert cut.cutoff == datetime(2026, 11, 25, 10, 30, tzinfo=timezone.utc) and not cut.complete
    assert cut_week(week.cutoff + TICK).label == "2026-W49"



def test_a_week_finds_the_whole_week_of_another_instant():
    # the weekly history walks from the first scan's week to the newest through same_kind
    week = week_of(datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc))
    later = week.same_kind(datetime(2026, 12, 9, 8, 0, tzinfo=timezone.utc))
    assert (later.label, later.start) == ("2026-W50", datetime(2026, 12, 7, tzinfo=timezone.utc))
    assert cut_week(datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc)).same_kind(
        week.cutoff) == week                              # a cut week's kind is the whole week

def test_parse_week_and_window():
    import pytest

    from vulnpipe.ingest.errors import BadValue, InputError
    from vulnpipe.reports.weekly.weeks import parse_week, window

    w48 = parse_week("2026-W48")
    assert w48 == parse_week(" 2026w48 ") == parse_week("2026W48") == week_of(datetime(2026, 11, 23))
    assert parse_week("2026-W1").label == "2026-W01"
    for bad, message in (("48", "is not an ISO week"), ("2026-W60", "does not exist"),
                         ("2026-W00", "does not exist"), ("", "is not an ISO week")):
        with pytest.raises(BadValue, match=message):
            parse_week(bad)
    assert parse_week("2026-W53").label == "2026-W53"
    assert w48.previous() == parse_week("2026-W47") and w48.previous(4) == parse_week("2026-W44")
    cut = cut_week(datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert window(cut, 3) == [parse_week("2026-W46"), parse_week("2026-W47"), cut]
    assert window(cut, 1) == [cut]
    with pytest.raises(InputError, match="--weeks 0 must be at least 1"):
        window(cut, 0)


# -- every weekly figure, by hand ----------------------------------------------------------------

def estate_scan(n: int, when: datetime, seen_on: dict[str, bool]) -> ScanFacts:
    """Scan ``n`` holding the hosts of ``seen_on`` (name -> reports L2TP)."""
    hosts, observations = {}, {}
    for name, present in seen_on.items():
        h = replace(host(when), name=name, host_ip=None)
        hosts[f"host:{name}"] = h
        if present:
            observations[f"host:{name}"] = [replace(seen(L2TP, when), host_name=name, address=name)]
    return ScanFacts(scan_id=n, name=f"s{n}", time=when, policy=COVERS, hosts=hosts,
                     observations=observations)


def test_every_weekly_figure_on_a_small_estate():
    from vulnpipe.reports.weekly.figures import ticket_rows

    k = {name: ticket_key(PROFILE, f"host:{name}") for name in "abcdefg"}
    scans = [estate_scan(1, T0, dict.fromkeys("abcdef", True)),
             estate_scan(2, T0 + timedelta(days=7), {**dict.fromkeys("acdef", True), "b": False}),
             estate_scan(3, T0 + timedelta(days=14), {"a": True, "b": True, "e": False, "g": True})]
    decisions = [Decision(k["c"], ACCEPT, T0 + timedelta(days=1), "partner", "CISO",
                          until=T0 + timedelta(days=25), id=1),
                 Decision(k["d"], ACCEPT, T0 + timedelta(days=1), "partner", "CISO",
                          until=T0 + timedelta(days=100), id=2)]
    week = week_of(T0 + timedelta(days=14))                          # 2026-W46
    tickets = build_tickets(PROFILE, scans, decisions, as_of=week.cutoff)
    due = {"a": 7, "b": 30, "c": 30, "d": 30, "e": 10, "f": 30, "g": 30}
    built = BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={}, priority={
        k[n]: ("P2", 14, T0 + timedelta(days=d)) for n, d in due.items()})
    f = figures(built, week)
    shown = {k: f.as_dict()[k] for k in FIGURE_FIELDS}
    assert shown == dict(exposed_hosts=6, open_tickets=4, new=1, fixed_verified=1, resurfaced=1,
                         overdue=1, risk_accepted=2, expiring_30d=1, not_verifiable=1,
                         sla_compliance_pct=60.0)
    assert (f.sla_met, f.sla_judged) == (3, 5)
    rows = {r.host: r for r in ticket_rows(built, week)}
    assert {n: r.state for n, r in rows.items()} == {
        "a": OPEN, "b": RESURFACED, "c": RISK_ACCEPTED, "d": RISK_ACCEPTED, "e": FIXED, "f": OPEN,
        "g": OPEN}
    assert [n for n, r in sorted(rows.items()) if r.overdue] == ["a"]
    assert [n for n, r in sorted(rows.items()) if not r.verified] == ["c", "d", "f"]
    assert rows["a"].status == "open, overdue" and rows["f"].status == "open, not verified this week"
    assert rows["c"].status == "risk accepted"
    assert rows["c"].accepted_through.isoformat() == "2026-11-20"
    assert rows["c"].acceptance_ends == datetime(2026, 11, 21, tzinfo=timezone.utc)
    assert (rows["c"].approver, rows["c"].acceptance_reason) == ("CISO", "partner")
    assert rows["a"].approver is None and rows["a"].accepted_through is None
    assert rows["e"].fixed_at == T0 + timedelta(days=14) and rows["a"].fixed_at is None
    assert rows["b"].fixed_at is None                       # fixed once, resurfaced since
    assert rows["a"].days_open == 20 and rows["g"].days_open == 6
    assert rows["g"].new and not rows["a"].new
    # a subset of keys: the figures of those tickets only
    assert figures(built, week, {k["a"], k["e"]}).as_dict()["open_tickets"] == 1
    # nothing judged: no SLA figure
    assert figures(built, week, {k["c"]}).sla_compliance_pct is None


# -- coverage: port ranges, unreadable settings, whether a scan could detect the campaign -------

def test_port_range_spellings():
    from vulnpipe.ingest.coverage import port_in_range

    for spec in (None, "", "  ", "default", "ALL", "22;1701", "22,,1701", "80,default", "U:default",
                 "T:22,U:1701", "u:1700-1702", "80,all", "U:ALL", "T:default,U:1701"):
        assert port_in_range(spec, 1701, "udp") is True, spec
    for spec in ("T:default", "T:1-65535", "U:1-1000", "22,80"):
        assert port_in_range(spec, 1701, "udp") is False, spec
    assert port_in_range("T:1701", 1701, "tcp") is True and port_in_range("T:1701", 1701, "udp") is False
    assert port_in_range("1-1024", None, "udp") is True                      # no port: not excluded
    assert port_in_range("22,eighty", 1701, "udp") is None                   # cannot be read


def test_without_a_plugin_id_a_plugin_set_cannot_tell():
    from vulnpipe.ingest.coverage import plugin_enabled

    assert plugin_enabled(COVERS, None, "Firewalls") is None
    assert plugin_enabled(COVERS, 11387, None) is True and plugin_enabled(COVERS, 1, None) is False


def test_an_unreadable_port_range_is_unknown_with_the_setting_named():
    pol = replace(COVERS, port_range="22,eighty")
    cov = coverage(pol, host(T0), plugin_id=11387, family="Firewalls", port=1701, protocol="udp")
    assert (cov.status, cov.reason) == (UNKNOWN, "unreadable port_range '22,eighty'")
    assert not cov.covered


def test_whether_a_scan_could_detect_the_campaign_and_why_not():
    from vulnpipe.ingest.coverage import detectability
    from vulnpipe.ingest.profiles import Detector, Profile

    l2tp = Detector(11387, "Firewalls", ((1701, "udp"),), "L2TP Network Server Detection")
    prof = Profile(name="vpn", detectors=(l2tp, Detector(10622)))

    def pol(**kw):
        return replace(COVERS, **kw)

    assert detectability(pol(), prof) == (True, "")
    assert detectability(None, prof) == (
        None, "no policy in the file: cannot tell whether plugin 11387 or plugin 10622 ran")
    assert detectability(pol(plugin_set=frozenset({19506})), prof) == (
        False, "plugin 11387 (L2TP Network Server Detection) not enabled; plugin 10622 not enabled")
    assert detectability(pol(plugin_set=frozenset({11387}), port_range="1-1024"), prof) == (
        False, "udp/1701 outside the port range '1-1024'; plugin 10622 not enabled")
    assert detectability(pol(plugin_set=frozenset({11387}), port_range="U:1701"), prof) == (True, "")
    assert detectability(pol(plugin_set=frozenset({11387}), port_range="22,x"), prof) == (
        None, "unreadable port range '22,x'")
    # no plugin_set: a family decides; a policy that says nothing leaves it open
    assert detectability(pol(plugin_set=None, families=(("Firewalls", "enabled"),)), prof) == (True, "")
    assert detectability(pol(plugin_set=None), prof) == (
        None, "the policy does not say whether plugin 11387 ran")
    # stored under a profile: only the detectors it kept count
    assert detectability(pol(), prof, "pptp", [10622]) == (True, "")
    assert detectability(pol(plugin_set=frozenset({10622})), prof, "pptp", [10622]) == (True, "")
    assert detectability(pol(plugin_set=frozenset({11387})), prof, "pptp", [10622]) == (
        False, "plugin 10622 not enabled")
    assert detectability(pol(), prof, "web", [19506]) == (
        False, "stored with profile 'web', which leaves plugin 11387 and plugin 10622 out")
    assert detectability(pol(), prof, "web", None)[0] is False
    assert detectability(pol(), prof, "all", [19506]) == (True, "")     # 'all' keeps everything
    assert detectability(pol(), Profile(name="empty")) == (
        None, "profile 'empty' declares no plugin that detects it")
    # a profile without declared detectors is detected by its primary plugins, any port
    assert detectability(pol(plugin_set=frozenset({11387}), port_range="1-1024"),
                         resolve_profile("plugins", extra_plugins=[11387])) == (True, "")


# -- cells: every spreadsheet cell is text that cannot run -----------------------------------------

def test_csv_cells_quote_formula_text_and_write_values_plainly():
    from datetime import date

    from vulnpipe.reports.writers.cells import csv_text, is_formula_like

    for text in ("=1+1", "+cmd", "-2+3", "@SUM(1)", "\tx", "\rx"):
        assert is_formula_like(text) and csv_text(text) == "'" + text, text
    assert not is_formula_like("a=1") and csv_text("a=1") == "a=1"
    assert csv_text(None) == "" and csv_text(True) == "true" and csv_text(False) == "false"
    assert csv_text(["a", 1, "=b"]) == "a;1;=b"            # a list is joined (its text is data)
    assert csv_text(("x",)) == "x"
    assert csv_text(-5) == "-5" and csv_text(1.5) == "1.5"  # numbers are numbers, not formulas
    assert csv_text(datetime(2026, 11, 2, 1, 0, 5, tzinfo=timezone.utc)) == "2026-11-02T01:00:05Z"
    assert csv_text(datetime(2026, 11, 2, 1, 0, 5)) == "2026-11-02T01:00:05"
    assert csv_text(date(2026, 11, 2)) == "2026-11-02"


def test_excel_cells_hold_any_text_within_excels_limits():
    from vulnpipe.reports.writers.cells import EXCEL_MAX_CELL, TRUNCATION_MARKER, excel_text, excel_value

    assert excel_text("a\x00b\x08c\x0bd\x0ce\x1ff\tg\nh\ri") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\tg\nh\ri"
    fits = "x" * EXCEL_MAX_CELL
    assert excel_text(fits) == fits
    cut = excel_text(fits + "y")
    assert len(cut) == EXCEL_MAX_CELL and cut.endswith(TRUNCATION_MARKER)
    assert cut == "x" * (EXCEL_MAX_CELL - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER
    assert excel_value(None) is None and excel_value(3) == 3 and excel_value(["a", "b"]) == "a; b"
    assert excel_value("=x\x01") == "=x\ufffd"
    aware = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
    assert excel_value(aware) == datetime(2026, 11, 2, 1, 0) and excel_value(aware).tzinfo is None
    naive = datetime(2026, 11, 2, 1, 0)
    assert excel_value(naive) is naive


# -- the timeline, step by step -------------------------------------------------------------------

def test_the_timeline_records_what_each_scan_said():
    from vulnpipe.reports.tickets.timeline import last_day

    d7, d14, d21 = (T0 + timedelta(days=n) for n in (7, 14, 21))
    late = replace(scan(4, d21, L2TP), hosts={ASSET: replace(host(d21), os="Linux", host_fqdn="vpn.example",
                                                             netbios_name="VPN")})
    t = ticket([scan(1, T0, L2TP), scan(2, d7, L2TP, PPTP), scan(3, d14, L2TP), late])
    assert (t.first_seen, t.last_seen, t.state) == (T0, d21, OPEN)
    assert (t.os, t.fqdn, t.netbios) == ("Linux", "vpn.example", "VPN")      # the latest scan's
    assert [(e.kind, e.at, e.detail) for e in t.events] == [
        ("opened", T0, {"scan": "s1", "findings": [L2TP.label]}),
        ("finding_added", d7, {"finding": PPTP.label})]
    assert [(c.scan_id, c.key, c.result) for c in t.checks] == [
        (1, L2TP, "present"), (2, PPTP, "present"), (2, L2TP, "present"), (3, L2TP, "present"),
        (3, PPTP, "fixed"), (4, L2TP, "present")]
    pptp = t.findings[PPTP]
    assert (pptp.first_seen, pptp.last_seen, pptp.first_scan_id, pptp.last_scan_id) == (d7, d7, 2, 2)
    assert (pptp.fixed_at, pptp.fixed_scan_id, pptp.fixed_reason) == (
        d14, 3, "absent from a rescan that covered it")
    assert t.findings[L2TP].last_scan_id == 4 and t.reported_by(L2TP) == ["s1", "s2", "s3", "s4"]
    assert last_day(datetime(2026, 12, 1, tzinfo=timezone.utc)) == "2026-11-30" and last_day(None) is None


def test_a_fix_is_proved_only_by_a_later_covering_scan_of_a_scan_that_kept_the_finding():
    d7, d14 = T0 + timedelta(days=7), T0 + timedelta(days=14)
    # a scan older than the last detection, ingested late, proves nothing
    older = ticket([scan(1, d7, L2TP), scan(2, T0)])
    assert older.state == OPEN and [c.scan_id for c in older.checks] == [1]
    # a scan stored under a profile that omits the finding proves nothing, and says why
    partial = replace(scan(2, d14), complete_for_profile=False, stored_profile="web")
    t = ticket([scan(1, T0, L2TP), partial])
    assert t.state == OPEN
    assert [(c.result, c.reason) for c in t.checks[1:]] == [
        ("not_covered", "scan stored with profile 'web', which omits this finding")]
    # a host not in the rescan: nothing checked
    elsewhere = replace(scan(2, d14), hosts={"host:10.9.9.9": host(d14)})
    assert [c.scan_id for c in ticket([scan(1, T0, L2TP), elsewhere]).checks] == [1]
    # fixed, with the scan named, and an acceptance in force ends with the fix
    accept = Decision(KEY, ACCEPT, T0 + timedelta(days=1), "later", "CISO", until=d14 + timedelta(days=30), id=1)
    fixed = ticket([scan(1, T0, L2TP), scan(2, d14)], [accept])
    assert fixed.state == FIXED and fixed.acceptance is None and fixed.ever_fixed
    assert fixed.events[-1].kind == "fixed" and fixed.events[-1].detail["scan"] == "s2"
    assert fixed.events[-1].detail["policy"] == "weekly" and fixed.events[-1].detail["findings"] == [L2TP.label]
    # the expiry of an acceptance that ended with the fix changes nothing
    assert [e.kind for e in fixed.events] == ["opened", "risk_accepted", "fixed"]


def test_decisions_in_every_state():
    from vulnpipe.reports.tickets.model import FALSE_POS, FALSE_POSITIVE

    d7 = T0 + timedelta(days=7)
    fp = Decision(KEY, FALSE_POS, T0 + timedelta(days=1), "test responder", "Bob", id=1)
    t = ticket([scan(1, T0, L2TP), scan(2, d7)], [fp])
    assert t.state == FALSE_POSITIVE and not t.ever_fixed         # a false positive is never "fixed"
    assert t.false_positive["reason"] == "test responder" and t.false_positive["decision"] == 1
    accept_fixed = Decision(KEY, ACCEPT, d7 + timedelta(days=1), "x", "CISO", id=2)
    assert [e.kind for e in ticket([scan(1, T0, L2TP), scan(2, d7)], [accept_fixed]).events] == [
        "opened", "fixed"]                                         # nothing to accept
    revoke = Decision(KEY, REVOKE, T0 + timedelta(days=2), "real", id=3)
    back = ticket([scan(1, T0, L2TP)], [fp, revoke])
    assert back.state == OPEN and back.false_positive is None and back.events[-1].kind == "reopened"
    assert back.events[-1].detail == {"reason": "real", "approver": None, "until": None, "decision": 3}
    assert ticket([scan(1, T0, L2TP)], [revoke]).events[-1].kind == "opened"   # nothing to revoke
    # a newer acceptance replaces the first: the first one's expiry does nothing
    first = Decision(KEY, ACCEPT, T0 + timedelta(days=1), "a", "CISO", until=T0 + timedelta(days=5), id=4)
    second = Decision(KEY, ACCEPT, T0 + timedelta(days=2), "b", "CISO", until=T0 + timedelta(days=9), id=5)
    t = ticket([scan(1, T0, L2TP)], [first, second], as_of=T0 + timedelta(days=6))
    assert t.state == RISK_ACCEPTED and t.acceptance["decision"] == 5 and t.acceptance["until"] == "2026-11-04"
    t = ticket([scan(1, T0, L2TP)], [first, second])
    assert t.state == OPEN and t.events[-1].detail == {"decision": 5, "until": "2026-11-04"}
    assert ticket([scan(1, T0, L2TP)], [replace(first, ticket_key="VP-0")]).events[-1].kind == "opened"


def test_the_replay_order_is_time_then_scan_decision_expiry_then_id():
    from vulnpipe.reports.tickets.timeline import replay_steps

    s = scan(7, T0, L2TP)
    d = Decision(KEY, ACCEPT, T0, "x", "CISO", until=T0 + timedelta(days=1), id=3)
    e = Decision(KEY, REVOKE, T0, "y", id=2)
    steps = replay_steps([s], [d, e])
    assert [(st[0], st[1], st[2], st[3]) for st in steps] == [
        (T0, 0, 7, "scan"), (T0, 1, 2, "decision"), (T0, 1, 3, "decision"),
        (T0 + timedelta(days=1), 2, 3, "expiry")]


def test_a_ticket_row_carries_the_ticket_its_asset_priority_and_week():
    from datetime import date

    from vulnpipe.reports.tickets.build import AssetInfo
    from vulnpipe.reports.weekly.figures import TicketRow, ticket_rows

    when = T0 + timedelta(days=2)
    named = replace(scan(1, when, L2TP), hosts={ASSET: replace(host(when), host_fqdn="vpn.example",
                                                               netbios_name="VPN")})
    other = estate_scan(2, when, {"zz": True})
    tickets = build_tickets(PROFILE, [named, other])
    due = T0 + timedelta(days=9)
    info = AssetInfo(asset_id="AST-1", match_method="ip", owner="Alice", owner_email="a@x.example",
                     team="Net", business_unit="Infra", environment="prod", criticality="high",
                     internet_facing=True)
    built = BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={ASSET: info},
                         priority={KEY: ("P3", 7, due)})
    week = cut_week(when + timedelta(hours=1))
    other_key = ticket_key(PROFILE, "host:zz")
    rows = ticket_rows(built, week, {KEY})          # only the keys asked for, whatever their order
    assert rows == ticket_rows(built, week, {KEY, other_key})[int(other_key < KEY)::2][:1] and len(rows) == 1
    assert rows[0] == TicketRow(
        key=KEY, host="10.0.0.1", address="10.0.0.1", state=OPEN, priority="P3", sla_days=7,
        due=date(2026, 11, 4), first_seen=when, last_seen=when, days_open=0, overdue=False, new=True,
        fixed_this_week=False, resurfaced_this_week=False, verified=True, owner="Alice",
        owner_email="a@x.example", team="Net", business_unit="Infra", asset_id="AST-1",
        match_method="ip", criticality="high", accepted_through=None, acceptance_ends=None,
        approver=None, acceptance_reason=None, fixed_at=None, name="vpn.example")
    assert rows[0].label == "vpn.example (10.0.0.1)"
    (zz,) = ticket_rows(built, week, {other_key})
    assert (zz.priority, zz.sla_days, zz.due, zz.owner, zz.match_method, zz.name) == (
        None, None, None, None, "none", None)          # known by its address only
    # verified as read from the store (the week's checks not loaded): the given set decides
    built.verified = {other_key}
    assert [r.verified for r in ticket_rows(built, week)] == [k == other_key for k in sorted(tickets)]
    assert figures(built, week).not_verifiable == 1


def test_sla_edges_fix_on_the_due_instant_no_priority_and_earlier_fixes():
    d7 = T0 + timedelta(days=7)
    t = ticket([scan(1, T0, L2TP), scan(2, d7)])
    week = week_of(d7)
    assert figures(built(t, due=d7), week).sla_compliance_pct == 100.0        # fixed on the due instant
    assert figures(built(t, due=d7 - TICK), week).sla_compliance_pct == 0.0
    no_priority = BuiltTickets(profile=PROFILE, tickets={t.key: t}, asset_info={})
    f = figures(no_priority, week)
    assert (f.fixed_verified, f.sla_met, f.sla_judged) == (1, 1, 1)           # no due date: in time
    later = figures(built(t, due=d7), week_of(d7 + timedelta(days=7)))
    assert (later.fixed_verified, later.sla_judged, later.sla_compliance_pct) == (0, 0, None)


def test_sla_share_has_one_decimal_and_expiry_horizon_is_inclusive():
    scans = [estate_scan(1, T0, dict.fromkeys("abc", True))]
    k = {n: ticket_key(PROFILE, f"host:{n}") for n in "abc"}
    week = cut_week(datetime(2026, 11, 1, tzinfo=timezone.utc))       # cut-off at a midnight
    horizon_end = week.cutoff + timedelta(days=30)                    # 2026-12-01 00:00
    decisions = [Decision(k["c"], ACCEPT, T0 + timedelta(hours=1), "r", "CISO", until=horizon_end, id=1)]
    tickets = build_tickets(PROFILE, scans, decisions, as_of=week.cutoff)
    pri = {k["a"]: ("P2", 14, T0), k["b"]: ("P2", 14, T0 + timedelta(days=30))}
    f = figures(BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={}, priority=pri), week)
    assert (f.open_tickets, f.overdue, f.sla_met, f.sla_judged) == (2, 1, 1, 2)
    # accepted through 2026-11-30: it ends 12-01 00:00, exactly 30 days after the cut-off
    assert f.sla_compliance_pct == 50.0 and (f.risk_accepted, f.expiring_30d) == (1, 1)
    tickets = build_tickets(PROFILE, scans, [replace(decisions[0], until=horizon_end + timedelta(days=1))],
                            as_of=week.cutoff)
    assert figures(BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={}, priority=pri),
                   week).expiring_30d == 0
    three = build_tickets(PROFILE, [estate_scan(1, T0, dict.fromkeys("abd", True))], as_of=week.cutoff)
    pri3 = {key: ("P2", 14, T0 + timedelta(days=30)) for key in three}
    pri3[ticket_key(PROFILE, "host:a")] = ("P2", 14, T0)
    assert figures(BuiltTickets(profile=PROFILE, tickets=three, asset_info={}, priority=pri3),
                   week).sla_compliance_pct == 66.7


def test_week_errors_say_what_to_write():
    import pytest

    from vulnpipe.ingest.errors import BadValue, InputError
    from vulnpipe.reports.weekly.weeks import parse_week, window

    with pytest.raises(BadValue) as bad:
        parse_week("W48")
    assert str(bad.value) == "--week 'W48' is not an ISO week (write it like 2026-W48)"
    with pytest.raises(BadValue) as bad:
        parse_week("2026-W54")
    assert str(bad.value) == ("--week '2026-W54' does not exist "
                              "(ISO years have 52 or 53 weeks; write it like 2026-W48)")
    with pytest.raises(InputError) as bad:
        window(week_of(T0), 0)
    assert str(bad.value) == "--weeks 0 must be at least 1 (e.g. --weeks 12)"


def test_weeks_are_utc_whatever_the_machines_time_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")          # UTC+05:30
    time.tzset()
    try:
        late = datetime(2026, 11, 29, 22, 0)           # naive: Sunday 22:00 UTC, Monday in Kolkata
        assert week_of(late).label == "2026-W48"
        assert week_of(datetime(2026, 11, 30, 2, 0)).label == "2026-W49"   # naive: UTC, not local
        assert week_of(late.replace(tzinfo=timezone.utc)).label == "2026-W48"
        cut = cut_week(datetime(2026, 11, 25, 15, 30, tzinfo=timezone(timedelta(hours=5))))
        assert cut.cutoff.utcoffset() == timedelta(0) and cut.cutoff.hour == 10
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_tickets_whole_history_event_by_event_and_check_by_check():
    """Every field of every event and check, through opened, fixed, resurfaced, a false
    positive reopened, an acceptance that expires and a rescan that cannot tell."""
    from vulnpipe.reports.tickets.model import FALSE_POS

    d = {n: T0 + timedelta(days=n) for n in (7, 14, 15, 16, 17, 30, 35)}
    minute = timedelta(minutes=1)

    def hscan(n, when, *keys, policy=COVERS, output=None):
        start = when + minute                                  # the host's own scan start
        h = replace(host(start), os=f"Linux {n}", host_fqdn=f"vpn{n}.example", netbios_name=f"VPN{n}")
        obs = [replace(seen(k, start), plugin_output=output, plugin_name=f"name {n}") for k in keys]
        return ScanFacts(scan_id=n, name=f"s{n}", time=when, policy=policy, hosts={ASSET: h},
                         observations={ASSET: obs} if obs else {})

    scans = [hscan(1, T0, L2TP, PPTP, output="first"), hscan(2, d[7]), hscan(3, d[14], L2TP, output="again"),
             hscan(4, d[35], policy=None)]
    decisions = [Decision(KEY, FALSE_POS, d[15], "responder", "Bob", id=1),
                 Decision(KEY, REVOKE, d[16], "real", "Ann", id=2),
                 Decision(KEY, ACCEPT, d[17], "cutover", "CISO", until=d[30], id=3)]
    t = ticket(scans, decisions)
    m = minute
    info = {"approver": None, "until": None}
    assert [(e.at, e.state, e.kind, e.scan_id, e.detail, e.step) for e in t.events] == [
        (T0 + m, OPEN, "opened", 1, {"scan": "s1", "findings": [PPTP.label, L2TP.label]}, T0),
        (d[7] + m, FIXED, "fixed", 2, {"scan": "s2", "policy": "weekly", "findings": [PPTP.label, L2TP.label],
                                       "coverage": "covered: plugin enabled, port in range, host scanned"}, d[7]),
        (d[14] + m, RESURFACED, "resurfaced", 3, {"scan": "s3", "findings": [L2TP.label]}, d[14]),
        (d[15], "false_positive", "false_positive", None,
         {"reason": "responder", **info, "approver": "Bob", "decision": 1}, d[15]),
        (d[16], RESURFACED, "reopened", None, {"reason": "real", **info, "approver": "Ann", "decision": 2}, d[16]),
        (d[17], RISK_ACCEPTED, "risk_accepted", None,
         {"reason": "cutover", "approver": "CISO", "until": "2026-11-25", "decision": 3}, d[17]),
        (d[30], RESURFACED, "acceptance_expired", None, {"decision": 3, "until": "2026-11-25"}, d[30]),
    ]
    assert [(c.at, c.scan_id, c.scan_name, c.key, c.result, c.reason, c.step) for c in t.checks] == [
        (T0 + m, 1, "s1", PPTP, "present", "", T0), (T0 + m, 1, "s1", L2TP, "present", "", T0),
        (d[7] + m, 2, "s2", PPTP, "fixed", "", d[7]), (d[7] + m, 2, "s2", L2TP, "fixed", "", d[7]),
        (d[14] + m, 3, "s3", L2TP, "present", "", d[14]),
        (d[35] + m, 4, "s4", L2TP, UNKNOWN, "no policy information", d[35]),
    ]
    assert (t.profile, t.asset_key, t.host_name, t.address) == (PROFILE, ASSET, "10.0.0.1", "10.0.0.1")
    assert (t.os, t.fqdn, t.netbios, t.first_seen, t.last_seen) == (
        "Linux 3", "vpn3.example", "VPN3", T0 + m, d[14] + m)
    assert (t.state, t.acceptance, t.false_positive, t.ever_fixed) == (RESURFACED, None, None, True)
    l2tp, pptp = t.findings[L2TP], t.findings[PPTP]
    assert (l2tp.plugin_name, l2tp.family, l2tp.plugin_type, l2tp.role, l2tp.severity) == (
        "name 3", "Firewalls", "remote", "primary", 0)
    assert (l2tp.first_seen, l2tp.last_seen, l2tp.first_scan_id, l2tp.last_scan_id, l2tp.plugin_output) == (
        T0 + m, d[14] + m, 1, 3, "again")
    assert (l2tp.fixed_at, l2tp.fixed_scan_id, l2tp.fixed_reason) == (None, None, "")
    assert (pptp.plugin_name, pptp.plugin_output, pptp.fixed_at, pptp.fixed_scan_id) == (
        "name 1", "first", d[7] + m, 2)


def test_one_tickets_case_never_stops_the_others_being_judged():
    """Each rule that skips a ticket or a finding skips only that one (the first in the
    replay's order), whatever comes after it."""
    from vulnpipe.reports.tickets.model import FALSE_POS
    from vulnpipe.reports.tickets.timeline import Timeline

    names = sorted("abcdef", key=lambda n: ticket_key(PROFILE, f"host:{n}"))
    first, rest = names[0], names[1:]
    keys = {n: ticket_key(PROFILE, f"host:{n}") for n in names}
    d7 = T0 + timedelta(days=7)
    opening = estate_scan(1, T0, dict.fromkeys(names, True))
    # the first host is not in the rescan: the others are still judged (and fixed)
    t = build_tickets(PROFILE, [opening, estate_scan(2, d7, dict.fromkeys(rest, False))])
    assert [t[keys[n]].state for n in names] == [OPEN] + [FIXED] * len(rest)
    # the first ticket is a false positive: the others are still fixed
    fp = Decision(keys[first], FALSE_POS, T0 + timedelta(days=1), "x", id=1)
    t = build_tickets(PROFILE, [opening, estate_scan(2, d7, dict.fromkeys(names, False))], [fp])
    assert [t[keys[n]].state for n in names] == ["false_positive"] + [FIXED] * len(rest)
    # one finding still reported, the next one gone: the gone one is checked and fixed
    two = [scan(1, T0, L2TP, PPTP), scan(2, d7, PPTP)]
    assert ticket(two).findings[L2TP].is_fixed and not ticket(two).findings[PPTP].is_fixed
    # a finding last seen after this (late) scan is kept; the next finding is still judged
    late = ticket([scan(1, T0, PPTP), scan(2, d7, L2TP), scan(3, T0 + timedelta(days=3))])
    assert not late.findings[L2TP].is_fixed and late.findings[PPTP].is_fixed
    # only an older scan is ignored: one from the instant of the last detection is judged
    same = ticket([scan(1, T0, L2TP), scan(2, T0)])
    assert same.state == FIXED and same.events[-1].scan_id == 2
    # the incremental path hands its live tickets to the timeline
    live = build_tickets(PROFILE, [opening])
    timeline = Timeline(PROFILE, live)
    assert timeline.tickets is live
    # a step at the as-of instant is part of the replay
    assert KEY in build_tickets(PROFILE, [scan(1, T0, L2TP)], as_of=T0)
    assert build_tickets(PROFILE, [scan(1, T0, L2TP)], as_of=T0 - TICK) == {}
    from vulnpipe.reports.tickets.timeline import last_day
    assert last_day(datetime(2026, 12, 1, 0, 0, 0, 1, tzinfo=timezone.utc)) == "2026-12-01"


def test_the_timeline_judges_coverage_with_each_findings_own_facts():
    from vulnpipe.reports.tickets.model import FALSE_POS

    d7 = T0 + timedelta(days=7)

    def after(policy, *, local=False):
        first = scan(1, T0, L2TP)
        if local:
            first.observations[ASSET] = [replace(o, plugin_type="local") for o in first.observations[ASSET]]
        return ticket([first, scan(2, d7, policy=policy)]).checks[-1].result

    assert after(replace(COVERS, plugin_set=None, families=(("Firewalls", "enabled"),))) == "fixed"  # family
    assert after(replace(COVERS, port_range="1-1024")) == NOT_COVERED                                # port
    assert after(replace(COVERS, port_range="U:1701")) == "fixed"                                   # protocol
    assert after(replace(COVERS, port_range="T:1-65535")) == NOT_COVERED
    assert after(COVERS, local=True) == NOT_COVERED                                     # local, no credentials
    # a false positive after an acceptance leaves no acceptance behind
    accept = Decision(KEY, ACCEPT, T0 + timedelta(days=1), "x", "CISO", id=1)
    fp = Decision(KEY, FALSE_POS, T0 + timedelta(days=2), "y", "Bob", id=2)
    t = ticket([scan(1, T0, L2TP)], [accept, fp])
    assert t.state == "false_positive" and t.acceptance is None


# -- profiles: what a user's TOML may say, and what each rule selects ------------------------------

def test_a_profile_table_is_read_exactly_or_refused_in_one_line():
    import pytest

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.profiles import Detector, Profile, load_profiles_toml

    p = profile_from_mapping("x", {
        "primary_names": [" L2TP Thing "], "related_names": [" Foo "], "related_families": [" Fam "],
        "related_ports": ["1701/UDP"], "primary_plugins": [7], "related_plugins": [8],
        "exclude_plugins": [9], "label": "L", "title": "T", "description": "d",
        "detect": [{"plugin": 5, "ports": ["1/TCP"], "name": "n", "family": "f"}]}, "w")
    assert p == Profile(name="x", description="d", label="L", title="T",
                        detectors=(Detector(5, "f", ((1, "tcp"),), "n"),), primary_plugins=frozenset({7}),
                        primary_names=frozenset({"l2tp thing"}), related_plugins=frozenset({8}),
                        related_names=frozenset({"foo"}), related_families=frozenset({"Fam"}),
                        related_ports=frozenset({(1701, "udp")}), exclude_plugins=frozenset({9}))
    assert (p.detect_text, p.campaign, p.heading, p.plugin_ids) == ("plugin 5 (tcp/1)", "L", "T", {7, 8})
    assert (Profile(name="q").heading, Profile(name="q", label="Q").heading) == ("Exposure (profile q)", "Q exposure")
    assert (Profile(name="q").campaign, Profile(name="q").detect_text) == ("q", "no plugin (none is declared)")
    assert Profile(name="q", primary_plugins=frozenset({3, 2})).detect == (Detector(2), Detector(3))
    known = ("known keys: description, detect, exclude_plugins, label, primary_names, primary_plugins, "
             "related_families, related_names, related_plugins, related_ports, title")
    detect_keys = "(known keys: family, name, plugin, ports)"
    for data, message in [
        ({"primary_plugin": [1]}, f"f.toml: profile 'p' has unknown keys primary_plugin ({known})"),
        ({"primary_plugins": ["x"]}, "f.toml: profile 'p': primary_plugins must be a list of plugin IDs (integers)"),
        ({"exclude_plugins": 5}, "f.toml: profile 'p': exclude_plugins must be a list of plugin IDs (integers)"),
        ({"related_names": [1]}, "f.toml: profile 'p': related_names must be a list of strings"),
        ({"related_families": "x"}, "f.toml: profile 'p': related_families must be a list of strings"),
        ({"related_ports": ["1701"]}, "f.toml: profile port '1701' is not PORT/PROTOCOL (write ports like \"1701/udp\")"),
        ({"detect": {"plugin": 1}}, "f.toml: profile 'p': detect must be [[profiles.p.detect]] tables "
                                    "(e.g. plugin = 11387, family = \"Firewalls\", ports = [\"1701/udp\"])"),
        ({"detect": [1]}, "f.toml: profile 'p': detect must be [[profiles.p.detect]] tables "
                          "(e.g. plugin = 11387, family = \"Firewalls\", ports = [\"1701/udp\"])"),
        ({"detect": [{"plugin": "x"}]}, f"f.toml: profile 'p': a detect table needs plugin = ID {detect_keys}"),
        ({"detect": [{"plugin": True}]}, f"f.toml: profile 'p': a detect table needs plugin = ID {detect_keys}"),
        ({"detect": [{"plugin": 1, "bogus": 2, "zz": 1}]},
         f"f.toml: profile 'p': a detect table needs plugin = ID and has unknown keys bogus, zz {detect_keys}"),
        ({"detect": [{"plugin": 1, "name": 3}]}, "f.toml: profile 'p': detect name must be text"),
        ({"detect": [{"plugin": 1, "family": 3}]}, "f.toml: profile 'p': detect family must be text"),
        ({"detect": [{"plugin": 1, "ports": "1701/udp"}]},
         "f.toml: profile 'p': detect ports must be a list like [\"1701/udp\"]"),
        ({"detect": [{"plugin": 1, "ports": [1701]}]},
         "f.toml: profile 'p': detect ports must be a list like [\"1701/udp\"]"),
    ]:
        with pytest.raises(InputError) as err:
            profile_from_mapping("p", data, "f.toml")
        assert str(err.value) == message, data
    assert profile_from_mapping("p", {"detect": [{"plugin": 1, "name": None}]}, "f").detectors == (Detector(1),)
    assert load_profiles_toml('[profiles.a]\nprimary_plugins = [1]\n', "g")["a"].primary_plugins == {1}
    assert load_profiles_toml("", "g") == {}
    for text, message in (("x = [", "g.toml: not valid TOML: "), ("profiles = 3", "g.toml: [profiles] must be a table")):
        with pytest.raises(InputError) as err:
            load_profiles_toml(text, "g.toml")
        assert str(err.value).startswith(message)


def test_resolving_a_profile_by_name_file_inline_and_plugin(tmp_path):
    import pytest

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.profiles import ALL, PRIMARY, builtin_profiles

    assert set(builtin_profiles()) == {"all", "l2tp", "pptp"} and builtin_profiles()["all"] is ALL
    assert resolve_profile() == builtin_profiles()["l2tp"] and resolve_profile("all") is ALL
    assert resolve_profile("all", extra_plugins=[5]) is ALL
    assert ALL.role(1, "x", "y", 1, "tcp") == ""
    mine = tmp_path / "p.toml"
    mine.write_text('[profiles.mine]\nprimary_plugins = [10622]\n[profiles.l2tp]\nprimary_plugins = [1]\n')
    assert resolve_profile("mine", profiles_files=[mine]).primary_plugins == {10622}
    assert resolve_profile("l2tp", profiles_files=[mine]).primary_plugins == {1}     # a file overrides
    inline = resolve_profile("web", inline={"web": {"primary_plugins": [80]}}, extra_plugins=["443"])
    assert inline.primary_plugins == {80, 443} and inline.name == "web"
    adhoc = resolve_profile("plugins", extra_plugins=[5, 6])
    assert (adhoc.name, adhoc.primary_plugins, adhoc.role(5, None, None, None, None)) == ("plugins", {5, 6}, PRIMARY)
    assert adhoc.description == "plugins given with --plugin"
    with pytest.raises(InputError) as err:
        resolve_profile("plugins")
    assert str(err.value) == ("unknown profile 'plugins' (known profiles: all, l2tp, pptp; "
                              "add your own in a profiles TOML file)")
    with pytest.raises(InputError) as err:
        resolve_profile("l2tp", profiles_files=[tmp_path / "none.toml"])
    assert str(err.value) == f"{tmp_path / 'none.toml'}: cannot read profiles file: No such file or directory"


def test_each_selection_rule_and_its_order():
    from vulnpipe.ingest.profiles import PRIMARY

    p = profile_from_mapping("p", {"primary_plugins": [1], "primary_names": ["Main Thing"],
                                   "related_plugins": [2, 1], "related_names": ["side thing"],
                                   "related_families": ["Fam"], "related_ports": ["1701/udp"],
                                   "exclude_plugins": [3]}, "f")
    assert p.role(1, None, None, None, None) == PRIMARY                 # primary wins over related
    assert p.role(None, "  main THING ", None, None, None) == PRIMARY
    assert p.role(2, "main thing", None, None, None) == PRIMARY
    assert p.role(2, None, None, None, None) == RELATED
    assert p.role(4, " Side Thing", None, None, None) == RELATED
    assert p.role(4, None, "Fam", None, None) == RELATED and p.role(4, None, "fam", None, None) is None
    assert p.role(4, None, None, 1701, "UDP") == RELATED
    assert p.role(4, None, None, 1701, None) is None and p.role(4, None, None, None, "udp") is None
    assert p.role(4, "", "", 1701, "tcp") is None and p.role(None, None, None, None, None) is None
    assert p.role(3, "main thing", "Fam", 1701, "udp") is None


def test_profile_errors_name_the_file_or_table_they_come_from(tmp_path):
    import pytest

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.profiles import Profile, _parse_port, load_profiles_toml

    assert profile_from_mapping("p", {}, "f") == Profile(name="p")          # every default empty
    assert load_profiles_toml("[profiles.a]\n", "g")["a"].name == "a"
    with pytest.raises(InputError) as err:
        profile_from_mapping("p", {"zz": 1, "aa": 2}, "f")
    assert str(err.value).startswith("f: profile 'p' has unknown keys aa, zz (")
    with pytest.raises(InputError) as err:
        load_profiles_toml('[profiles.a]\nrelated_plugins = ["x"]\n', "g.toml")
    assert str(err.value) == "g.toml: profile 'a': related_plugins must be a list of plugin IDs (integers)"
    with pytest.raises(InputError) as err:
        profile_from_mapping("p", {"detect": [{"plugin": 1, "ports": ["udp"]}]}, "h.toml")
    assert str(err.value).startswith("h.toml: profile port 'udp' is not PORT/PROTOCOL")
    bad = tmp_path / "bad.toml"
    bad.write_text('[profiles.b]\nlabel = "B"\nprimary_plugins = "x"\n')
    with pytest.raises(InputError) as err:
        resolve_profile("b", profiles_files=[bad])
    assert str(err.value) == f"{bad}: profile 'b': primary_plugins must be a list of plugin IDs (integers)"
    with pytest.raises(InputError) as err:
        resolve_profile("web", inline={"web": {"primary_plugins": "80"}})
    assert str(err.value) == "[profiles.web]: profile 'web': primary_plugins must be a list of plugin IDs (integers)"
    assert _parse_port("1701/udp/x", "f") == (1701, "udp/x")       # the protocol is all after the first /
    assert _parse_port(" 1701 / UDP ", "f") == (1701, "udp")


def test_a_ticket_row_names_the_host_by_netbios_or_report_name_without_a_dns_name():
    from vulnpipe.reports.weekly.figures import ticket_rows

    netbios = replace(scan(1, T0, L2TP), hosts={ASSET: replace(host(T0), netbios_name="VPN")})
    named = scan(1, T0, L2TP)
    named.observations[ASSET] = [replace(o, host_name="gw.example") for o in named.observations[ASSET]]
    week = week_of(T0)
    for facts, name in ((netbios, "VPN"), (named, "gw.example")):
        (row,) = ticket_rows(built(ticket([facts])), week)
        assert (row.name, row.label) == (name, f"{name} (10.0.0.1)")


def test_coming_back_new_findings_and_scans_that_share_an_instant():
    d7 = T0 + timedelta(days=7)
    # a finding first reported by a later scan is a finding_added event, in the ticket's state
    t = ticket([scan(1, T0, L2TP), scan(2, d7, L2TP, PPTP)])
    assert [(e.at, e.state, e.kind, e.scan_id, e.detail, e.step) for e in t.events][1:] == [
        (d7, OPEN, "finding_added", 2, {"finding": PPTP.label}, d7)]
    # reported again at the very instant it was proved fixed: it came back
    again = ticket([scan(1, T0, L2TP), scan(2, d7), scan(3, d7, L2TP)])
    assert again.state == RESURFACED and again.events[-1].detail["findings"] == [L2TP.label]
    # a fixed ticket with a new finding resurfaces, though nothing came back
    new = ticket([scan(1, T0, L2TP), scan(2, d7), scan(3, d7 + timedelta(days=7), PPTP)])
    assert new.state == RESURFACED and new.events[-1].detail["findings"] == []
    # a report older than the fix (a scan whose host was scanned before it) reopens nothing
    old = scan(3, d7 + timedelta(hours=1), L2TP)
    old.observations[ASSET] = [replace(o, seen_at=d7 - timedelta(hours=1)) for o in old.observations[ASSET]]
    stale = ticket([scan(1, T0, L2TP), scan(2, d7), old])
    assert stale.state == FIXED and [e.kind for e in stale.events] == ["opened", "fixed"]
    # two scans at one instant: the one replayed last names the host
    second = replace(scan(2, T0, L2TP), hosts={ASSET: replace(host(T0), os="Windows", host_fqdn="w.example")})
    both = ticket([scan(1, T0, L2TP), second])
    assert (both.os, both.fqdn) == ("Windows", "w.example")


def test_a_scan_older_than_one_findings_last_report_still_judges_the_others():
    d7 = T0 + timedelta(days=7)
    pptp_only = replace(COVERS, plugin_set=frozenset({10622}))      # cannot see L2TP
    late = scan(3, d7 + timedelta(days=1))
    late.hosts[ASSET] = host(T0 + timedelta(days=3))               # its host scanned before d7
    t = ticket([scan(1, T0, L2TP, PPTP), scan(2, d7, PPTP, policy=pptp_only), late])
    assert t.findings[L2TP].is_fixed and t.findings[L2TP].fixed_scan_id == 3
    assert not t.findings[PPTP].is_fixed                           # reported at d7, after that host scan


# -- remediation metrics (docs/weekly-report.md, "Remediation metrics") --------------------------

def test_time_to_fix_is_median_mean_and_nearest_rank_p90_to_one_decimal():
    from vulnpipe.reports.weekly.figures import Mttr, mttr

    assert mttr([]) == Mttr(None, None, None, 0)
    assert mttr([]).as_dict() == {"median": None, "mean": None, "p90": None, "n": 0}
    # odd count: the middle value; every value rounded to one decimal
    assert mttr([3.17, 1.04, 2.37]).as_dict() == {"median": 2.4, "mean": 2.2, "p90": 3.2, "n": 3}
    # even count: the mean of the middle two; p90 of four values is the largest
    assert mttr([10.0, 1.0, 4.0, 2.0]) == Mttr(3.0, 4.2, 10.0, 4)
    # nearest rank: of ten values, the ninth (the smallest that 90% do not exceed)
    assert mttr([float(d) for d in range(10, 0, -1)]) == Mttr(5.5, 5.5, 9.0, 10)
    assert mttr([float(d) for d in range(1, 12)]).p90 == 10.0        # ceil(9.9) = 10th of 11


def metrics_history():
    """Hosts a-g reported on Monday of W44 (T0, 08:00); what W45 (11-02 .. 11-08) sees:

    b fixed on day 2.5 (W44), back on day 5; day 7.3 (11-02): a and b gone, e still there;
    day 8.5: c gone (adjusted to LOW on day 9.5, after its fix); day 9: a back; day 10.7: a and
    d gone. f and g are not scanned in W45. Times to fix in W45: a 1.7 days (from its last
    resurfacing), b 2.3, c 8.5, d 10.7.
    """
    day = {n: T0 + timedelta(days=n) for n in (0, 2.5, 5, 7.3, 8.5, 9, 9.5, 10.7)}
    scans = [estate_scan(1, day[0], dict.fromkeys("abcdefg", True)),
             estate_scan(2, day[2.5], {"b": False}), estate_scan(3, day[5], {"b": True}),
             estate_scan(4, day[7.3], {"a": False, "b": False, "e": True}),
             estate_scan(5, day[8.5], {"c": False}), estate_scan(6, day[9], {"a": True}),
             estate_scan(7, day[10.7], {"a": False, "d": False})]
    k = {n: ticket_key(PROFILE, f"host:{n}") for n in "abcdefg"}
    adjust = Decision(k["c"], "risk_adjusted", day[9.5], "port closed", "CISO", id=1, rating="LOW")
    return scans, [adjust], k, day


def test_remediation_metrics_of_a_week_by_hand():
    from vulnpipe.reports.weekly.figures import HostFacts, Mttr, ticket_rows

    scans, decisions, k, day = metrics_history()
    week = week_of(day[7.3])
    tickets = build_tickets(PROFILE, scans, decisions, as_of=week.cutoff)
    built = BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={}, priority={
        key: ("P2", 14, day[0] + timedelta(days=30)) for key in tickets})
    hosts = HostFacts(scanned={"host:a": True, "host:b": False, "host:c": True, "host:x": False},
                      unseen=frozenset({"asset:1", "asset:2", "asset:3"}))
    f = figures(built, week, hosts=hosts)
    assert (f.fixed_verified, f.open_tickets, f.not_verifiable) == (4, 3, 2)    # open: e f g
    assert f.as_dict() == {
        "exposed_hosts": 3, "open_tickets": 3, "new": 0, "fixed_verified": 4, "resurfaced": 1,
        "overdue": 0, "risk_accepted": 0, "expiring_30d": 0, "not_verifiable": 2,
        "sla_compliance_pct": 100.0,
        # sorted 1.7 2.3 8.5 10.7: median (2.3 + 8.5) / 2, mean 23.2 / 4, p90 the 4th
        "mttr_days": {"median": 5.4, "mean": 5.8, "p90": 10.7, "n": 4},
        "overdue_by_days": {"days_1_30": 0, "days_31_60": 0, "days_61_90": 0, "days_over_90": 0},
        "max_days_overdue": 0,
        "coverage_pct": 33.3,                                  # e of e f g checked this week
        "credentialed_pct": 50.0, "hosts": {"scanned": 4, "credentialed": 2},
        "unscanned_30d": 3}
    # a slice: only the hosts and assets its member test accepts
    member = {"host:a", "host:b", "host:c", "asset:1", "asset:2"}.__contains__
    part = figures(built, week, hosts=hosts, member=member)
    assert (part.credentialed_pct, part.hosts_scanned, part.hosts_credentialed,
            part.unscanned_30d) == (66.7, 3, 2, 2)
    # without host facts: nothing scanned is known, no inventory
    bare = figures(built, week)
    assert (bare.credentialed_pct, bare.hosts_scanned, bare.hosts_credentialed,
            bare.unscanned_30d) == (None, 0, 0, None)
    assert figures(built, week, hosts=HostFacts(scanned={"host:a": False})).unscanned_30d is None
    # some tickets only, from rows computed once for the week: the same figures
    rows = ticket_rows(built, week)
    some = {k["a"], k["e"], k["f"]}
    assert figures(built, week, some, hosts, member, rows) == figures(built, week, some, hosts, member)
    assert figures(built, week, some, all_rows=rows).as_dict()["mttr_days"] == Mttr(1.7, 1.7, 1.7, 1).as_dict()
    assert figures(built, week, some, all_rows=rows).coverage_pct == 50.0            # e of e f
    # a report cut off at the instant d was proved fixed still counts that fix
    cut = cut_week(day[10.7])
    at_cut = BuiltTickets(profile=PROFILE, tickets=build_tickets(PROFILE, scans, decisions, as_of=cut.cutoff),
                          asset_info={})
    assert figures(at_cut, cut).mttr_days == Mttr(5.4, 5.8, 10.7, 4)
    # the week before: b's first fix, from its first report
    w44 = week_of(day[0])
    early = BuiltTickets(profile=PROFILE, tickets=build_tickets(PROFILE, scans, as_of=w44.cutoff),
                         asset_info={})
    assert figures(early, w44).mttr_days == Mttr(2.5, 2.5, 2.5, 1)


def test_days_overdue_buckets_and_their_edges():
    from vulnpipe.reports.weekly.figures import days_overdue

    week = cut_week(T0 + timedelta(days=3))
    c = week.cutoff
    second = timedelta(seconds=1)
    late = {"a": timedelta(hours=1), "b": timedelta(days=30), "c": timedelta(days=30) + second,
            "d": timedelta(days=60), "e": timedelta(days=60) + second, "f": timedelta(days=90),
            "g": timedelta(days=90) + second, "h": timedelta(0)}
    tickets = build_tickets(PROFILE, [estate_scan(1, T0, dict.fromkeys(late, True))], as_of=c)
    built = BuiltTickets(profile=PROFILE, tickets=tickets, asset_info={}, priority={
        ticket_key(PROFILE, f"host:{n}"): ("P2", 14, c - d) for n, d in late.items()})
    f = figures(built, week)
    # 1 and 30 days; 31 (a second past 30 days is a part day) and 60; 61 and 90; 91.
    # h is due at the cut-off instant: not overdue
    assert (f.overdue, f.overdue_by_days, f.max_days_overdue) == (7, (2, 2, 2, 1), 91)
    assert f.as_dict()["overdue_by_days"] == {"days_1_30": 2, "days_31_60": 2, "days_61_90": 2,
                                              "days_over_90": 1}
    # the docs' example: due 11-02 00:00 is 1 day past due all of 11-02, 2 days on 11-03
    due = datetime(2026, 11, 2, tzinfo=timezone.utc)
    assert days_overdue(due, due + timedelta(days=1) - TICK) == 1
    assert days_overdue(due, due + timedelta(days=1)) == 1
    assert days_overdue(due, due + timedelta(days=2, seconds=1)) == 3


def test_a_trend_gap_has_every_metric_null_and_months_say_month():
    from vulnpipe.reports.weekly.figures import (
        FIGURE_LABELS,
        METRIC_LABELS,
        empty_metrics,
        ticket_rows,
        worded,
    )
    from vulnpipe.reports.weekly.periods import parse_month

    t = ticket([scan(1, T0, L2TP)])
    shown = figures(built(t), week_of(T0)).metrics_dict()
    gap = empty_metrics()
    assert gap == {"mttr_days": {"median": None, "mean": None, "p90": None, "n": None},
                   "overdue_by_days": {"days_1_30": None, "days_31_60": None, "days_61_90": None,
                                       "days_over_90": None},
                   "max_days_overdue": None, "coverage_pct": None, "credentialed_pct": None,
                   "hosts": {"scanned": None, "credentialed": None}, "unscanned_30d": None}
    assert gap.keys() == shown.keys()
    # a monthly report says "this month" wherever the weekly one says "this week"
    assert worded(FIGURE_LABELS, "week") == FIGURE_LABELS
    month = worded(FIGURE_LABELS, "month")
    assert month["fixed_verified"] == ("Fixed (verified)", "proved fixed by a covering scan that ran this month")
    assert month["open_tickets"] == ("Open tickets", "open or resurfaced at the end of the month")
    assert worded(METRIC_LABELS, "quarter")["coverage_pct"] == (
        "Coverage", "open tickets a covering scan checked this quarter, as a share of the open tickets")
    assert [m for m in month.values() if "week" in m[1]] == []
    (row,) = ticket_rows(built(t), parse_month("2026-12"))       # not scanned in December
    assert row.status == "open, not verified this month"


def test_time_to_fix_in_fractions_of_days_and_with_a_scan_that_crossed_the_cut_off():
    from vulnpipe.reports.weekly.figures import Mttr

    # fixed 3 days 3:36:01 after the report: 3.15001 days, 3.2 to one decimal
    t = ticket([scan(1, T0, L2TP), scan(2, T0 + timedelta(days=3, hours=3, minutes=36, seconds=1))])
    assert figures(built(t), week_of(T0)).mttr_days == Mttr(3.2, 3.2, 3.2, 1)
    # a scan that began before the cut-off reached the host after it (its fix is after the
    # cut-off); later scans of the week saw a new finding and then proved it gone: that fix,
    # 30 minutes after the resurfacing, is the week's
    week = week_of(T0)
    c = week.cutoff
    crossed = scan(2, c - timedelta(hours=2))
    crossed.hosts[ASSET] = host(c + timedelta(hours=1))
    t = ticket([scan(1, T0, L2TP), crossed, scan(3, c - timedelta(hours=1), PPTP),
                scan(4, c - timedelta(minutes=30))], as_of=c)
    assert [(e.kind, e.at > c) for e in t.events] == [
        ("opened", False), ("fixed", True), ("finding_added", False), ("resurfaced", False),
        ("fixed", False)]
    f = figures(built(t), week)
    assert (f.fixed_verified, f.mttr_days) == (1, Mttr(0.0, 0.0, 0.0, 1))


# -- several campaigns in one ingest -------------------------------------------------------------

def test_several_campaigns_select_what_any_of_them_selects_and_exclude_what_all_exclude():
    import pytest

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.profiles import ALL, PRIMARY, Campaigns, campaigns

    l2tp, pptp = resolve_profile("l2tp"), resolve_profile("pptp")
    assert campaigns([l2tp]) is l2tp and campaigns([l2tp, l2tp]) is l2tp     # one campaign: itself
    vpn = profile_from_mapping("vpn", {
        "label": "VPN", "primary_plugins": [1], "primary_names": ["Main"], "related_plugins": [2],
        "related_names": ["Side"], "related_families": ["Fam"], "related_ports": ["500/udp"],
        "exclude_plugins": [9, 68453]}, "f")
    web = profile_from_mapping("web", {
        "primary_plugins": [11], "primary_names": ["Web"], "related_plugins": [12],
        "related_names": ["Proxy"], "related_families": ["CGI"], "related_ports": ["443/tcp"],
        "exclude_plugins": [68453, 19]}, "f")
    both = campaigns([vpn, web, vpn])
    assert both == Campaigns(
        name="vpn+web", description="campaigns vpn, web", label="VPN, web",
        primary_plugins=frozenset({1, 11}), primary_names=frozenset({"main", "web"}),
        related_plugins=frozenset({2, 12}), related_names=frozenset({"side", "proxy"}),
        related_families=frozenset({"Fam", "CGI"}),
        related_ports=frozenset({(500, "udp"), (443, "tcp")}),
        exclude_plugins=frozenset({68453}),          # left out only when every campaign leaves it out
        select_all=False, members=(vpn, web))
    assert both.plugin_ids == {1, 2, 11, 12}
    # a finding's role is the first campaign's that selects it; roles gives every campaign's
    assert both.role(2, None, None, None, None) == RELATED
    assert both.role(11, None, None, None, None) == PRIMARY
    assert both.role(7, None, "CGI", None, None) == RELATED
    assert both.role(7, "other", None, 1, "tcp") is None
    assert both.role(7, " side ", None, None, None) == RELATED             # by name
    assert both.role(7, None, None, 443, "TCP") == RELATED                 # by port
    assert both.roles(7, None, None, 500, "udp") == [("vpn", RELATED)]
    assert both.roles(7, "web", "Fam", None, None) == [("vpn", RELATED), ("web", PRIMARY)]
    assert both.roles(9, "web", None, None, None) == [("web", PRIMARY)]     # vpn excludes 9
    assert both.roles(7, "x", None, None, None) == []
    everything = campaigns([l2tp, ALL])
    assert (everything.name, everything.select_all, everything.label) == ("l2tp+all", True, "L2TP, all")
    assert everything.role(7, "x", None, None, None) == ""                 # l2tp says no; all keeps it
    assert everything.roles(11387, None, None, 1701, "udp") == [("l2tp", PRIMARY), ("all", None)]
    assert campaigns([pptp, l2tp]).role(10622, "PPTP Detection", None, 1723, "tcp") == PRIMARY
    for given, message in (
            ([], "no campaign given (give --profile NAME)"),
            ([l2tp, profile_from_mapping("a+b", {}, "f")],
             "profile name 'a+b' cannot be one of several campaigns (name it without '+')"),
            ([both, l2tp], "profile name 'vpn+web' cannot be one of several campaigns (name it without '+')")):
        with pytest.raises(InputError) as err:
            campaigns(given)
        assert str(err.value) == message


# -- risk adjustments in the timeline ------------------------------------------------------------

def test_a_risk_adjustment_is_kept_until_it_ends_and_a_newer_one_replaces_it():
    from vulnpipe.reports.tickets.model import ADJUST

    day = {n: T0 + timedelta(days=n) for n in range(10)}
    low = Decision(KEY, ADJUST, day[1], "closed at the edge", "CISO", until=day[5], id=1, rating="LOW")
    t = ticket([scan(1, T0, L2TP)], [low], as_of=day[2])
    # in force: the ticket carries it (priority and SLA read it) and the state is unchanged
    assert t.state == OPEN and t.adjustment == {
        "reason": "closed at the edge", "approver": "CISO", "until": "2026-10-31", "decision": 1,
        "rating": "LOW", "at": day[1].isoformat()}
    assert [(e.at, e.state, e.kind, e.scan_id, e.detail, e.step) for e in t.events[1:]] == [
        (day[1], OPEN, "risk_adjusted", None, {"rating": "LOW", "reason": "closed at the edge",
                                               "approver": "CISO", "until": "2026-10-31",
                                               "decision": 1}, day[1])]
    # ended at its until: gone, and the history says when
    t = ticket([scan(1, T0, L2TP)], [low])
    assert t.adjustment is None
    assert [(e.at, e.state, e.kind, e.scan_id, e.detail, e.step) for e in t.events[2:]] == [
        (day[5], OPEN, "adjustment_expired", None, {"decision": 1, "until": "2026-10-31"}, day[5])]
    # a fixed ticket can be adjusted too, and stays fixed
    fixed = ticket([scan(1, T0, L2TP), scan(2, day[1])], [replace(low, at=day[2])], as_of=day[3])
    assert fixed.state == FIXED and fixed.events[-1].state == FIXED and fixed.adjustment["rating"] == "LOW"
    # a newer adjustment replaces the first: the first one's end does nothing
    moderate = Decision(KEY, ADJUST, day[2], "partly closed", "CISO", until=day[9], id=2, rating="MODERATE")
    t = ticket([scan(1, T0, L2TP)], [low, moderate], as_of=day[6])
    assert t.adjustment["decision"] == 2 and t.adjustment["rating"] == "MODERATE"
    assert [e.kind for e in t.events] == ["opened", "risk_adjusted", "risk_adjusted"]
    # the end of an adjustment of a ticket that does not exist (yet) changes nothing
    assert [e.kind for e in ticket([scan(1, T0, L2TP)], [replace(low, ticket_key="VP-0")]).events] == ["opened"]


def test_an_acceptance_that_ended_says_when():
    until = T0 + timedelta(days=5)
    accept = Decision(KEY, ACCEPT, T0 + timedelta(days=1), "partner", "CISO", until=until, id=1)
    assert ticket([scan(1, T0, L2TP)], [accept], as_of=until - TICK).acceptance_ended is None
    ended = ticket([scan(1, T0, L2TP)], [accept])
    assert (ended.state, ended.acceptance_ended) == (OPEN, until)  # the SLA can restart from it
