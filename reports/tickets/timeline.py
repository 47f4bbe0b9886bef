"""Ticket history as a pure function of the scans and the decisions, replayed in time order.

Because the history is recomputed from scan times (never from the order commands ran),
ingesting weeks late or out of order, or reconciling twice, always gives the same history:
fixed in the week the covering rescan ran, resurfaced in the week the finding came back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from vulnpipe.ingest.coverage import COVERED, Coverage, coverage
from vulnpipe.ingest.records import Host, Policy
from vulnpipe.reports.tickets.model import (
    ABSENT_COVERED,
    ACCEPT,
    ADJUST,
    FALSE_POS,
    FALSE_POSITIVE,
    FIXED,
    OPEN,
    OPEN_STATES,
    PRESENT,
    RESURFACED,
    REVOKE,
    RISK_ACCEPTED,
    Check,
    Decision,
    Event,
    Observation,
    Ticket,
    TicketFinding,
    ticket_key,
)


@dataclass
class ScanFacts:
    """One scan as the timeline needs it: when, what policy, which assets, what was seen."""

    scan_id: int
    name: str
    time: datetime
    policy: Policy | None
    hosts: dict[str, Host]                                     # asset key -> host
    observations: dict[str, list[Observation]] = field(default_factory=dict)  # asset key -> seen
    complete_for_profile: bool = True   # False: stored with a profile that omits these findings
    stored_profile: str = ""


def _coverage(scan: ScanFacts, host: Host, tf: TicketFinding) -> Coverage:
    if not scan.complete_for_profile:
        return Coverage("not_covered",
                        f"scan stored with profile '{scan.stored_profile}', which omits this finding")
    return coverage(scan.policy, host, plugin_id=tf.key.plugin_id, family=tf.family,
                    port=tf.key.port, protocol=tf.key.protocol, plugin_type=tf.plugin_type)


def last_day(until: datetime | None) -> str | None:
    """The last day an acceptance holds (``until`` is the first moment it no longer does)."""
    return (until - timedelta(microseconds=1)).date().isoformat() if until else None


def _set_state(ticket: Ticket, step: datetime, at: datetime, state: str, kind: str,
               scan_id: int | None = None, **detail) -> None:
    ticket.state = state
    if kind == "fixed":
        ticket.ever_fixed = True
    ticket.events.append(Event(at=at, state=state, kind=kind, scan_id=scan_id, detail=detail,
                               step=step))


class Timeline:
    """Replays scans and decisions in time order into tickets."""

    def __init__(self, profile: str, tickets: dict[str, Ticket] | None = None) -> None:
        self.profile = profile
        self.tickets: dict[str, Ticket] = tickets if tickets is not None else {}

    # -- scans ---------------------------------------------------------------------------
    def apply_scan(self, scan: ScanFacts) -> None:
        for asset_key, observations in sorted(scan.observations.items()):
            self._observe(scan, asset_key, observations)
        for ticket in sorted(self.tickets.values(), key=lambda t: t.key):
            host = scan.hosts.get(ticket.asset_key)
            if host is None:
                continue
            seen = {o.key for o in scan.observations.get(ticket.asset_key, ())}
            newly_fixed = []
            for fkey, tf in sorted(ticket.findings.items()):
                if fkey in seen:
                    continue
                if tf.is_fixed:
                    continue
                at = host.host_start or scan.time
                if at < tf.last_seen:
                    continue     # an older scan cannot prove a later detection gone
                cov = _coverage(scan, host, tf)
                if cov.status == COVERED:
                    tf.fixed_at, tf.fixed_scan_id = at, scan.scan_id
                    tf.fixed_reason = "absent from a rescan that covered it"
                    ticket.checks.append(Check(at, scan.scan_id, scan.name, fkey, ABSENT_COVERED,
                                               step=scan.time))
                    newly_fixed.append(fkey)
                else:
                    ticket.checks.append(Check(at, scan.scan_id, scan.name, fkey, cov.status,
                                               cov.reason, step=scan.time))
            if newly_fixed and ticket.state != FIXED and all(
                    tf.is_fixed for tf in ticket.findings.values()):
                at = host.host_start or scan.time
                if ticket.state == FALSE_POSITIVE:
                    continue
                ticket.acceptance = None
                _set_state(ticket, scan.time, at, FIXED, "fixed", scan.scan_id, scan=scan.name,
                           policy=scan.policy.name if scan.policy else None,
                           findings=[k.label for k in newly_fixed],
                           coverage="covered: plugin enabled, port in range, host scanned")

    def _observe(self, scan: ScanFacts, asset_key: str, observations: list[Observation]) -> None:
        host = scan.hosts[asset_key]
        first = observations[0]
        at = min(o.seen_at for o in observations)
        key = ticket_key(self.profile, asset_key)
        ticket = self.tickets.get(key)
        opening = ticket is None
        if ticket is None:
            ticket = Ticket(key=key, profile=self.profile, asset_key=asset_key,
                            host_name=first.host_name, address=first.address, os=host.os,
                            first_seen=at, last_seen=at, fqdn=host.host_fqdn,
                            netbios=host.netbios_name)
            self.tickets[key] = ticket
            _set_state(ticket, scan.time, at, OPEN, "opened", scan.scan_id, scan=scan.name,
                       findings=sorted({o.key.label for o in observations}))
        came_back = []
        for obs in sorted(observations, key=lambda o: o.key):
            tf = ticket.findings.get(obs.key)
            if tf is None:
                tf = TicketFinding(key=obs.key, plugin_name=obs.plugin_name, family=obs.family,
                                   plugin_type=obs.plugin_type, role=obs.role,
                                   severity=obs.severity, first_seen=obs.seen_at,
                                   last_seen=obs.seen_at, first_scan_id=scan.scan_id,
                                   last_scan_id=scan.scan_id)
                ticket.findings[obs.key] = tf
                if not opening:
                    ticket.events.append(Event(at=obs.seen_at, state=ticket.state,
                                               kind="finding_added", scan_id=scan.scan_id,
                                               detail={"finding": obs.key.label},
                                               step=scan.time))
            elif tf.fixed_at is not None and obs.seen_at >= tf.fixed_at:
                tf.fixed_at, tf.fixed_scan_id, tf.fixed_reason = None, None, ""
                came_back.append(obs.key)
            if obs.seen_at >= tf.last_seen:
                tf.last_seen, tf.last_scan_id = obs.seen_at, scan.scan_id
                tf.plugin_output = obs.plugin_output
                tf.plugin_name = obs.plugin_name
            tf.first_seen = min(tf.first_seen, obs.seen_at)
            ticket.checks.append(Check(obs.seen_at, scan.scan_id, scan.name, obs.key, PRESENT,
                                       step=scan.time))
        if at >= ticket.last_seen:
            ticket.last_seen = at
            ticket.host_name, ticket.address, ticket.os = first.host_name, first.address, host.os
            ticket.fqdn, ticket.netbios = host.host_fqdn, host.netbios_name
        if ticket.state == FIXED and (came_back or any(not tf.is_fixed for tf in ticket.findings.values())):
            _set_state(ticket, scan.time, at, RESURFACED, "resurfaced", scan.scan_id, scan=scan.name,
                       findings=[k.label for k in came_back])

    # -- decisions -----------------------------------------------------------------------
    def apply_decision(self, d: Decision) -> None:
        ticket = self.tickets.get(d.ticket_key)
        if ticket is None:
            return
        info: dict[str, Any] = {"reason": d.reason, "approver": d.approver,
                "until": last_day(d.until), "decision": d.id}
        if d.kind == ACCEPT:
            if ticket.state in (FIXED, FALSE_POSITIVE):
                return
            ticket.acceptance = info
            _set_state(ticket, d.at, d.at, RISK_ACCEPTED, "risk_accepted", **info)
        elif d.kind == FALSE_POS:
            ticket.false_positive = info
            ticket.acceptance = None
            _set_state(ticket, d.at, d.at, FALSE_POSITIVE, "false_positive", **info)
        elif d.kind == ADJUST:
            ticket.adjustment = {**info, "rating": d.rating, "at": d.at.isoformat()}
            _set_state(ticket, d.at, d.at, ticket.state, "risk_adjusted", rating=d.rating, **info)
        elif d.kind == REVOKE:
            if ticket.state in (RISK_ACCEPTED, FALSE_POSITIVE):
                ticket.acceptance = ticket.false_positive = None
                _set_state(ticket, d.at, d.at, self._open_state(ticket), "reopened", **info)

    def expire(self, d: Decision) -> None:
        ticket = self.tickets.get(d.ticket_key)
        assert d.until is not None
        if d.kind == ADJUST:
            if ticket is not None and (ticket.adjustment or {}).get("decision") == d.id:
                ticket.adjustment = None
                _set_state(ticket, d.until, d.until, ticket.state, "adjustment_expired",
                           decision=d.id, until=last_day(d.until))
            return
        if ticket is None or ticket.state != RISK_ACCEPTED or not ticket.acceptance:
            return
        if ticket.acceptance.get("decision") != d.id:
            return
        ticket.acceptance = None
        ticket.acceptance_ended = d.until
        _set_state(ticket, d.until, d.until, self._open_state(ticket), "acceptance_expired",
                   decision=d.id, until=last_day(d.until))

    @staticmethod
    def _open_state(ticket: Ticket) -> str:
        if all(tf.is_fixed for tf in ticket.findings.values()):
            return FIXED
        return RESURFACED if ticket.ever_fixed else OPEN


Step = tuple  # (time, order, id, kind, item): see replay_steps


def replay_steps(scans: Iterable[ScanFacts], decisions: Iterable[Decision] = ()) -> list[Step]:
    """Scans at their scan time, decisions at the time they were taken, acceptance expiries
    at their expiry date, in the replay's total order: time, then scan < decision < expiry,
    then id. That order never depends on the order things were ingested."""
    steps: list[Step] = []
    for scan in scans:
        steps.append((scan.time, 0, scan.scan_id, "scan", scan))
    for d in decisions:
        steps.append((d.at, 1, d.id, "decision", d))
        if d.kind in (ACCEPT, ADJUST) and d.until is not None:
            steps.append((d.until, 2, d.id, "expiry", d))
    steps.sort(key=lambda s: s[:3])
    return steps


def apply_step(timeline: Timeline, step: Step) -> None:
    kind, item = step[3], step[4]
    if kind == "scan":
        timeline.apply_scan(item)
    elif kind == "decision":
        timeline.apply_decision(item)
    else:
        timeline.expire(item)


def build_tickets(profile: str, scans: Iterable[ScanFacts],
                  decisions: Iterable[Decision] = (), *,
                  as_of: datetime | None = None) -> dict[str, Ticket]:
    """Every ticket of ``profile`` with its full history: a replay of every step from the
    start (the reference the stored, incremental history is checked against).

    With ``as_of``, nothing later is applied (an acceptance expiring next month has not
    expired yet).
    """
    timeline = Timeline(profile)
    for step in replay_steps(scans, decisions):
        if as_of is not None and step[0] > as_of:
            break
        apply_step(timeline, step)
    return timeline.tickets


__all__ = ["OPEN_STATES", "ScanFacts", "Timeline", "apply_step", "build_tickets", "replay_steps"]
