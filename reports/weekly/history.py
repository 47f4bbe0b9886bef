"""What the weekly report reads from the store: the scans, and tickets as of each week's end.

Tickets come from :func:`reports.tickets.build.tickets_as_of` with ``as_of`` = the week's
cut-off, so a scan, decision or acceptance expiry after the cut-off never leaks into an
earlier week's figures. Weeks without any scan are not computed at all: they are gaps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.engine import Connection

from vulnpipe.ingest.coverage import detectability
from vulnpipe.ingest.errors import InputError
from vulnpipe.ingest.store import history as store
from vulnpipe.reports.tickets.build import BuiltTickets, TicketReader, TicketSettings, update_tickets
from vulnpipe.reports.tickets.history import Matching
from vulnpipe.reports.tickets.model import ABSENT_COVERED, PRESENT
from vulnpipe.reports.weekly.figures import UNSCANNED_WINDOW, HostFacts
from vulnpipe.reports.weekly.weeks import Week, week_of, window

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory
    from vulnpipe.ingest.profiles import Profile

@dataclass(frozen=True)
class ScanRow:
    """One stored scan as the report shows it.

    ``detectable`` is True when its policy could find the profile's campaign (for ``l2tp``:
    plugin 11387 enabled and udp/1701 inside its port range; see
    :func:`~vulnpipe.ingest.coverage.detectability`), False when the policy rules it out, None
    when the file cannot tell (no policy element, or settings vulnpipe cannot read);
    ``reason`` says why when not True.
    """

    scan_id: int
    file_name: str
    time: datetime                 # first host start (else ingest time), aware UTC
    policy_name: str | None
    hosts: int
    detectable: bool | None
    reason: str


def load_scans(conn: Connection, profile: "Profile", start: datetime | None = None,
               end: datetime | None = None) -> list[ScanRow]:
    """Stored scans (those whose time is in ``[start, end]`` when given), oldest first (scan
    time, then id), with whether each could detect ``profile``'s campaign."""
    rows = [r for r in store.scan_rows(conn, profile.name)
            if (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
    policies = store.policies(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        detectable, reason = detectability(policies[r["id"]], profile, r["profile"],
                                           r["profile_plugins"])
        out.append(ScanRow(scan_id=r["id"], file_name=r["file_name"], time=r["time"],
                           policy_name=r["policy_name"], hosts=r["hosts_count"] or 0,
                           detectable=detectable, reason=reason))
    return out


@dataclass(frozen=True)
class Wording:
    """How a report names the profile's campaign (from the profile: ``label``, ``title``,
    its detectors)."""

    campaign: str                           # "Can detect L2TP"
    heading: str                            # the title: "L2TP exposure"
    detect_text: str                        # what detects it: "plugin 11387 (udp/1701)"

    @classmethod
    def of(cls, profile: "Profile") -> "Wording":
        return cls(profile.campaign, profile.heading, profile.detect_text)


@dataclass(frozen=True)
class History:
    """Everything a weekly report (or a set of per-team slices) is computed from.

    ``builds`` holds the tickets as of the cut-off of the chosen week and of every earlier
    week in the window that had at least one scan (keyed by week label).
    """

    profile: str
    week: Week
    weeks: tuple[Week, ...]                 # the trend window, oldest first, ending with week
    scans: tuple[ScanRow, ...]              # the stored scans of the trend window
    builds: dict[str, BuiltTickets]
    wording: Wording
    #: The trend window's hosts: per address the last row that named it (scan id, name,
    #: address, identity, FQDN, NetBIOS name), and every identity seen.
    period_latest: dict[str, tuple] | None = None
    period_identities: frozenset[str] = frozenset()
    matches: dict | None = None             # identity -> its inventory match
    #: Per computed week (label): the hosts its scans held and the assets unseen for 30 days.
    hosts: dict[str, HostFacts] = field(default_factory=dict)
    #: What reports derive from the history once and share (see ``report._asset_attributes``).
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def host_facts(self, week: Week) -> HostFacts | None:
        return self.hosts.get(week.label)

    def scans_in(self, week: Week) -> list[ScanRow]:
        return [s for s in self.scans if week.contains(s.time)]

    @property
    def current(self) -> BuiltTickets:
        return self.builds[self.week.label]

    @property
    def period_start(self) -> datetime:
        return self.weeks[0].start


def newest_scan_week(conn: Connection, period_of: Callable[[datetime], Week] = week_of) -> Week:
    """The ISO week (or the period ``period_of`` gives) of the newest stored scan (the
    report's default period)."""
    rows = store.scan_rows(conn)
    if not rows:
        raise InputError("the store holds no scans", hint="run `vulnpipe ingest SCAN...` first")
    return period_of(rows[-1]["time"])


def check_has_data(week: Week, times: list[datetime], now: datetime | None = None) -> None:
    """A report needs data: ``week`` must not end before the first stored scan (``times``,
    oldest first), nor begin after both ``now`` (default: the clock) and the newest scan.
    Otherwise there is nothing to report, and an :class:`InputError` says so."""
    if not times:
        raise InputError("the store holds no scans", hint="run `vulnpipe ingest SCAN...` first")
    first, newest = week.same_kind(times[0]), week.same_kind(times[-1])
    unit = week.unit
    if week.cutoff < times[0]:
        raise InputError(f"no data for {week.label}: the first stored scan is in {first.label}",
                         hint=f"report on a {unit} from {first.label} on")
    today = week.same_kind(max(now or datetime.now(timezone.utc), times[-1]))
    if week.start > today.cutoff:
        raise InputError(f"no data for {week.label}: that {unit} has not begun (this is "
                         f"{today.label}; the newest stored scan is in {newest.label})",
                         hint=f"report on a {unit} up to {today.label}")


def load_history(conn: Connection, profile: "Profile", week: Week, *, weeks: int = 12,
                 inventory: "Inventory | None" = None,
                 settings: TicketSettings = TicketSettings(),
                 now: datetime | None = None) -> History:
    """Scans and per-week tickets for a report on ``week`` with a ``weeks``-long trend.

    A week that ends before the first stored scan, or begins after ``now`` (default: the
    clock), has no data: an :class:`InputError` says so (:func:`check_has_data`). The trend
    starts no earlier than the week of the first stored scan; after that, a week without
    scans is a gap. Without ``inventory`` the one stored by the last ticket build is used (as
    ``vulnpipe tickets`` does). The stored ticket state is brought up to date first; each
    week's tickets are then read from it as of the week's cut-off (a checkpoint and at most
    a week of steps), never replayed from the start.
    """
    span = window(week, weeks)
    times = [r["time"] for r in store.scan_rows(conn)]
    check_has_data(week, times, now)
    matching, _changes = update_tickets(conn, profile, inventory, settings)
    known_times = [t for t in times if t <= week.cutoff]
    if known_times:     # no trend weeks before the first stored scan: there was no history yet
        span = [w for w in span if w.cutoff >= known_times[0] or w == week]
    known = tuple(load_scans(conn, profile, span[0].start, week.cutoff))
    builds: dict[str, BuiltTickets] = {}
    reader = TicketReader(conn, profile, matching, settings)
    for w in span:
        if w == week or any(w.contains(s.time) for s in known):
            built = reader.at(w.cutoff, logs="events")
            built.verified = store.checked_in(conn, profile.name, w.start, w.cutoff, w.cutoff,
                                              (PRESENT, ABSENT_COVERED))
            builds[w.label] = built
    period = [s.scan_id for s in known if span[0].start <= s.time <= week.cutoff]
    latest: dict[str, tuple] = {}
    identities: set[str] = set()
    if matching.inventory is not None:     # (scans in time order: the last row wins)
        for row in store.period_hosts(conn, period):
            latest[str(row[2])] = row
            identities.add(row[3])
    return History(profile=profile.name, week=week, weeks=tuple(span), scans=known,
                   builds=builds, period_latest=latest, period_identities=frozenset(identities),
                   matches=matching.by_identity,
                   wording=Wording.of(profile),
                   hosts=host_facts(conn, matching, [w for w in span if w.label in builds]))


def host_facts(conn: Connection, matching: Matching, weeks: list[Week]) -> dict[str, HostFacts]:
    """Per week of ``weeks`` (oldest first): every host its scans held, with whether one of
    them logged in, and the inventory assets no scan held in the 30 days up to its cut-off.
    Reads the host rows of the scans from 30 days before the first week to the last cut-off
    (what the weeks cover, whatever the length of the history)."""
    if not weeks:
        return {}
    start, end = weeks[0].start - UNSCANNED_WINDOW, weeks[-1].cutoff
    times = {r["id"]: r["time"] for r in store.scan_rows(conn) if start <= r["time"] <= end}
    scanned: dict[str, dict[str, bool]] = {w.label: {} for w in weeks}
    week_of_scan = {sid: next((w.label for w in weeks if w.contains(t)), None)
                    for sid, t in times.items()}
    seen: dict[str, list[datetime]] = {}
    for scan_id, identity, address, credentialed in store.scanned_hosts(conn, list(times)):
        m = matching.by_identity.get(identity) or {}
        if matching.inventory is not None:
            ids = {str(m["asset_id"])} if m.get("asset_id") is not None else set()
            ids.update(c for c in str(m.get("match_candidates") or "").split(";") if c)
            for asset_id in ids:
                seen.setdefault(asset_id, []).append(times[scan_id])
        label = week_of_scan[scan_id]
        if label is not None:
            hosts = scanned[label]
            key = matching.asset_key(identity, address)
            hosts[key] = hosts.get(key, False) or bool(credentialed)
    assets: list[str] = []
    if matching.inventory is not None:
        assets = sorted({str(a) for a in matching.inventory.assets["asset_id"].tolist()})
    out = {}
    for w in weeks:
        unseen = None
        if matching.inventory is not None:
            since = w.cutoff - UNSCANNED_WINDOW
            unseen = frozenset(f"asset:{a}" for a in assets
                               if not any(since < t <= w.cutoff for t in seen.get(a, ())))
        out[w.label] = HostFacts(scanned[w.label], unseen)
    return out
