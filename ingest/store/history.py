"""The store's side of ticket history: scans as the replay reads them, and the ticket state
it keeps current (live tickets, their event and check logs, weekly checkpoints, and how far
each profile has been replayed).

Everything here is plain rows (dicts of stored values, times as aware UTC datetimes); what
they mean is decided by :mod:`vulnpipe.reports.tickets.history`, which alone writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, true, tuple_, update
from sqlalchemy.engine import Connection

from vulnpipe.ingest.records import Policy
from vulnpipe.ingest.store.read import load_policy, stored, utc
from vulnpipe.ingest.store.schema import (
    decisions,
    finding_campaigns,
    findings,
    host_identities,
    hosts,
    poam_items,
    scan_campaigns,
    scan_coverage,
    scans,
    ticket_checkpoints,
    ticket_checks,
    ticket_events,
    ticket_findings,
    ticket_scans,
    ticket_state,
    tickets,
)

#: Step order at one instant: scans, then decisions, then acceptance expiries.
SCAN, DECISION, EXPIRY = 0, 1, 2
Step = tuple[datetime, int, int]          # (time, order, id): the replay's total order

_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- scans as the replay reads them ------------------------------------------------------------

def scan_rows(conn: Connection, campaign: str | None = None) -> list[dict[str, Any]]:
    """Every scan (no heavy columns), oldest scan time first; ``time`` is the first host
    start, else the ingest time. With ``campaign``, a scan read for several campaigns that
    include it is shown as read for that one alone (see :func:`as_campaign`)."""
    rows = conn.execute(select(scans.c.id, scans.c.file_name, scans.c.sha256, scans.c.size,
                               scans.c.policy_name, scans.c.scanner_kind, scans.c.profile,
                               scans.c.profile_plugins, scans.c.hosts_count,
                               scans.c.findings_count, scans.c.first_host_start,
                               scans.c.ingested_at)).mappings().all()
    out = []
    for r in as_campaign(conn, [dict(r) for r in rows], campaign):
        r["time"] = utc(r["first_host_start"] or r["ingested_at"])
        out.append(r)
    return sorted(out, key=lambda r: (r["time"], r["id"]))


def as_campaign(conn: Connection, rows: list[dict[str, Any]], campaign: str | None
                ) -> list[dict[str, Any]]:
    """Scan rows as ``campaign`` reads them: a scan read for several campaigns, that one
    among them, says ``profile`` = the campaign with its plugins and findings count, as a
    scan ingested for it alone does; one read with ``all`` among them says ``all``."""
    if campaign is None:
        return rows
    found: dict[int, dict[str, Any]] = {}
    q = select(scan_campaigns).where(scan_campaigns.c.profile.in_([campaign, "all"]))
    for m in conn.execute(q).mappings():
        if m["profile"] == campaign or m["scan_id"] not in found:
            found[m["scan_id"]] = dict(m)
    for r in rows:
        c = found.get(r["id"])
        if c is not None:
            r.update(profile=c["profile"], profile_plugins=c["profile_plugins"])
            if c["profile"] == campaign:
                r["findings_count"] = c["findings_count"]
    return rows


def tagged_scans(conn: Connection, campaign: str, scan_ids: Sequence[int] | None = None
                 ) -> set[int]:
    """Scans (of ``scan_ids``) read for several campaigns, ``campaign`` among them: only the
    findings marked as its own are the campaign's."""
    q = select(scan_campaigns.c.scan_id).where(scan_campaigns.c.profile == campaign)
    if scan_ids is None:
        return {r[0] for r in conn.execute(q)}
    out: set[int] = set()
    for part in _chunks(list(scan_ids)):
        out.update(r[0] for r in conn.execute(q.where(scan_campaigns.c.scan_id.in_(part))))
    return out


def policies(conn: Connection, scan_ids: Iterable[int]) -> dict[int, Policy | None]:
    return {sid: load_policy(conn, sid) for sid in scan_ids}


_HOST_COLUMNS = (hosts.c.scan_id, hosts.c.host_seq, hosts.c.report_name, hosts.c.name,
                 hosts.c.address, hosts.c.host_ip, hosts.c.host_fqdn, hosts.c.hostname,
                 hosts.c.netbios_name, hosts.c.mac_address, hosts.c.os, hosts.c.credentialed,
                 hosts.c.host_start, hosts.c.host_end, hosts.c.identity)


def scan_hosts(conn: Connection, scan_ids: Sequence[int],
               identities: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Host rows of ``scan_ids`` (only those of ``identities`` when given), in scan and host
    order."""
    out: list[dict[str, Any]] = []
    for part in _chunks(list(scan_ids)):
        q = select(*_HOST_COLUMNS).where(hosts.c.scan_id.in_(part))
        if identities is not None:
            q = q.where(hosts.c.identity.in_(select(host_identities.c.identity)
                                             .where(host_identities.c.identity.in_(identities))))
        out.extend(dict(r) for r in conn.execute(q).mappings())
    out.sort(key=lambda r: (r["scan_id"], r["host_seq"]))
    return out


def _own(q: Any, campaign: str) -> Any:
    """``q`` (over findings) narrowed to the findings marked as ``campaign``'s."""
    return q.join(finding_campaigns, and_(finding_campaigns.c.profile == campaign,
                                          finding_campaigns.c.scan_id == findings.c.scan_id,
                                          finding_campaigns.c.host_seq == findings.c.host_seq,
                                          finding_campaigns.c.item_seq == findings.c.item_seq))


def scan_findings(conn: Connection, scan_ids: Sequence[int], plugin_ids: Sequence[int] | None,
                  identities: Sequence[str] | None = None, campaign: str | None = None
                  ) -> list[dict[str, Any]]:
    """The findings of ``scan_ids`` (of ``plugin_ids`` when given) that the replay reads, with
    their host's identity, in scan, host and item order. With ``campaign``, a scan read for
    several campaigns that include it gives only the findings marked as the campaign's."""
    cols = (findings.c.scan_id, findings.c.host_seq, findings.c.item_seq, findings.c.plugin_id,
            findings.c.plugin_name, findings.c.plugin_family, findings.c.port,
            findings.c.protocol, findings.c.plugin_type, findings.c.severity,
            findings.c.plugin_output, hosts.c.identity)
    tagged = tagged_scans(conn, campaign, scan_ids) if campaign is not None else set()
    out: list[dict[str, Any]] = []
    for part in _chunks(list(scan_ids)):
        for own, ids in ((False, [s for s in part if s not in tagged]),
                         (True, [s for s in part if s in tagged])):
            if not ids:
                continue
            q = (select(*cols).join(hosts, and_(hosts.c.scan_id == findings.c.scan_id,
                                                hosts.c.host_seq == findings.c.host_seq))
                 .where(findings.c.scan_id.in_(ids)))
            if own:
                assert campaign is not None
                q = _own(q, campaign)
            if plugin_ids is not None:
                q = q.where(findings.c.plugin_id.in_(list(plugin_ids)))
            if identities is not None:
                q = q.where(hosts.c.identity.in_(list(identities)))
            out.extend(dict(r) for r in conn.execute(q).mappings())
    out.sort(key=lambda r: (r["scan_id"], r["host_seq"], r["item_seq"]))
    return out


def hosts_at(conn: Connection, pairs: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Every stored column of the hosts with these (identity, scan id) pairs, in scan and
    host order (a few hundred pairs a query, each found through the identity index)."""
    out: list[dict[str, Any]] = []
    for part in _chunks(sorted(set(pairs)), 400):
        q = select(hosts).where(tuple_(hosts.c.identity, hosts.c.scan_id).in_(list(part)))
        out.extend(dict(r) for r in conn.execute(q).mappings())
    return sorted(out, key=lambda r: (r["scan_id"], r["host_seq"]))


def findings_of_hosts(conn: Connection, host_rows: Sequence[Mapping[str, Any]]
                      ) -> list[dict[str, Any]]:
    """Every stored column of the findings on ``host_rows``, in scan, host and item order
    (found through the primary key, a few hundred hosts a query)."""
    keys = sorted({(h["scan_id"], h["host_seq"]) for h in host_rows})
    out: list[dict[str, Any]] = []
    for part in _chunks(keys, 400):
        q = select(findings).where(tuple_(findings.c.scan_id, findings.c.host_seq).in_(list(part)))
        out.extend(dict(r) for r in conn.execute(q).mappings())
    return sorted(out, key=lambda r: (r["scan_id"], r["host_seq"], r["item_seq"]))


def identities_with_findings(conn: Connection, plugin_ids: Sequence[int] | None,
                             campaign: str | None = None) -> set[str]:
    """Identities of hosts that ever had a stored finding (of ``plugin_ids`` when given; with
    ``campaign``, only its own findings in scans read for several campaigns)."""
    def query(own: bool) -> Any:
        q = (select(hosts.c.identity).distinct()
             .join(findings, and_(hosts.c.scan_id == findings.c.scan_id,
                                  hosts.c.host_seq == findings.c.host_seq)))
        if plugin_ids is not None:
            q = q.where(findings.c.plugin_id.in_(list(plugin_ids)))
        if campaign is None:
            return q
        several = select(scan_campaigns.c.scan_id).where(scan_campaigns.c.profile == campaign)
        return _own(q, campaign) if own else q.where(findings.c.scan_id.not_in(several))

    found = {r[0] for r in conn.execute(query(False))}
    if campaign is not None:
        found.update(r[0] for r in conn.execute(query(True)))
    return found


def period_hosts(conn: Connection, scan_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """(scan id, report host name, address, identity, FQDN, NetBIOS name) of every host of
    ``scan_ids``, scan by scan in the order given, hosts in file order (streamed)."""
    for scan_id in scan_ids:
        q = (select(hosts.c.scan_id, hosts.c.name, hosts.c.address, hosts.c.identity,
                    hosts.c.host_fqdn, hosts.c.netbios_name)
             .where(hosts.c.scan_id == scan_id).order_by(hosts.c.host_seq))
        for r in conn.execution_options(yield_per=5000).execute(q):
            yield tuple(r)


def scanned_hosts(conn: Connection, scan_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """(scan id, identity, address, credentialed) of every host of ``scan_ids``, scan by scan
    in the order given (streamed): what the coverage figures read."""
    for scan_id in scan_ids:
        q = (select(hosts.c.scan_id, hosts.c.identity, hosts.c.address, hosts.c.credentialed)
             .where(hosts.c.scan_id == scan_id).order_by(hosts.c.host_seq))
        for r in conn.execution_options(yield_per=5000).execute(q):
            yield tuple(r)


# -- one writer of derived state at a time -----------------------------------------------------

#: The PostgreSQL advisory lock that serialises updates of derived ticket state.
TICKETS_LOCK = 0x76706970   # "vpip"


def lock_derived_state(conn: Connection) -> None:
    """Wait until no other transaction updates tickets or the inventory, then hold that right
    until this transaction ends (PostgreSQL: an advisory lock; SQLite: its write lock, which
    every vulnpipe transaction takes when it begins)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({TICKETS_LOCK})")


# -- what evidence packs read --------------------------------------------------------------------

def latest_time(conn: Connection) -> datetime | None:
    """The newest time recorded in the store (scan host times, decisions)."""
    cands = [conn.execute(select(func.max(c))).scalar()
             for c in (scans.c.first_host_start, scans.c.last_host_start,
                       scans.c.first_host_end, scans.c.last_host_end, decisions.c.at)]
    found = [c for c in cands if c is not None]
    return utc(max(found)) if found else None


def frozen_completion_dates(conn: Connection, proposed: Mapping[str, datetime],
                            written_at: datetime) -> dict[str, datetime]:
    """Each POA&M item's Scheduled Completion Date: the one stored when a POA&M first carried
    the item, else ``proposed`` (which is then stored, never to change)."""
    out: dict[str, datetime] = {}
    ids = sorted(proposed)
    for part in _chunks(ids):
        q = select(poam_items.c.item_id, poam_items.c.scheduled_completion).where(
            poam_items.c.item_id.in_(list(part)))
        out.update((r[0], utc(r[1])) for r in conn.execute(q))
    fresh = [i for i in ids if i not in out]
    new = [{"item_id": i, "scheduled_completion": stored(proposed[i]),
            "written_at": stored(written_at)} for i in fresh]
    for part in _chunks(new):
        conn.execute(insert(poam_items), list(part))
    out.update((i, proposed[i]) for i in fresh)
    return out


def all_scan_rows(conn: Connection, campaign: str | None = None) -> dict[int, dict[str, Any]]:
    """Every stored column of every scan, by id (as ``campaign`` reads them: see
    :func:`as_campaign`)."""
    rows = as_campaign(conn, [dict(r) for r in conn.execute(select(scans)).mappings()], campaign)
    return {r["id"]: r for r in rows}


def coverage_row(conn: Connection, scan_id: int) -> dict[str, Any] | None:
    """The scan's stored policy facts (``scan_coverage``), or None."""
    r = conn.execute(select(scan_coverage).where(scan_coverage.c.scan_id == scan_id)).mappings().first()
    return dict(r) if r is not None else None


def plugin_reports(conn: Connection, plugin_ids: Sequence[int]
                   ) -> list[tuple[int, str | None, int | None, str | None]]:
    """Distinct (plugin id, family, port, protocol) the store holds for ``plugin_ids``."""
    if not plugin_ids:
        return []
    q = (select(findings.c.plugin_id, findings.c.plugin_family, findings.c.port,
                findings.c.protocol).where(findings.c.plugin_id.in_(list(plugin_ids))).distinct())
    return [tuple(r) for r in conn.execute(q)]


# -- how far a profile has been replayed --------------------------------------------------------

@dataclass(frozen=True)
class ReplayState:
    profile: str
    step: Step | None              # the last step applied (None: nothing yet)
    decisions_seen: int            # the highest decision id applied
    matches: str                   # the host -> asset mapping version it was built with


def load_state(conn: Connection, profile: str) -> ReplayState | None:
    r = conn.execute(select(ticket_state).where(ticket_state.c.profile == profile)).mappings().first()
    if r is None:
        return None
    step: Step | None = None
    if r["step_at"] is not None:
        step = (utc(r["step_at"]), int(r["step_order"]), int(r["step_id"]))
    return ReplayState(profile, step, r["decisions_seen"], r["matches"])


def save_state(conn: Connection, state: ReplayState) -> None:
    conn.execute(delete(ticket_state).where(ticket_state.c.profile == state.profile))
    at, order, ident = state.step if state.step is not None else (None, 0, 0)
    conn.execute(insert(ticket_state).values(profile=state.profile, step_at=stored(at),
                                             step_order=order, step_id=ident,
                                             decisions_seen=state.decisions_seen,
                                             matches=state.matches))


def applied_scans(conn: Connection, profile: str) -> set[int]:
    q = select(ticket_scans.c.scan_id).where(ticket_scans.c.profile == profile)
    return {r[0] for r in conn.execute(q)}


def add_applied_scans(conn: Connection, profile: str, scan_ids: Iterable[int]) -> None:
    rows = [{"profile": profile, "scan_id": sid} for sid in scan_ids]
    if rows:
        conn.execute(insert(ticket_scans), rows)


def forget_profile(conn: Connection, profile: str) -> None:
    """Drop a profile's derived ticket state (tickets, logs, checkpoints, replay state)."""
    keys = [r[0] for r in conn.execute(select(tickets.c.key).where(tickets.c.profile == profile))]
    for part in _chunks(keys):
        for table in (ticket_checks, ticket_events, ticket_findings):
            conn.execute(delete(table).where(table.c.ticket_key.in_(part)))
    conn.execute(delete(tickets).where(tickets.c.profile == profile))
    for table in (ticket_checkpoints, ticket_scans, ticket_state):
        conn.execute(delete(table).where(table.c.profile == profile))


# -- live tickets -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeaveOut:
    """Tickets a read leaves out: those whose state is ``fixed`` with the verified fix
    before ``fixed_before``, except the ``keep`` keys."""

    fixed_before: datetime
    keep: frozenset[str] = frozenset()


def _shown(leave_out: LeaveOut | None) -> Any:
    """The tickets ``leave_out`` does not leave out (every ticket when it is None)."""
    if leave_out is None:
        return true()
    return or_(tickets.c.state != "fixed", tickets.c.fixed_at.is_(None),
               tickets.c.fixed_at >= stored(leave_out.fixed_before),
               tickets.c.key.in_(sorted(leave_out.keep)))


def count_left_out(conn: Connection, profile: str, leave_out: LeaveOut) -> int:
    """How many of the profile's live tickets ``leave_out`` leaves out."""
    q = select(func.count()).select_from(tickets).where(
        tickets.c.profile == profile, ~_shown(leave_out))
    return int(conn.execute(q).scalar_one())


def load_tickets(conn: Connection, profile: str, keys: Sequence[str] | None = None,
                 leave_out: LeaveOut | None = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ticket rows, finding rows) of the profile's live tickets (or only ``keys``; without
    those ``leave_out`` names), times as aware UTC datetimes, in key order."""
    shown = _shown(leave_out)
    tq = select(tickets).where(tickets.c.profile == profile, shown).order_by(tickets.c.key)
    fq = (select(ticket_findings).join(tickets, tickets.c.key == ticket_findings.c.ticket_key)
          .where(tickets.c.profile == profile, shown)
          .order_by(ticket_findings.c.ticket_key, ticket_findings.c.plugin_id,
                    ticket_findings.c.port, ticket_findings.c.protocol))
    if keys is not None:
        trows: list[dict[str, Any]] = []
        frows: list[dict[str, Any]] = []
        for part in _chunks(list(keys)):
            trows.extend(_aware(r) for r in conn.execute(tq.where(tickets.c.key.in_(part))).mappings())
            frows.extend(_aware(r) for r in conn.execute(
                fq.where(ticket_findings.c.ticket_key.in_(part))).mappings())
        return trows, frows
    return ([_aware(r) for r in conn.execute(tq).mappings()],
            [_aware(r) for r in conn.execute(fq).mappings()])


def ticket_states(conn: Connection, profile: str) -> list[dict[str, Any]]:
    """(key, host, state) of the profile's live tickets, by key."""
    q = (select(tickets.c.key, tickets.c.host, tickets.c.state)
         .where(tickets.c.profile == profile).order_by(tickets.c.key))
    return [dict(r) for r in conn.execute(q).mappings()]


def asset_keys(conn: Connection, profile: str) -> set[str]:
    """The asset keys of the profile's live tickets."""
    return {r[0] for r in conn.execute(select(tickets.c.asset_key).where(tickets.c.profile == profile))}


def write_tickets(conn: Connection, rows: Sequence[Mapping[str, Any]],
                  finding_rows: Sequence[Mapping[str, Any]], existing: set[str]) -> None:
    """Insert new tickets and update existing ones (their logs stay), and replace the
    findings of every ticket in ``rows``."""
    rows = [_naive_row(r) for r in rows]
    new = [r for r in rows if r["key"] not in existing]
    old = [r for r in rows if r["key"] in existing]
    if new:
        conn.execute(insert(tickets), new)
    if old:
        cols = [c for c in old[0] if c != "key"]
        stmt = (update(tickets).where(tickets.c.key == bindparam("k_"))
                .values({c: bindparam(f"{c}_") for c in cols}))
        conn.execute(stmt, [{"k_": r["key"], **{f"{c}_": r[c] for c in cols}} for r in old])
    keys = [r["key"] for r in old]
    for part in _chunks(keys):
        conn.execute(delete(ticket_findings).where(ticket_findings.c.ticket_key.in_(part)))
    frows = [_naive_row(r) for r in finding_rows]
    for part in _chunks(frows, 5000):
        conn.execute(insert(ticket_findings), list(part))


def update_ticket_columns(conn: Connection, values: Sequence[Mapping[str, Any]]) -> None:
    """Set columns of existing tickets: each mapping has ``key`` and the columns to set
    (the same columns in every mapping)."""
    if not values:
        return
    cols = [c for c in values[0] if c != "key"]
    stmt = (update(tickets).where(tickets.c.key == bindparam("k_"))
            .values({c: bindparam(f"{c}_") for c in cols}))
    conn.execute(stmt, [{"k_": v["key"], **{f"{c}_": _naive(v[c]) for c in cols}}
                        for v in values])


# -- the logs: events and checks ----------------------------------------------------------------

def append_log(conn: Connection, events: Sequence[Mapping[str, Any]],
               checks: Sequence[Mapping[str, Any]]) -> None:
    for table, rows in ((ticket_events, events), (ticket_checks, checks)):
        naive = [_naive_row(r) for r in rows]
        for part in _chunks(naive, 5000):
            conn.execute(insert(table), list(part))


def _log_query(table: Any, profile: str, keys: Sequence[str] | None, upto: datetime | None,
               since: datetime | None, leave_out: LeaveOut | None = None) -> Any:
    q = select(table).join(tickets, tickets.c.key == table.c.ticket_key).where(
        tickets.c.profile == profile, _shown(leave_out))
    if upto is not None:
        q = q.where(table.c.step_at <= stored(upto))
    if since is not None:
        q = q.where(table.c.at >= stored(since))
    return q.order_by(table.c.ticket_key, table.c.seq)


def read_log(conn: Connection, table_name: str, profile: str, keys: Sequence[str] | None = None,
             upto: datetime | None = None, since: datetime | None = None,
             results: Sequence[str] | None = None, leave_out: LeaveOut | None = None
             ) -> list[dict[str, Any]]:
    """Event (``events``) or check (``checks``) rows of the profile's tickets (or ``keys``;
    without those ``leave_out`` names) made by steps up to ``upto``, at or after
    ``since`` (checks: only ``results``), in ticket and sequence order."""
    table = ticket_events if table_name == "events" else ticket_checks
    q = _log_query(table, profile, keys, upto, since, leave_out)
    if results is not None:
        q = q.where(ticket_checks.c.result.in_(list(results)))
    if keys is None:
        return [_aware(r) for r in conn.execute(q).mappings()]
    out: list[dict[str, Any]] = []
    for part in _chunks(sorted(keys)):
        out.extend(_aware(r) for r in conn.execute(q.where(table.c.ticket_key.in_(part))).mappings())
    return out


CHECK_COLUMNS = ("ticket_key", "at", "scan_id", "plugin_id", "port", "protocol", "result",
                 "reason", "step_at")


def check_tuples(conn: Connection, profile: str, upto: datetime | None = None,
                 results: Sequence[str] | None = None, leave_out: LeaveOut | None = None
                 ) -> list[tuple[Any, ...]]:
    """Check rows as tuples of :data:`CHECK_COLUMNS` (times naive UTC, as stored) made by
    steps up to ``upto`` (of the tickets ``leave_out`` does not name), in ticket and
    sequence order: the fast way to read many."""
    q = (select(*[ticket_checks.c[c] for c in CHECK_COLUMNS])
         .join(tickets, tickets.c.key == ticket_checks.c.ticket_key)
         .where(tickets.c.profile == profile, _shown(leave_out)))
    if upto is not None:
        q = q.where(ticket_checks.c.step_at <= stored(upto))
    if results is not None:
        q = q.where(ticket_checks.c.result.in_(list(results)))
    return [tuple(r) for r in conn.execute(q.order_by(ticket_checks.c.ticket_key,
                                                      ticket_checks.c.seq))]


def checked_in(conn: Connection, profile: str, start: datetime, end: datetime,
               upto: datetime, results: Sequence[str]) -> set[str]:
    """Tickets with a check of ``results`` at ``[start, end]`` made by a step up to ``upto``.

    The checks of the period are read by their time alone and kept for the profile's keys
    in Python: joined with ``tickets`` in SQL, PostgreSQL without fresh statistics (a store
    just filled) chose a nested loop that read the period's checks once per ticket (0.1 s a
    week, 1.3 s a report on 10,000 hosts)."""
    q = (select(ticket_checks.c.ticket_key).distinct()
         .where(ticket_checks.c.at >= stored(start), ticket_checks.c.at <= stored(end),
                ticket_checks.c.step_at <= stored(upto),
                ticket_checks.c.result.in_(list(results))))
    found = {r[0] for r in conn.execute(q)}
    if not found:
        return found
    mine = {r[0] for r in conn.execute(select(tickets.c.key).where(tickets.c.profile == profile))}
    return found & mine


# -- weekly checkpoints -------------------------------------------------------------------------

def put_checkpoints(conn: Connection, profile: str, items: Sequence[tuple[datetime, bytes]]) -> None:
    for cutoff, _data in items:
        conn.execute(delete(ticket_checkpoints).where(ticket_checkpoints.c.profile == profile,
                                                      ticket_checkpoints.c.cutoff == stored(cutoff)))
    rows = [{"profile": profile, "cutoff": stored(c), "data": d} for c, d in items]
    if rows:
        conn.execute(insert(ticket_checkpoints), rows)


def checkpoint_before(conn: Connection, profile: str, when: datetime
                      ) -> tuple[datetime, bytes] | None:
    """The newest checkpoint at or before ``when``."""
    r = conn.execute(select(ticket_checkpoints.c.cutoff, ticket_checkpoints.c.data)
                     .where(ticket_checkpoints.c.profile == profile,
                            ticket_checkpoints.c.cutoff <= stored(when))
                     .order_by(ticket_checkpoints.c.cutoff.desc()).limit(1)).first()
    return (utc(r[0]), bytes(r[1])) if r is not None else None


# -- helpers --------------------------------------------------------------------------------------

def _aware(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: (utc(v) if isinstance(v, datetime) else v) for k, v in row.items()}


def _naive(value: Any) -> Any:
    return stored(value) if isinstance(value, datetime) else value


def _naive_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _naive(v) for k, v in row.items()}
