"""Ticket history kept current in the store, so a read costs what the period and the live
tickets hold, not the length of the history.

The replay (:mod:`.timeline`) is the only thing that decides what happened to a ticket. The
store keeps what it produced:

* the live tickets (every step applied so far) with their event and check logs, each row
  marked with the time of the step that made it;
* a checkpoint of every ticket at the end of each week that had a step, so the state at any
  past moment is the checkpoint before it plus at most one week of steps;
* how far each profile has been replayed (its last step, the decisions and scans applied).

:func:`bring_up_to_date` applies what arrived since (scans, decisions, expiries) in the
replay's order. When something arrives that belongs *before* the last step applied (a scan
ingested late, a decision recorded with an earlier ``--at``) or the inventory maps a known
host to another asset, the profile is replayed from the start: results never depend on the
order things were ingested. :func:`tickets_at` reads the tickets as of any moment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy.engine import Connection

from vulnpipe.ingest.store import history as store
from vulnpipe.ingest.store.decisions import Decision, load_decisions
from vulnpipe.ingest.store.identities import all_identities, get_meta, matches, replace_matches, set_meta
from vulnpipe.ingest.store.read import host_from_row
from vulnpipe.reports.tickets.model import (
    ACCEPT,
    ADJUST,
    FIXED,
    Check,
    Event,
    FindingKey,
    Observation,
    Ticket,
    asset_key_for,
)
from vulnpipe.reports.tickets.state import (
    check_row,
    dump_checkpoint,
    event_from_row,
    event_row,
    finding_row,
    fixed_since,
    load_checkpoint,
    ticket_from_rows,
    ticket_row,
)
from vulnpipe.reports.tickets.timeline import ScanFacts, Timeline, apply_step

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory
    from vulnpipe.ingest.profiles import Profile

OUTPUT_EXCERPT = 2000
#: store_meta keys: digest of the stored inventory, and the version of the host -> asset
#: mapping (bumped whenever a known host identity maps to another asset).
INVENTORY_KEY, MAPPING_KEY = "inventory", "mapping"
#: store_meta key (per profile) and value: how the stored ticket rows are derived from the
#: replay. A store whose rows an older vulnpipe wrote is replayed from the start once
#: (version 2: ``fixed_at`` is when the ticket became fixed, see ``state.fixed_since``).
ROWS_KEY, ROWS_VERSION = "ticket_rows", "2"
NO_INVENTORY = "none"


# -- host identities and assets -----------------------------------------------------------------

@dataclass
class Matching:
    """Every host identity's match against the inventory in force."""

    inventory: "Inventory | None"
    by_identity: dict[str, dict[str, Any]]         # identity -> stored match
    version: str                                   # MAPPING_KEY
    inventory_changed: bool = False                # a new inventory was stored just now
    #: What readers derive from it and share (identities as first seen, asset facts).
    cache: dict[Any, Any] = field(default_factory=dict)

    def asset_key(self, identity: str, address: str) -> str:
        m = self.by_identity.get(identity)
        return asset_key_for(m["asset_id"] if m else None, address)

    def identities(self, conn: Connection) -> list[dict[str, Any]]:
        """Every stored identity, in the order first seen (read once)."""
        if "identities" not in self.cache:
            self.cache["identities"] = all_identities(conn)
        return self.cache["identities"]


def _match_rows(identities: list[dict[str, Any]], inventory: "Inventory | None") -> list[dict[str, Any]]:
    """Match identities against ``inventory`` (the inventory join, one row per identity)."""
    if not identities:
        return []
    if inventory is None:
        return [{"identity": r["identity"], "asset_id": None, "match_method": "none",
                 "match_candidates": None, "unowned": None} for r in identities]
    import pandas as pd

    from vulnpipe.ingest.assets.matching import match_hosts

    frame = pd.DataFrame(identities).rename(columns={"name": "host"})
    matched = match_hosts(frame, inventory)
    out = []
    for rec in matched[["identity", "asset_id", "match_method", "match_candidates",
                        "unowned"]].to_dict("records"):
        out.append({k: (None if _missing(v) else v) for k, v in rec.items()})
    for r in out:
        r["unowned"] = None if r["unowned"] is None else bool(r["unowned"])
        r["match_method"] = r["match_method"] or "unmatched"
    return out


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def prepare_matching(conn: Connection, inventory: "Inventory | None") -> Matching:
    """Make every host identity's stored match current and return them.

    A given inventory becomes the stored one; when it differs from the stored one every
    identity is matched again, and if a known identity now maps to another asset the
    mapping version changes (the tickets are then replayed from the start). New identities
    (hosts of new scans) are matched against the inventory in force.
    """
    from vulnpipe.ingest.store.assets import inventory_digest, load_inventory_snapshot, save_inventory

    stored_digest = get_meta(conn, INVENTORY_KEY) or NO_INVENTORY
    version = get_meta(conn, MAPPING_KEY) or "0"
    if inventory is not None:
        digest = inventory_digest(inventory)
    else:
        inventory = load_inventory_snapshot(conn)
        digest = (NO_INVENTORY if inventory is None else
                  stored_digest if stored_digest != NO_INVENTORY else inventory_digest(inventory))
    if digest != stored_digest:
        if inventory is not None:
            save_inventory(conn, inventory)
        set_meta(conn, INVENTORY_KEY, digest)
        old = matches(conn)
        rows = _match_rows(all_identities(conn), inventory)
        if any(old[r["identity"]]["asset_id"] != r["asset_id"]
               for r in rows if r["identity"] in old):
            version = str(int(version) + 1)
            set_meta(conn, MAPPING_KEY, version)
        replace_matches(conn, rows, everything=True)
        return Matching(inventory, {r["identity"]: r for r in rows}, version, True)
    new = all_identities(conn, only_unmatched=True)
    if new:
        replace_matches(conn, _match_rows(new, inventory), everything=False)
    return Matching(inventory, matches(conn), version)


# -- scans as the timeline reads them -------------------------------------------------------------

def _complete(scan_row: dict[str, Any], profile: "Profile") -> bool:
    if scan_row["profile"] == "all" or scan_row["profile"] == profile.name:
        return True
    return not profile.select_all and profile.plugin_ids <= set(scan_row["profile_plugins"] or [])


def _plugin_filter(profile: "Profile") -> list[int] | None:
    """The plugin ids a query may filter on (None: the profile selects by more than ids)."""
    if not profile.select_all and not profile.primary_names and not profile.related_names \
            and not profile.related_families and not profile.related_ports:
        return sorted(profile.plugin_ids)
    return None


def scan_facts(conn: Connection, profile: "Profile", scan_rows: Sequence[dict[str, Any]],
               matching: Matching, relevant: set[str] | None = None) -> Iterator[ScanFacts]:
    """Each scan of ``scan_rows`` as the timeline reads it, one at a time (hosts matched to
    assets; only those whose asset key is in ``relevant``, plus any with a finding)."""
    plugin_ids = _plugin_filter(profile)
    for s in scan_rows:
        sid = s["id"]
        fact = ScanFacts(scan_id=sid, name=s["file_name"], time=s["time"],
                         policy=store.policies(conn, [sid])[sid], hosts={},
                         complete_for_profile=_complete(s, profile), stored_profile=s["profile"])
        rows = store.scan_findings(conn, [sid], plugin_ids, campaign=profile.name)
        kept = []
        for r in rows:
            role = profile.role(r["plugin_id"], r["plugin_name"], r["plugin_family"], r["port"],
                                r["protocol"])
            if role is None or r["plugin_id"] is None:
                continue
            kept.append((r, role))
        observed = {r["host_seq"] for r, _role in kept}
        by_seq = {}
        for h in store.scan_hosts(conn, [sid]):
            key = matching.asset_key(h["identity"], h["address"])
            if relevant is not None and key not in relevant and h["host_seq"] not in observed:
                continue
            host = host_from_row(h, fact.name)
            by_seq[h["host_seq"]] = (key, host)
            fact.hosts.setdefault(key, host)
        for r, role in kept:
            key, host = by_seq[r["host_seq"]]
            output = r["plugin_output"]
            fact.observations.setdefault(key, []).append(Observation(
                key=FindingKey(r["plugin_id"], r["port"] or 0, (r["protocol"] or "").lower()),
                plugin_name=r["plugin_name"] or "", family=r["plugin_family"],
                plugin_type=r["plugin_type"], role=role or None, severity=r["severity"],
                seen_at=host.host_start or fact.time,
                plugin_output=output[:OUTPUT_EXCERPT] if output else output,
                host_name=host.name, address=host.address))
        yield fact


# -- the replay, with checkpoints at each week's end ----------------------------------------------

def week_cutoff(when: datetime) -> datetime:
    """The last instant of the ISO week holding ``when`` (Monday 00:00 UTC starts a week)."""
    day = when.date()
    start = datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(),
                             tzinfo=when.tzinfo)
    return start + timedelta(days=7) - timedelta(microseconds=1)


@dataclass
class _Run:
    """One replay over steps: the timeline, checkpoints made on the way, the last step."""

    timeline: Timeline
    last: tuple[datetime, int, int] | None
    checkpoints: list[tuple[datetime, bytes]] = field(default_factory=list)

    def apply(self, steps: Iterable[tuple], checkpoints: bool = True) -> None:
        for step in steps:
            if checkpoints and self.last is not None and step[0] > week_cutoff(self.last[0]):
                cutoff = week_cutoff(self.last[0])
                self.checkpoints.append((cutoff, dump_checkpoint(self.timeline.tickets.values())))
            apply_step(self.timeline, step)
            self.last = (step[0], step[1], step[2])


def _steps(decisions: Iterable[Decision], expiries: Iterable[Decision] = ()) -> list[tuple]:
    """Decision steps, and the expiry steps of ``expiries`` (acceptances)."""
    steps: list[tuple] = [(d.at, 1, d.id, "decision", d) for d in decisions]
    steps.extend((d.until, 2, d.id, "expiry", d) for d in expiries)
    return steps


def _expiries(decisions: Iterable[Decision], after: tuple | None, upto: datetime | None
              ) -> list[Decision]:
    """Acceptances whose expiry step comes after ``after`` and at or before ``upto``."""
    return [d for d in decisions if d.kind in (ACCEPT, ADJUST) and d.until is not None
            and (after is None or (d.until, 2, d.id) > after)
            and (upto is None or d.until <= upto)]


def _scan_steps(conn: Connection, profile: "Profile", rows: Sequence[dict[str, Any]],
                matching: Matching, relevant: set[str] | None) -> list[tuple]:
    facts = scan_facts(conn, profile, rows, matching, relevant)
    return [(r["time"], 0, r["id"], "scan", _Deferred(facts, r["id"])) for r in rows]


class _Deferred:
    """A scan's facts, taken from a shared generator when the step is applied (steps are
    applied in scan order, so the generator is read in order)."""

    def __init__(self, facts: Iterator[ScanFacts], scan_id: int) -> None:
        self._facts = facts
        self.scan_id = scan_id

    def get(self) -> ScanFacts:
        fact = next(self._facts)
        assert fact.scan_id == self.scan_id
        return fact


def _materialised(steps: Iterable[tuple]) -> Iterator[tuple]:
    for step in steps:
        item = step[4]
        if isinstance(item, _Deferred):
            yield (*step[:4], item.get())
        else:
            yield step


# -- bringing the stored state up to date ---------------------------------------------------------

@dataclass(frozen=True)
class Change:
    key: str
    host: str
    before: str | None
    after: str


@dataclass
class Updated:
    """What :func:`bring_up_to_date` did."""

    matching: Matching
    changes: list[Change]
    replayed_from_start: bool


RowExtra = Callable[[Sequence[Ticket]], dict[str, dict[str, Any]]]


def bring_up_to_date(conn: Connection, profile: "Profile", inventory: "Inventory | None" = None,
                     row_extra: RowExtra | None = None, matching: Matching | None = None
                     ) -> Updated:
    """Apply every scan and decision stored since the profile's last update (one
    transaction: ``conn`` must be in one). ``row_extra(tickets)`` gives the asset and
    priority columns written beside each ticket's state (by key)."""
    matching = matching or prepare_matching(conn, inventory)
    state = store.load_state(conn, profile.name)
    rows = store.scan_rows(conn, profile.name)
    decisions = load_decisions(conn)
    rows_key = f"{ROWS_KEY}:{profile.name}"
    full = (state is None or state.matches != matching.version
            or get_meta(conn, rows_key) != ROWS_VERSION)
    if full:
        set_meta(conn, rows_key, ROWS_VERSION)
    new_rows: list[dict[str, Any]] = []
    new_decisions: list[Decision] = []
    if state is not None and not full:
        applied = store.applied_scans(conn, profile.name)
        new_rows = [r for r in rows if r["id"] not in applied]
        new_decisions = [d for d in decisions if d.id > state.decisions_seen]
        last = state.step
        if last is not None and (any((r["time"], 0, r["id"]) <= last for r in new_rows) or
                                 any((d.at, 1, d.id) <= last for d in new_decisions)):
            full = True
    if not (full or new_rows or new_decisions):
        if matching.inventory_changed and row_extra is not None:
            _refresh_extra(conn, profile, matching, row_extra)
        return Updated(matching, [], False)
    before = {r["key"]: r["state"] for r in store.ticket_states(conn, profile.name)}
    if full:
        _replay_from_start(conn, profile, rows, decisions, matching, row_extra)
    else:
        assert state is not None
        _replay_forward(conn, profile, state, new_rows, new_decisions, decisions, matching,
                        row_extra)
    changes = [Change(r["key"], r["host"], before.get(r["key"]), r["state"])
               for r in store.ticket_states(conn, profile.name)
               if before.get(r["key"]) != r["state"]]
    return Updated(matching, changes, full)


def _expiries_due(decisions: Sequence[Decision], state: store.ReplayState | None,
                  upto: datetime | None) -> list[Decision]:
    """Acceptances applied to the state whose expiry step is after its last step (and at or
    before ``upto``, when given): they are applied when a read or a later step reaches them."""
    if state is None:
        return []
    return _expiries([d for d in decisions if d.id <= state.decisions_seen], state.step, upto)


def _relevant(conn: Connection, profile: "Profile", matching: Matching) -> set[str]:
    """Asset keys that ever had a finding the profile could select (the only hosts a
    replay needs)."""
    found = store.identities_with_findings(conn, _plugin_filter(profile), profile.name)
    return {matching.asset_key(r["identity"], r["address"]) for r in matching.identities(conn)
            if r["identity"] in found}


def _replay_from_start(conn: Connection, profile: "Profile", rows: Sequence[dict[str, Any]],
                       decisions: Sequence[Decision], matching: Matching,
                       row_extra: RowExtra | None) -> None:
    store.forget_profile(conn, profile.name)
    relevant = _relevant(conn, profile, matching)
    run = _Run(Timeline(profile.name), None)
    horizon = max([r["time"] for r in rows] + [d.at for d in decisions], default=None)
    steps = sorted(_scan_steps(conn, profile, rows, matching, relevant) +
                   _steps(decisions, _expiries(decisions, None, horizon)), key=lambda s: s[:3])
    run.apply(_materialised(steps))
    _save(conn, profile, run, {}, row_extra)
    store.add_applied_scans(conn, profile.name, [r["id"] for r in rows])
    store.save_state(conn, store.ReplayState(profile.name, run.last,
                                             max((d.id for d in decisions), default=0),
                                             matching.version))


def _replay_forward(conn: Connection, profile: "Profile", state: store.ReplayState,
                    new_rows: Sequence[dict[str, Any]], new_decisions: Sequence[Decision],
                    decisions: Sequence[Decision], matching: Matching,
                    row_extra: RowExtra | None) -> None:
    trows, frows = store.load_tickets(conn, profile.name)
    tickets = _restore(trows, frows)
    run = _Run(Timeline(profile.name, tickets), state.step)
    relevant = {t.asset_key for t in tickets.values()}
    horizon = max([r["time"] for r in new_rows] + [d.at for d in new_decisions])
    known = [d for d in decisions if d.id <= state.decisions_seen] + list(new_decisions)
    steps = sorted(_scan_steps(conn, profile, new_rows, matching, relevant | _new_keys(
        conn, profile, new_rows, matching)) +
        _steps(new_decisions, _expiries(known, state.step, horizon)), key=lambda s: s[:3])
    run.apply(_materialised(steps))
    _save(conn, profile, run, {r["key"]: r for r in trows}, row_extra)
    if matching.inventory_changed and row_extra is not None:
        _refresh_extra(conn, profile, matching, row_extra)
    store.add_applied_scans(conn, profile.name, [r["id"] for r in new_rows])
    store.save_state(conn, store.ReplayState(
        profile.name, run.last, max([state.decisions_seen, *(d.id for d in new_decisions)]),
        matching.version))


def _new_keys(conn: Connection, profile: "Profile", rows: Sequence[dict[str, Any]],
              matching: Matching) -> set[str]:
    """Asset keys with a finding in ``rows``' scans (new tickets may open for them)."""
    if not rows:
        return set()
    found = store.scan_findings(conn, [r["id"] for r in rows], _plugin_filter(profile),
                                campaign=profile.name)
    idents = {f["identity"] for f in found}
    by_id = {r["identity"]: r["address"] for r in matching.identities(conn)
             if r["identity"] in idents}
    return {matching.asset_key(i, a) for i, a in by_id.items()}


def _restore(trows: Sequence[dict[str, Any]], frows: Sequence[dict[str, Any]]) -> dict[str, Ticket]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for f in frows:
        by_key.setdefault(f["ticket_key"], []).append(f)
    return {r["key"]: ticket_from_rows(r, by_key.get(r["key"], ())) for r in trows}


def _save(conn: Connection, profile: "Profile", run: _Run, stored: dict[str, dict[str, Any]],
          row_extra: RowExtra | None) -> None:
    """Write the tickets the run touched (``stored``: their rows before it), their new log
    rows and the checkpoints made on the way."""
    touched = [t for key, t in sorted(run.timeline.tickets.items())
               if key not in stored or t.events or t.checks]
    extra = row_extra(touched) if row_extra else {}
    rows: list[dict[str, Any]] = []
    finding_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for t in touched:
        before = stored.get(t.key)
        n_events = before["events_logged"] if before else 0
        n_checks = before["checks_logged"] if before else 0
        events.extend(event_row(t.key, n_events + i, e) for i, e in enumerate(t.events))
        checks.extend(check_row(t.key, n_checks + i, c) for i, c in enumerate(t.checks))
        row = ticket_row(t)
        # when it became fixed: this run's events continue the stored row's state
        start = (before["state"], before["fixed_at"], before["fixed_scan_id"]) if before else ()
        row["fixed_at"], row["fixed_scan_id"] = fixed_since(t.events, *start)
        row.update(extra.get(t.key, {}))
        row["events_logged"] = n_events + len(t.events)
        row["checks_logged"] = n_checks + len(t.checks)
        rows.append(row)
        finding_rows.extend(finding_row(t.key, tf) for tf in sorted(t.findings.values(),
                                                                    key=lambda x: x.key))
    store.write_tickets(conn, rows, finding_rows, set(stored))
    store.append_log(conn, events, checks)
    store.put_checkpoints(conn, profile.name, run.checkpoints)


def _refresh_extra(conn: Connection, profile: "Profile", matching: Matching,
                   row_extra: RowExtra) -> None:
    """A new inventory mapped no host elsewhere: rewrite only the asset and priority columns."""
    trows, frows = store.load_tickets(conn, profile.name)
    tickets = _restore(trows, frows)
    extra = row_extra(list(tickets.values()))
    store.update_ticket_columns(conn, [{"key": k, **v} for k, v in sorted(extra.items())])


# -- reading tickets as of a moment ---------------------------------------------------------------

#: The most tickets a read that skips old fixes names as kept (decided on since).
MAX_KEPT = 1000


def is_fixed_before(t: Ticket, moment: datetime) -> bool:
    """Whether ``t`` (with every event) is fixed and became so before ``moment``
    (:func:`fixed_since`, the stored ``fixed_at``): such tickets leave the exports once
    ``fixed_within`` has passed (``vulnpipe tickets --fixed-within``)."""
    since = fixed_since(t.events)[0] if t.state == FIXED else None
    return since is not None and since < moment


class StateReader:
    """Reads the profile's tickets as of any moment from the stored state, sharing between
    moments what does not depend on them (scans, decisions, the replay state, event rows)."""

    def __init__(self, conn: Connection, profile: "Profile", matching: Matching) -> None:
        self.conn = conn
        self.profile = profile
        self.matching = matching
        self.state = store.load_state(conn, profile.name)
        self.decisions = load_decisions(conn)
        self.scan_rows = store.scan_rows(conn, profile.name)
        self.scan_names = {r["id"]: r["file_name"] for r in self.scan_rows}
        self._events: dict[store.LeaveOut | None, list[tuple[str, datetime, Event]]] = {}
        self._strings: dict[str, str] = {}      # text the checkpoints read share
        #: Set by :meth:`tickets_at` with ``fixed_within``: the moment before which fixed
        #: tickets were left out, and how many.
        self.fixed_before: datetime | None = None
        self.fixed_left_out = 0

    def newest_scan(self, as_of: datetime | None) -> datetime | None:
        """The time of the profile's newest stored scan, up to ``as_of``."""
        return max((r["time"] for r in self.scan_rows if as_of is None or r["time"] <= as_of),
                   default=None)

    def tickets_at(self, as_of: datetime | None, *, logs: str = "all",
                   fixed_within: timedelta | None = None,
                   may_skip_fixed_before: datetime | None = None) -> dict[str, Ticket]:
        """The tickets as a full replay up to ``as_of`` (None: every step) gives them: the
        live tickets when ``as_of`` is at or after the last step applied (plus acceptances
        expiring by then), else the checkpoint before ``as_of`` plus the steps after it.
        ``logs``: ``all`` (events and checks), ``present`` (events, and only the checks
        that found a finding: enough to say which scans reported it), ``events``, ``none``.
        ``fixed_within``: leave out the tickets that became fixed more than that before
        the profile's newest scan up to ``as_of`` (see :func:`is_fixed_before`), neither
        read nor replayed when ``as_of`` is at or after the last step.
        ``may_skip_fixed_before``: a reader that needs no ticket fixed before that moment
        and not touched since by any decision (an evidence pack of a period) lets such
        tickets go unread; some may still be returned (the caller selects what it needs)."""
        state, conn, profile = self.state, self.conn, self.profile
        newest = self.newest_scan(as_of) if fixed_within is not None else None
        cut = self.fixed_before = newest - fixed_within if newest and fixed_within is not None else None
        self.fixed_left_out = 0
        leave_out = None        # what the live path's queries leave unread
        live = state is None or state.step is None or as_of is None or as_of >= state.step[0]
        if live:
            if cut is not None:
                leave_out = store.LeaveOut(cut)
                self.fixed_left_out = store.count_left_out(conn, profile.name, leave_out)
            elif may_skip_fixed_before is not None:
                moment = may_skip_fixed_before
                keep = frozenset(d.ticket_key for d in self.decisions
                                 if d.at >= moment or (d.until is not None and d.until >= moment))
                if len(keep) <= MAX_KEPT:    # (else read every ticket: a query's bound values are few)
                    leave_out = store.LeaveOut(moment, keep)
            trows, frows = store.load_tickets(conn, profile.name, leave_out=leave_out)
            tickets = _restore(trows, frows)
            since = None
            pending = _steps((), _expiries_due(self.decisions, state, as_of)) if as_of else []
        else:
            assert state is not None and as_of is not None      # (not live)
            cp = store.checkpoint_before(conn, profile.name, as_of)
            since = cp[0] if cp else None
            tickets = load_checkpoint(cp[1], profile.name, self._strings) if cp else {}
            rows = [r for r in self.scan_rows
                    if (since is None or r["time"] > since) and r["time"] <= as_of]
            relevant = ({t.asset_key for t in tickets.values()} |
                        _new_keys(conn, profile, rows, self.matching))
            applied = [d for d in self.decisions if d.id <= state.decisions_seen]
            pending = sorted([s for s in _steps(applied, _expiries(applied, None, as_of))
                              if (since is None or s[0] > since) and s[0] <= as_of] +
                             _scan_steps(conn, profile, rows, self.matching, relevant),
                             key=lambda s: s[:3])
            if cp is None:
                logs = "none"           # nothing logged before the first checkpoint is needed
        if logs != "none":
            self._attach(tickets, since, logs, leave_out)
        timeline = Timeline(profile.name, tickets)
        for step in _materialised(pending):
            apply_step(timeline, step)
        if live or cut is None:         # (live: the queries already left them out)
            return timeline.tickets
        kept = {k: t for k, t in timeline.tickets.items() if not is_fixed_before(t, cut)}
        self.fixed_left_out = len(timeline.tickets) - len(kept)
        return kept

    def _attach(self, tickets: dict[str, Ticket], upto: datetime | None, logs: str,
                leave_out: store.LeaveOut | None = None) -> None:
        """Put each ticket's logged events (and checks) made by steps up to ``upto`` (None:
        all) on it, in order (reading none of the tickets ``leave_out`` names)."""
        if leave_out not in self._events:     # (events are never changed once made: shared)
            self._events[leave_out] = [
                (r["ticket_key"], r["step_at"], event_from_row(r))
                for r in store.read_log(self.conn, "events", self.profile.name,
                                        leave_out=leave_out)]
        for key, step_at, event in self._events[leave_out]:
            if upto is not None and step_at > upto:
                continue
            t = tickets.get(key)
            if t is not None:
                t.events.append(event)
        if logs in ("all", "present"):
            names = self.scan_names
            results = ("present",) if logs == "present" else None
            current, key_of = None, None
            for key, at, sid, pid, port, proto, result, reason, step in store.check_tuples(
                    self.conn, self.profile.name, upto, results, leave_out):
                if key != key_of:
                    current, key_of = tickets.get(key), key
                if current is not None:
                    current.checks.append(Check(at.replace(tzinfo=timezone.utc), sid,
                                                names.get(sid, ""), FindingKey(pid, port, proto),
                                                result, reason,
                                                step.replace(tzinfo=timezone.utc)))
