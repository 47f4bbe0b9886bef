"""The weekly report as data: figures, trend, tables and data quality for one week (and slice).

    history = load_history(conn, profile, parse_week("2026-W48"), weeks=12, inventory=inv)
    report = build_report(history)                       # everything
    report = build_report(history, Slice("team", "Branch IT"))   # one team's assets

Every renderer (HTML, Excel, Markdown, JSON) reads a :class:`WeeklyReport`, so they all say
the same thing. Rows are sorted; nothing depends on the clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from vulnpipe.ingest.errors import InputError
from vulnpipe.reports.hosts import host_label, host_name
from vulnpipe.reports.tickets.build import AssetInfo, BuiltTickets
from vulnpipe.reports.tickets.model import RISK_ACCEPTED, asset_key_for, priority_rank, ticket_key
from vulnpipe.reports.weekly.figures import Figures, HostFacts, TicketRow, figures, ticket_rows
from vulnpipe.reports.weekly.history import History, ScanRow, Wording
from vulnpipe.reports.weekly.weeks import Week

SLICE_FIELDS = ("team", "business_unit")
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–7 days", 0, 7), ("8–14 days", 8, 14), ("15–30 days", 15, 30),
    ("31–60 days", 31, 60), ("61–90 days", 61, 90), ("over 90 days", 91, None))
OLDEST_COUNT = 10


def _norm(text: object) -> str:
    return " ".join(str(text).split()).casefold() if text is not None else ""


@dataclass(frozen=True)
class Slice:
    """Which assets a report covers: all (``by`` None), or one team / business unit.

    ``value`` None selects the assets with no team (or business unit), including hosts that
    matched no inventory asset. Values compare case-insensitively, spaces collapsed.
    """

    by: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.by is not None and self.by not in SLICE_FIELDS:
            raise InputError(f"cannot split by {self.by!r}", hint="use team or business_unit")

    @property
    def label(self) -> str:
        if self.by is None:
            return "all assets"
        what = self.by.replace("_", " ")
        return f"{what} {self.value}" if self.value is not None else f"no {what}"

    def matches(self, value: object) -> bool:
        if self.by is None:
            return True
        if self.value is None:
            return value is None or _norm(value) == ""
        return _norm(value) == _norm(self.value)

    def keys(self, built: BuiltTickets) -> set[str] | None:
        """The tickets of ``built`` in this slice (None: every ticket)."""
        if self.by is None:
            return None
        return {k for k, t in built.tickets.items()
                if self.matches(getattr(built.asset_info.get(t.asset_key, AssetInfo()), self.by))}


ALL = Slice()


@dataclass(frozen=True)
class MetricGroup:
    """The figures of one priority (``by`` "priority") or team (``by`` "team"; ``value``
    None: no team) of the report's assets."""

    by: str
    value: str | None
    figures: Figures


@dataclass(frozen=True)
class TrendPoint:
    week: Week
    scans: int
    figures: Figures | None        # None: no scan ran that week (a gap, not zeros)
    groups: tuple[MetricGroup, ...] = ()


@dataclass(frozen=True)
class GroupRow:
    """One line of a breakdown: ``labels`` (e.g. team, owner) and counts this week."""

    labels: tuple[str, ...]
    open: int
    overdue: int
    new: int
    fixed: int
    resurfaced: int
    risk_accepted: int
    not_verifiable: int
    oldest_days: int | None


@dataclass(frozen=True)
class HostIssue:
    address: str
    host: str
    scan_file: str                 # the latest scan in the period that held the host
    detail: str
    ticket: str | None             # the host's ticket key, when it has one
    name: str | None = None        # FQDN, else NetBIOS, else report name (None: address only)

    @property
    def label(self) -> str:
        return host_label(self.name, None, None, self.address)


@dataclass(frozen=True)
class AssetGap:
    asset_id: str
    name: str | None
    owner: str | None
    team: str | None
    business_unit: str | None


@dataclass(frozen=True)
class DataQuality:
    has_inventory: bool
    unowned_hosts: tuple[HostIssue, ...]
    ambiguous_hosts: tuple[HostIssue, ...]
    unscanned_assets: tuple[AssetGap, ...]
    blind_scans: tuple[ScanRow, ...]


@dataclass(frozen=True)
class WeeklyReport:
    profile: str
    wording: Wording                         # how the profile names its campaign
    week: Week
    weeks: tuple[Week, ...]
    slice: Slice
    figures: Figures
    scans: tuple[ScanRow, ...]               # scans that ran this week
    period_scans: tuple[ScanRow, ...]        # scans that ran in the trend window
    trend: tuple[TrendPoint, ...]            # oldest first, ending with this week
    aging: tuple[tuple[str, int], ...]
    by_business_unit: tuple[GroupRow, ...]
    by_team_owner: tuple[GroupRow, ...]
    by_priority: tuple[GroupRow, ...]
    oldest: tuple[TicketRow, ...]
    open_tickets: tuple[TicketRow, ...]      # per host, by priority then due date
    new_tickets: tuple[TicketRow, ...]
    fixed_tickets: tuple[TicketRow, ...]
    resurfaced_tickets: tuple[TicketRow, ...]
    acceptances: tuple[TicketRow, ...]
    quality: DataQuality
    groups: tuple[MetricGroup, ...] = ()     # the week's figures per priority, then per team

    @property
    def title(self) -> str:
        base = f"{self.wording.heading}: {self.week.adjective} report {self.week.label}"
        return base if self.slice.by is None else f"{base} ({self.slice.label})"

    @property
    def overdue_tickets(self) -> tuple[TicketRow, ...]:
        return tuple(sorted((r for r in self.open_tickets if r.overdue),
                            key=lambda r: (r.due, r.key)))


# -- tables ------------------------------------------------------------------------------------

def _groups(rows: Sequence[TicketRow], label_of, order=None) -> tuple[GroupRow, ...]:
    grouped: dict[tuple[str, ...], list[TicketRow]] = {}
    for r in rows:
        grouped.setdefault(label_of(r), []).append(r)
    out = []
    for labels, members in grouped.items():
        open_rows = [r for r in members if r.is_open]
        g = GroupRow(labels=labels, open=len(open_rows), overdue=sum(r.overdue for r in open_rows),
                     new=sum(r.new for r in members), fixed=sum(r.fixed_this_week for r in members),
                     resurfaced=sum(r.resurfaced_this_week for r in members),
                     risk_accepted=sum(r.state == RISK_ACCEPTED for r in members),
                     not_verifiable=sum(not r.verified for r in open_rows),
                     oldest_days=max((r.days_open for r in open_rows), default=None))
        if g.open or g.new or g.fixed or g.resurfaced or g.risk_accepted:
            out.append(g)
    if order is not None:
        return tuple(sorted(out, key=order))
    return tuple(sorted(out, key=lambda g: (-g.open, -g.overdue, [_norm(x) for x in g.labels],
                                            g.labels)))


def _priority_rank(g: GroupRow) -> tuple:
    p = g.labels[0]
    return (priority_rank(p), p)


def _aging(open_rows: Sequence[TicketRow]) -> tuple[tuple[str, int], ...]:
    return tuple((label, sum(1 for r in open_rows
                             if r.days_open >= lo and (hi is None or r.days_open <= hi)))
                 for label, lo, hi in AGING_BUCKETS)


def _open_order(r: TicketRow) -> tuple:
    return (priority_rank(r.priority), r.due is None, r.due, _norm(r.label), r.key)


def _oldest(open_rows: Sequence[TicketRow]) -> tuple[TicketRow, ...]:
    """The :data:`OLDEST_COUNT` longest-open tickets (a tie goes to the higher priority),
    listed by priority, then age."""
    chosen = sorted(open_rows, key=lambda r: (r.first_seen, priority_rank(r.priority), r.key))
    return tuple(sorted(chosen[:OLDEST_COUNT],
                        key=lambda r: (priority_rank(r.priority), r.first_seen, r.key)))


# -- data quality -------------------------------------------------------------------------------

def _period(history: History) -> list[ScanRow]:
    return [s for s in history.scans if history.period_start <= s.time <= history.week.cutoff]


def _quality(history: History, sl: Slice) -> DataQuality:
    built = history.current
    period = _period(history)
    blind = tuple(s for s in period if s.detectable is not True)
    if built.inventory is None:
        return DataQuality(False, (), (), (), blind)
    names = {s.scan_id: s.file_name for s in period}
    matches = history.matches or {}
    latest = history.period_latest or {}
    attrs = _asset_attributes(history)
    unowned: list[HostIssue] = []
    ambiguous: list[HostIssue] = []
    for addr in sorted(latest):
        scan_id, name, _address, identity, fqdn, netbios = latest[addr]
        rec = {"scan_id": scan_id, "name": name, "host_fqdn": fqdn, "netbios_name": netbios,
               **matches.get(identity, {})}
        method = _text(rec.get("match_method")) or "unmatched"
        if method not in ("unmatched", "ambiguous") and not _truthy(rec.get("unowned")):
            continue
        asset_id = _text(rec.get("asset_id"))
        if not sl.matches(attrs.get(asset_id or "", {}).get(sl.by) if sl.by else None):
            continue
        key = ticket_key(built.profile, asset_key_for(asset_id, addr))
        issue = HostIssue(address=addr, host=str(rec["name"]), scan_file=names[rec["scan_id"]],
                          ticket=key if key in built.tickets else None,
                          name=host_name(fqdn, netbios, name, addr),
                          detail=(f"matches several assets: {_text(rec.get('match_candidates'))}"
                                  if method == "ambiguous" else
                                  "in no inventory row" if method == "unmatched" else
                                  f"asset {asset_id} has no owner"))
        (ambiguous if method == "ambiguous" else unowned).append(issue)
    scanned: set[str] = set()
    for identity in history.period_identities:
        m = matches.get(identity, {})
        if m.get("asset_id") is not None:
            scanned.add(str(m["asset_id"]))
        scanned.update(c for c in str(m.get("match_candidates") or "").split(";") if c)
    gaps = []
    for asset_id, rec in sorted(attrs.items()):
        if asset_id in scanned or (sl.by and not sl.matches(rec.get(sl.by))):
            continue
        gaps.append(AssetGap(asset_id=asset_id, name=rec.get("name") or rec.get("fqdn"),
                             owner=rec.get("owner"), team=rec.get("team"),
                             business_unit=rec.get("business_unit")))
    return DataQuality(True, tuple(unowned), tuple(ambiguous), tuple(gaps), blind)


def _asset_attributes(history: History) -> dict[str, dict]:
    """The inventory's assets by id, as text (missing values None): read once per history
    (every slice and table of a report asks). Callers must not change what it returns."""
    cached = history.cache.get("asset_attributes")
    if cached is not None:
        return cached
    built = history.current
    out: dict[str, dict] = {}
    if built.inventory is not None:
        for rec in built.inventory.assets.to_dict("records"):
            out[str(rec["asset_id"])] = {k: _text(rec.get(k)) for k in
                                         ("name", "fqdn", "owner", "team", "business_unit")}
    history.cache["asset_attributes"] = out
    return out


def _text(value) -> str | None:
    """A DataFrame cell as text, missing values (None, NaN, pd.NA) as None."""
    if value is None:
        return None
    try:
        import pandas as pd
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _truthy(value) -> bool:
    return _text(value) is not None and bool(value)


# -- the report -------------------------------------------------------------------------------

Member = Callable[[str], bool]


def _attribute(built: BuiltTickets, attrs: dict[str, dict], by: str) -> Callable[[str], object]:
    """An asset key's ``by`` value (team, business unit): from its ticket's asset facts, else
    the inventory asset it names, else none."""
    def value(asset_key: str) -> object:
        info = built.asset_info.get(asset_key)
        if info is not None:
            return getattr(info, by)
        if asset_key.startswith("asset:"):
            return attrs.get(asset_key[len("asset:"):], {}).get(by)
        return None
    return value


def _member(built: BuiltTickets, attrs: dict[str, dict], sl: Slice) -> Member | None:
    """Whether a host or asset (by asset key) is in ``sl`` (None: every one)."""
    if sl.by is None:
        return None
    value = _attribute(built, attrs, sl.by)
    return lambda asset_key: sl.matches(value(asset_key))


Label = Callable[[str], object]


def _split_hosts(hosts: HostFacts | None, member: Member | None, label_of: Label
                 ) -> Callable[[object], HostFacts | None]:
    """``hosts`` within ``member``, split by ``label_of(asset key)`` in one pass: gives the
    part of one label (what ``figures(hosts=..., member=...)`` would count for the members
    with that label)."""
    if hosts is None:
        return lambda label: None
    scanned: dict[object, dict[str, bool]] = {}
    unseen: dict[object, set[str]] = {}
    for k, v in hosts.scanned.items():
        if member is None or member(k):
            scanned.setdefault(label_of(k), {})[k] = v
    for k in hosts.unseen or ():
        if member is None or member(k):
            unseen.setdefault(label_of(k), set()).add(k)
    return lambda label: HostFacts(scanned.get(label, {}), None if hosts.unseen is None
                                   else frozenset(unseen.get(label, ())))


def _groups_of(built: BuiltTickets, week: Week, hosts: HostFacts | None, sl: Slice,
               teams: Sequence[Slice], attrs: dict[str, dict],
               rows: Sequence[TicketRow] | None = None) -> tuple[MetricGroup, ...]:
    """The week's figures per priority (the priorities of the slice's tickets) and per team
    (``teams``), within ``sl``; a team with nothing to count is left out. ``rows``: the
    week's :func:`ticket_rows` of every ticket, when the caller has them.

    Tickets and hosts are sorted into groups once (by priority, and by team as
    :meth:`Slice.matches` compares teams), not asked about once per group."""
    keys = sl.keys(built)
    scope = set(built.tickets) if keys is None else keys
    member = _member(built, attrs, sl)
    rows = ticket_rows(built, week) if rows is None else rows
    out = []
    prio_of = {k: built.priority.get(k, (None, None, None))[0] for k in scope}
    by_priority = _split_hosts(hosts, member, lambda asset_key: built.priority.get(
        ticket_key(built.profile, asset_key), (None,))[0])
    for p in sorted({p for p in prio_of.values() if p}, key=lambda p: (priority_rank(p), p)):
        out.append(MetricGroup("priority", p, figures(
            built, week, {k for k, v in prio_of.items() if v == p}, by_priority(p), None, rows)))
    team_of = _attribute(built, attrs, "team")
    by_team = _split_hosts(hosts, member, lambda asset_key: _norm(team_of(asset_key)))
    team_keys: dict[str, set[str]] = {}
    for k, t in built.tickets.items():
        team_keys.setdefault(_norm(built.asset_info.get(t.asset_key, AssetInfo()).team), set()).add(k)
    for team in teams:
        label = _norm(team.value)
        in_team = scope & team_keys.get(label, set())
        f = figures(built, week, in_team, by_team(label), None, rows)
        if in_team or f.hosts_scanned or f.unscanned_30d:
            out.append(MetricGroup("team", team.value, f))
    return tuple(out)


def build_report(history: History, sl: Slice = ALL) -> WeeklyReport:
    """The report on ``history``'s week, narrowed to ``sl``: built once per history and
    slice (``--split-by team`` and the e-mails per team share each team's)."""
    key = f"report:{sl.by!r}:{sl.value!r}"
    cached = history.cache.get(key)
    if cached is None:
        cached = history.cache[key] = _build_report(history, sl)
    return cached


def _build_report(history: History, sl: Slice) -> WeeklyReport:
    week = history.week
    built = history.current
    every_row = ticket_rows(built, week)
    keys = sl.keys(built)
    rows = every_row if keys is None else [r for r in every_row if r.key in keys]
    open_rows = sorted((r for r in rows if r.is_open), key=_open_order)
    attrs = _asset_attributes(history)
    teams = [sl] if sl.by == "team" else slices(history, "team")
    trend = []
    for w in history.weeks:
        count = len(history.scans_in(w))
        b = history.builds.get(w.label)
        if count and b:
            hosts = history.host_facts(w)
            week_rows = every_row if b is built and w == week else ticket_rows(b, w)
            member = _member(b, attrs, sl)
            trend.append(TrendPoint(w, count, figures(b, w, sl.keys(b), hosts, member, week_rows),
                                    _groups_of(b, w, hosts, sl, teams, attrs, week_rows)))
        else:
            trend.append(TrendPoint(w, count, None))
    none = "(none)"
    hosts = history.host_facts(week)
    last = trend[-1] if trend and trend[-1].week == week else None
    if last is not None and last.figures is not None:     # the trend's last point is this week
        week_figures, week_groups = last.figures, last.groups
    else:
        week_figures = figures(built, week, keys, hosts, _member(built, attrs, sl), every_row)
        week_groups = _groups_of(built, week, hosts, sl, teams, attrs, every_row)
    return WeeklyReport(
        profile=history.profile, wording=history.wording, week=week, weeks=history.weeks,
        slice=sl, figures=week_figures, groups=week_groups,
        scans=tuple(history.scans_in(week)), trend=tuple(trend),
        period_scans=tuple(_period(history)),
        aging=_aging(open_rows),
        by_business_unit=_groups(rows, lambda r: (r.business_unit or none,)),
        by_team_owner=_groups(rows, lambda r: (r.team or none, r.owner or none)),
        by_priority=_groups(rows, lambda r: (r.priority or none,), order=_priority_rank),
        oldest=_oldest(open_rows),
        open_tickets=tuple(open_rows),
        new_tickets=tuple(sorted((r for r in rows if r.new), key=_open_order)),
        fixed_tickets=tuple(sorted((r for r in rows if r.fixed_this_week), key=_open_order)),
        resurfaced_tickets=tuple(sorted((r for r in rows if r.resurfaced_this_week), key=_open_order)),
        acceptances=tuple(sorted((r for r in rows if r.state == RISK_ACCEPTED),
                                 key=lambda r: (r.acceptance_ends is None, r.acceptance_ends, r.key))),
        quality=_quality(history, sl))


#: The remediation metrics as the page, the workbook and the Markdown tabulate them.
METRIC_COLUMNS = ("Time to verified fix: median (days)", "Mean (days)", "90th percentile (days)",
                  "Verified fixes", "Overdue 1–30 days", "Overdue 31–60 days",
                  "Overdue 61–90 days", "Overdue over 90 days", "Most days overdue",
                  "Coverage", "Credentialed", "Unscanned 30 days")
PERCENT_COLUMNS = frozenset({"Coverage", "Credentialed"})


def metric_values(f: Figures) -> list[float | int | None]:
    """One line of :data:`METRIC_COLUMNS`."""
    m = f.mttr_days
    return [m.median, m.mean, m.p90, m.n, *f.overdue_by_days, f.max_days_overdue,
            f.coverage_pct, f.credentialed_pct, f.unscanned_30d]


def metric_change(r: "WeeklyReport") -> tuple[str, list[float | int | None]] | None:
    """A month's or quarter's metrics minus the previous period's, for the report's assets
    (``Change vs 2026-10``, a value None where either is none); None for a week (its trend
    shows the weeks before), or when there is no previous period with scans."""
    previous = r.trend[-2] if len(r.trend) > 1 else None
    if r.week.unit == "week" or previous is None or previous.figures is None:
        return None
    diffs: list[float | int | None] = []
    for now, before in zip(metric_values(r.figures), metric_values(previous.figures)):
        if now is None or before is None:
            diffs.append(None)
        elif isinstance(now, float) or isinstance(before, float):
            diffs.append(round(now - before, 1))
        else:
            diffs.append(now - before)
    return f"Change vs {previous.week.label}", diffs


def metric_lines(r: "WeeklyReport") -> list[tuple[str, list[float | int | None]]]:
    """The week's metrics: the report's assets, then each priority, then each team."""
    lines = [(r.slice.label[0].upper() + r.slice.label[1:], metric_values(r.figures))]
    for g in r.groups:
        label = (g.value or "") if g.by == "priority" else f"team {g.value}" if g.value else "no team"
        lines.append((label, metric_values(g.figures)))
    return lines


def slices(history: History, by: str) -> list[Slice]:
    """One slice per distinct ``by`` value among the tickets and the inventory (spelled as
    first met, sorted), plus the "none" slice when some ticket or host has no value."""
    Slice(by)     # validates ``by``
    values: dict[str, str] = {}
    missing = False
    for built in history.builds.values():
        for t in built.tickets.values():
            v = getattr(built.asset_info.get(t.asset_key, AssetInfo()), by)
            if v is None or _norm(v) == "":
                missing = True
            else:
                values.setdefault(_norm(v), str(v))
    inv = history.current.inventory
    if inv is not None:
        for v in inv.assets[by].tolist():
            text = _text(v)
            if text is not None and _norm(text):
                values.setdefault(_norm(text), text)
    out = [Slice(by, values[k]) for k in sorted(values)]
    if missing or _quality(history, Slice(by, None)).unowned_hosts:
        out.append(Slice(by, None))
    return out


def check_slice(history: History, sl: Slice) -> None:
    """A clear error when no ticket and no inventory asset has ``sl``'s value (a typo)."""
    if sl.by is None or sl.value is None:
        return
    known = slices(history, sl.by)
    if any(s.value is not None and sl.matches(s.value) for s in known):
        return
    names = ", ".join(s.value for s in known if s.value is not None)[:300] or "none"
    raise InputError(f"no ticket or inventory asset has {sl.by.replace('_', ' ')} {sl.value!r}",
                     hint=f"known: {names}")
