"""Tickets as the store keeps them: rows of the live tables, log rows, and checkpoints.

Conversions only, both ways, so that a ticket restored from the store is the ticket the
replay had: the same state, findings, acceptance and flags (its events and checks are read
back from the logs).
"""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, overload

import orjson

from vulnpipe.reports.tickets.model import Check, Event, FindingKey, Ticket, TicketFinding

FIXED_REASON = "absent from a rescan that covered it"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- live tables ----------------------------------------------------------------------------------

def fixed_since(events: Iterable[Event], state: str | None = None,
                since: datetime | None = None, scan_id: int | None = None
                ) -> tuple[datetime | None, int | None]:
    """When (and by which scan) the ticket entered the ``fixed`` state it is in after
    ``events``, starting from ``state`` entered at ``since`` (``scan_id``): the event that
    made it fixed (a covering rescan, or a reopen of a false positive whose findings had
    gone meanwhile), kept while later events leave it fixed. (None, None) when not fixed."""
    for e in events:
        if e.state != "fixed":
            since = scan_id = None
        elif state != "fixed":
            since, scan_id = e.at, e.scan_id
        state = e.state
    return (since, scan_id) if state == "fixed" else (None, None)


def ticket_row(t: Ticket) -> dict[str, Any]:
    """The timeline's part of a ``tickets`` row (asset facts, priority and ``fixed_at``,
    when it became fixed (:func:`fixed_since`), are added by the caller)."""
    return {"key": t.key, "profile": t.profile, "asset_key": t.asset_key, "host": t.host_name,
            "address": t.address, "os": t.os, "state": t.state, "first_seen": t.first_seen,
            "last_seen": t.last_seen, "fqdn": t.fqdn, "netbios": t.netbios,
            "acceptance": t.acceptance,
            "false_positive": t.false_positive, "ever_fixed": t.ever_fixed,
            "adjustment": t.adjustment, "acceptance_ended": t.acceptance_ended}


def finding_row(key: str, tf: TicketFinding) -> dict[str, Any]:
    return {"ticket_key": key, "plugin_id": tf.key.plugin_id, "port": tf.key.port,
            "protocol": tf.key.protocol, "plugin_name": tf.plugin_name, "family": tf.family,
            "plugin_type": tf.plugin_type, "role": tf.role, "severity": tf.severity,
            "first_seen": tf.first_seen, "last_seen": tf.last_seen,
            "first_scan_id": tf.first_scan_id, "last_scan_id": tf.last_scan_id,
            "plugin_output": tf.plugin_output, "fixed_at": tf.fixed_at,
            "fixed_scan_id": tf.fixed_scan_id}


def ticket_from_rows(row: Mapping[str, Any], findings: Iterable[Mapping[str, Any]]) -> Ticket:
    """A live ticket (without events and checks) from its stored rows."""
    t = Ticket(key=row["key"], profile=row["profile"], asset_key=row["asset_key"],
               host_name=row["host"], address=row["address"], os=row["os"],
               first_seen=row["first_seen"], last_seen=row["last_seen"], state=row["state"],
               fqdn=row["fqdn"], netbios=row["netbios"], acceptance=row["acceptance"],
               false_positive=row["false_positive"], ever_fixed=bool(row["ever_fixed"]),
               adjustment=row.get("adjustment"), acceptance_ended=row.get("acceptance_ended"))
    for f in findings:
        tf = TicketFinding(key=FindingKey(f["plugin_id"], f["port"], f["protocol"]),
                           plugin_name=f["plugin_name"], family=f["family"],
                           plugin_type=f["plugin_type"], role=f["role"], severity=f["severity"],
                           first_seen=f["first_seen"], last_seen=f["last_seen"],
                           first_scan_id=f["first_scan_id"], last_scan_id=f["last_scan_id"],
                           plugin_output=f["plugin_output"], fixed_at=f["fixed_at"],
                           fixed_scan_id=f["fixed_scan_id"],
                           fixed_reason=FIXED_REASON if f["fixed_at"] is not None else "")
        t.findings[tf.key] = tf
    return t


# -- logs -----------------------------------------------------------------------------------------

def event_row(key: str, seq: int, e: Event) -> dict[str, Any]:
    return {"ticket_key": key, "seq": seq, "at": e.at, "state": e.state, "kind": e.kind,
            "scan_id": e.scan_id, "detail": e.detail, "step_at": e.step}


def check_row(key: str, seq: int, c: Check) -> dict[str, Any]:
    return {"ticket_key": key, "seq": seq, "at": c.at, "scan_id": c.scan_id,
            "plugin_id": c.key.plugin_id, "port": c.key.port, "protocol": c.key.protocol,
            "result": c.result, "reason": c.reason, "step_at": c.step}


def event_from_row(r: Mapping[str, Any]) -> Event:
    return Event(at=r["at"], state=r["state"], kind=r["kind"], scan_id=r["scan_id"],
                 detail=r["detail"], step=r["step_at"])


# -- checkpoints ----------------------------------------------------------------------------------

def _us(dt: datetime | None) -> int | None:
    return None if dt is None else (dt - _EPOCH) // timedelta(microseconds=1)


@overload
def _dt(us: int) -> datetime: ...
@overload
def _dt(us: None) -> None: ...
def _dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def dump_checkpoint(tickets: Iterable[Ticket]) -> bytes:
    """Every ticket's state (not its events and checks) as compressed JSON."""
    out = []
    for t in sorted(tickets, key=lambda x: x.key):
        out.append([t.key, t.asset_key, t.host_name, t.address, t.os, _us(t.first_seen),
                    _us(t.last_seen), t.state, t.fqdn, t.netbios, t.acceptance,
                    t.false_positive, t.ever_fixed,
                    [[f.key.plugin_id, f.key.port, f.key.protocol, f.plugin_name, f.family,
                      f.plugin_type, f.role, f.severity, _us(f.first_seen), _us(f.last_seen),
                      f.first_scan_id, f.last_scan_id, f.plugin_output, _us(f.fixed_at),
                      f.fixed_scan_id] for f in sorted(t.findings.values(), key=lambda x: x.key)],
                    t.adjustment, _us(t.acceptance_ended)])
    return zlib.compress(orjson.dumps(out), 6)


def load_checkpoint(data: bytes, profile: str,
                    strings: dict[str, str] | None = None) -> dict[str, Ticket]:
    """The tickets of a checkpoint. ``strings``: text already held by other tickets, by
    value (a report reads a checkpoint per week: they share one copy of each key, name and
    plugin output instead of one per week)."""
    seen: dict[str, str] = {} if strings is None else strings

    def one(text: Any) -> Any:
        return seen.setdefault(text, text) if isinstance(text, str) else text

    tickets: dict[str, Ticket] = {}
    for item in orjson.loads(zlib.decompress(data)):
        (key, asset_key, host, address, os_, first, last, state, fqdn, netbios, acceptance,
         fp, ever_fixed, findings) = map(one, item[:14])
        adjustment, ended = item[14:16] if len(item) > 14 else (None, None)   # (0004)
        t = Ticket(key=key, profile=profile, asset_key=asset_key, host_name=host,
                   address=address, os=os_, first_seen=_dt(first), last_seen=_dt(last),
                   state=state, fqdn=fqdn, netbios=netbios, acceptance=acceptance,
                   false_positive=fp, ever_fixed=ever_fixed, adjustment=adjustment,
                   acceptance_ended=_dt(ended))
        for (pid, port, proto, name, family, ptype, role, sev, f_first, f_last, first_id,
             last_id, output, fixed_at, fixed_id) in (map(one, f) for f in findings):
            tf = TicketFinding(key=FindingKey(pid, port, proto), plugin_name=name, family=family,
                               plugin_type=ptype, role=role, severity=sev,
                               first_seen=_dt(f_first), last_seen=_dt(f_last),
                               first_scan_id=first_id, last_scan_id=last_id,
                               plugin_output=output, fixed_at=_dt(fixed_at),
                               fixed_scan_id=fixed_id,
                               fixed_reason=FIXED_REASON if fixed_at is not None else "")
            t.findings[tf.key] = tf
        tickets[key] = t
    return tickets
