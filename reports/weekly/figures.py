"""The weekly figures: exact definitions, computed from tickets as of a week's cut-off.

Every figure counts per-host tickets of one profile (one ticket = one host). For a week
``W`` with cut-off ``C`` (the end of the week, or an earlier ``--as-of``), and tickets built
as of ``C``:

* ``open_tickets``: state ``open`` or ``resurfaced`` at ``C``.
* ``exposed_hosts``: state ``open``, ``resurfaced`` or ``risk_accepted`` at ``C`` (the
  exposure is still there, accepted or not).
* ``new``: the ticket's ``opened`` event (first scan that reported it) falls in ``W``.
* ``fixed_verified``: a ``fixed`` event in ``W`` (a scan that ran in ``W`` and could see the
  findings no longer reported them), counted once per ticket.
* ``resurfaced``: a ``resurfaced`` event in ``W`` (reported again after a verified fix).
* ``overdue``: open at ``C`` with a due date before ``C``.
* ``risk_accepted``: state ``risk_accepted`` at ``C``.
* ``expiring_30d``: of those, acceptances that end within 30 days after ``C``.
* ``not_verifiable``: open at ``C`` and no scan in ``W`` could check the host: no check of
  the ticket in ``W`` came back ``present`` or ``fixed`` (the host was not scanned, or only
  by scans whose policy could not see its findings).
* ``sla_compliance_pct``: ``100 × met / judged``, one decimal, over the tickets the SLA
  applies to this week: those open at ``C`` (met when not overdue) and those fixed in ``W``
  and still fixed at ``C`` (met when the fix came on or before the due date). Risk-accepted
  and false-positive tickets are not judged. ``None`` when nothing is judged.

The remediation metrics (docs/weekly-report.md, "Remediation metrics"):

* ``mttr_days`` (time to verified fix): over the tickets with a ``fixed`` event in ``W``
  (the ``fixed_verified`` tickets; the last such event when there are several), the days
  from the ticket's first report, or its last resurfacing before that fix, to the fix:
  ``median``, ``mean``, ``p90`` (nearest rank: the smallest value at least 90% of the values
  do not exceed), one decimal, and ``n``. ``None`` values when ``n`` is 0.
* ``overdue_by_days``: the ``overdue`` tickets by days past due at ``C`` (part days count as
  a day: due 11-02 00:00 is 1 day past due all of 11-02): 1–30, 31–60, 61–90, over 90;
  ``max_days_overdue`` the largest (0 when nothing is overdue).
* ``coverage_pct``: ``100 × (open − not_verifiable) / open``: the share of the open tickets
  a covering scan checked in ``W``. ``None`` when nothing is open.
* ``credentialed_pct``: of the hosts (one per ticket asset identity) any scan in ``W`` held,
  the share some scan in ``W`` logged in to (``credentialed`` true). ``None`` when no host
  was scanned.
* ``unscanned_30d``: inventory assets no scan held in the 30 days up to ``C`` (an asset that
  was a candidate of an ambiguous match counts as seen). ``None`` without an inventory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from vulnpipe.reports.hosts import host_label, host_name
from vulnpipe.reports.tickets.build import AssetInfo, BuiltTickets
from vulnpipe.reports.tickets.model import ABSENT_COVERED, FIXED, OPEN_STATES, PRESENT, RISK_ACCEPTED, Ticket
from vulnpipe.reports.weekly.weeks import Week

#: The figures of one week, in the order the report and the JSON show them.
FIGURE_FIELDS = ("exposed_hosts", "open_tickets", "new", "fixed_verified", "resurfaced",
                 "overdue", "risk_accepted", "expiring_30d", "not_verifiable",
                 "sla_compliance_pct")
EXPIRY_HORIZON = timedelta(days=30)
#: How long an inventory asset may go without a scan before ``unscanned_30d`` counts it.
UNSCANNED_WINDOW = timedelta(days=30)
#: Days past due, as ``overdue_by_days`` groups them: (JSON key, label, first day, last day).
OVERDUE_BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("days_1_30", "1–30 days", 1, 30), ("days_31_60", "31–60 days", 31, 60),
    ("days_61_90", "61–90 days", 61, 90), ("days_over_90", "over 90 days", 91, None))
#: The remediation metrics, in the order the report and the JSON show them.
METRIC_FIELDS = ("mttr_days", "overdue_by_days", "max_days_overdue", "coverage_pct",
                 "credentialed_pct", "unscanned_30d")


@dataclass(frozen=True)
class Mttr:
    """Time to verified fix, in days (one decimal); ``None`` values when ``n`` is 0."""

    median: float | None = None
    mean: float | None = None
    p90: float | None = None
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "mean": self.mean, "p90": self.p90, "n": self.n}


def mttr(days: list[float]) -> Mttr:
    """:class:`Mttr` of ``days`` (median, mean, nearest-rank 90th percentile)."""
    if not days:
        return Mttr()
    values = sorted(days)
    n = len(values)
    mid = n // 2
    median = values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2
    p90 = values[math.ceil(0.9 * n) - 1]
    return Mttr(round(median, 1), round(sum(values) / n, 1), round(p90, 1), n)


@dataclass(frozen=True)
class HostFacts:
    """What the scans of one week (and the 30 days before its cut-off) say about hosts.

    ``scanned``: asset key -> whether some scan of the week logged in to it (every host a
    scan of the week held); ``unseen``: the asset keys (``asset:ID``) of inventory assets no
    scan held in the 30 days up to the cut-off (None: no inventory).
    """

    scanned: dict[str, bool] = field(default_factory=dict)
    unseen: frozenset[str] | None = None


@dataclass(frozen=True)
class Figures:
    exposed_hosts: int
    open_tickets: int
    new: int
    fixed_verified: int
    resurfaced: int
    overdue: int
    risk_accepted: int
    expiring_30d: int
    not_verifiable: int
    sla_compliance_pct: float | None
    sla_met: int
    sla_judged: int
    mttr_days: Mttr = Mttr()
    overdue_by_days: tuple[int, ...] = (0, 0, 0, 0)    # as OVERDUE_BUCKETS
    max_days_overdue: int = 0
    coverage_pct: float | None = None
    credentialed_pct: float | None = None
    hosts_scanned: int = 0
    hosts_credentialed: int = 0
    unscanned_30d: int | None = None

    def as_dict(self) -> dict:
        """The figures and the remediation metrics, as the JSON shows them."""
        return {**{k: getattr(self, k) for k in FIGURE_FIELDS}, **self.metrics_dict()}

    def metrics_dict(self) -> dict[str, Any]:
        return {"mttr_days": self.mttr_days.as_dict(),
                "overdue_by_days": dict(zip((b[0] for b in OVERDUE_BUCKETS), self.overdue_by_days)),
                "max_days_overdue": self.max_days_overdue, "coverage_pct": self.coverage_pct,
                "credentialed_pct": self.credentialed_pct,
                "hosts": {"scanned": self.hosts_scanned, "credentialed": self.hosts_credentialed},
                "unscanned_30d": self.unscanned_30d}


def empty_metrics() -> dict[str, Any]:
    """:meth:`Figures.metrics_dict` of a week without data (a gap): every value null."""
    return {"mttr_days": Mttr().as_dict() | {"n": None},
            "overdue_by_days": dict.fromkeys(b[0] for b in OVERDUE_BUCKETS),
            "max_days_overdue": None, "coverage_pct": None, "credentialed_pct": None,
            "hosts": {"scanned": None, "credentialed": None}, "unscanned_30d": None}


@dataclass(frozen=True)
class TicketRow:
    """One ticket as the report's tables show it (text fields come from scans/inventory)."""

    key: str
    host: str
    address: str
    state: str
    priority: str | None
    sla_days: int | None
    due: date | None
    first_seen: datetime
    last_seen: datetime
    days_open: int              # whole days from first seen to the cut-off (fixed: to the fix)
    overdue: bool
    new: bool                   # opened this week
    fixed_this_week: bool       # fixed event this week
    resurfaced_this_week: bool
    verified: bool              # some scan this week checked it (present or fixed)
    owner: str | None
    owner_email: str | None
    team: str | None
    business_unit: str | None
    asset_id: str | None
    match_method: str
    criticality: str | None
    accepted_through: date | None    # last day an acceptance in force holds
    acceptance_ends: datetime | None
    approver: str | None
    acceptance_reason: str | None
    fixed_at: datetime | None
    name: str | None = None     # FQDN, else NetBIOS, else report name (None: address only)
    unit: str = "week"          # the report's period: "not verified this week"

    @property
    def label(self) -> str:
        """The host as people read it: ``name (address)``, or the address alone."""
        return host_label(self.name, None, None, self.address)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def status(self) -> str:
        """State plus the flags a reader acts on, e.g. ``resurfaced, overdue``."""
        flags = [self.state.replace("_", " ")]
        if self.is_open and self.overdue:
            flags.append("overdue")
        if self.is_open and not self.verified:
            flags.append(f"not verified this {self.unit}")
        return ", ".join(flags)


def _event_in(t: Ticket, week: Week, kind: str) -> datetime | None:
    """The last ``kind`` event of ``t`` inside ``week`` (None if there is none)."""
    found = None
    for e in t.events:
        if e.kind == kind and week.contains(e.at):
            found = e.at
    return found


def _acceptance_end(t: Ticket) -> datetime | None:
    """When the acceptance in force stops holding (exclusive): the day after its ``until``,
    which is the last day it holds."""
    until = (t.acceptance or {}).get("until")
    if not until:
        return None
    return datetime.combine(date.fromisoformat(until) + timedelta(days=1), datetime.min.time(),
                            tzinfo=timezone.utc)


def ticket_rows(built: BuiltTickets, week: Week, keys: set[str] | None = None) -> list[TicketRow]:
    """Every ticket of ``built`` (or only ``keys``) as a :class:`TicketRow`, sorted by key."""
    rows = []
    for key in sorted(built.tickets):
        if keys is not None and key not in keys:
            continue
        t = built.tickets[key]
        a = built.asset_info.get(t.asset_key, AssetInfo())
        prio, sla, due = built.priority.get(key, (None, None, None))
        is_open = t.state in OPEN_STATES
        ends = _acceptance_end(t) if t.state == RISK_ACCEPTED else None
        fixed_events = [e.at for e in t.events if e.kind == "fixed"]
        fixed_at = fixed_events[-1] if t.state == FIXED and fixed_events else None
        rows.append(TicketRow(
            key=key, host=t.host_name, address=t.address, state=t.state, priority=prio,
            sla_days=sla, due=due.date() if due is not None else None,
            first_seen=t.first_seen, last_seen=t.last_seen,
            days_open=max(0, ((fixed_at or week.cutoff) - t.first_seen).days),
            overdue=bool(is_open and due is not None and due < week.cutoff),
            new=_event_in(t, week, "opened") is not None,
            fixed_this_week=_event_in(t, week, "fixed") is not None,
            resurfaced_this_week=_event_in(t, week, "resurfaced") is not None,
            verified=(key in built.verified if built.verified is not None else
                      any(c.result in (PRESENT, ABSENT_COVERED) and week.contains(c.at)
                          for c in t.checks)),
            owner=a.owner, owner_email=a.owner_email, team=a.team,
            business_unit=a.business_unit, asset_id=a.asset_id, match_method=a.match_method,
            criticality=a.criticality,
            accepted_through=(ends - timedelta(days=1)).date() if ends else None,
            acceptance_ends=ends,
            approver=(t.acceptance or {}).get("approver") if t.state == RISK_ACCEPTED else None,
            acceptance_reason=(t.acceptance or {}).get("reason") if t.state == RISK_ACCEPTED else None,
            fixed_at=fixed_at,
            name=host_name(t.fqdn, t.netbios, t.host_name, t.address), unit=week.unit))
    return rows


def _fix_in_time(built: BuiltTickets, row: TicketRow, week: Week) -> bool:
    due = built.priority.get(row.key, (None, None, None))[2]
    fixed_at = _event_in(built.tickets[row.key], week, "fixed")
    return due is None or fixed_at is None or fixed_at <= due


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _days_to_fix(t: Ticket, week: Week) -> float | None:
    """Days from the ticket's first report (or its last resurfacing before the fix) to its
    last verified fix in ``week`` (None: not fixed in ``week``)."""
    start = fixed = None
    for e in t.events:
        if e.at > week.cutoff:
            continue
        if e.kind in ("opened", "resurfaced"):
            start = e.at
        elif e.kind == "fixed" and week.contains(e.at) and start is not None:
            fixed = (start, e.at)
    if fixed is None:
        return None
    return (fixed[1] - fixed[0]).total_seconds() / 86400


def days_overdue(due: datetime, cutoff: datetime) -> int:
    """Whole days past ``due`` at ``cutoff``, a part day counting as one (0: not overdue)."""
    return max(0, math.ceil((cutoff - due).total_seconds() / 86400))


def _metrics(built: BuiltTickets, week: Week, rows: list[TicketRow], hosts: HostFacts | None,
             member: Callable[[str], bool] | None) -> dict[str, Any]:
    open_rows = [r for r in rows if r.is_open]
    late = [days_overdue(built.priority[r.key][2], week.cutoff)  # type: ignore[arg-type]
            for r in open_rows if r.overdue]
    buckets = tuple(sum(1 for d in late if d >= lo and (hi is None or d <= hi))
                    for _k, _label, lo, hi in OVERDUE_BUCKETS)
    fixes = [d for r in rows if r.fixed_this_week
             for d in [_days_to_fix(built.tickets[r.key], week)] if d is not None]
    scanned = {k: v for k, v in (hosts.scanned if hosts else {}).items()
               if member is None or member(k)}
    unseen = None
    if hosts is not None and hosts.unseen is not None:
        unseen = sum(1 for k in hosts.unseen if member is None or member(k))
    verified = sum(1 for r in open_rows if r.verified)
    credentialed = sum(scanned.values())
    return dict(mttr_days=mttr(fixes), overdue_by_days=buckets, max_days_overdue=max(late, default=0),
                coverage_pct=_share(verified, len(open_rows)),
                credentialed_pct=_share(credentialed, len(scanned)), hosts_scanned=len(scanned),
                hosts_credentialed=credentialed, unscanned_30d=unseen)


def figures(built: BuiltTickets, week: Week, keys: set[str] | None = None,
            hosts: HostFacts | None = None, member: Callable[[str], bool] | None = None,
            all_rows: Sequence[TicketRow] | None = None) -> Figures:
    """The week's figures (see the module docstring for each definition): over the tickets
    ``keys`` (None: all), and the hosts and assets whose asset key ``member`` accepts.
    ``all_rows``: :func:`ticket_rows` of every ticket of ``built`` for ``week``, when the
    caller has them (several figures of one week share them)."""
    if all_rows is None:
        rows = ticket_rows(built, week, keys)
    else:
        rows = [r for r in all_rows if keys is None or r.key in keys]
    open_rows = [r for r in rows if r.is_open]
    accepted = [r for r in rows if r.state == RISK_ACCEPTED]
    horizon = week.cutoff + EXPIRY_HORIZON
    fixed_now = [r for r in rows if r.fixed_this_week and r.state == FIXED]
    met = sum(1 for r in open_rows if not r.overdue)
    met += sum(1 for r in fixed_now if _fix_in_time(built, r, week))
    judged = len(open_rows) + len(fixed_now)
    return Figures(
        exposed_hosts=len(open_rows) + len(accepted),
        open_tickets=len(open_rows),
        new=sum(r.new for r in rows),
        fixed_verified=sum(r.fixed_this_week for r in rows),
        resurfaced=sum(r.resurfaced_this_week for r in rows),
        overdue=sum(r.overdue for r in open_rows),
        risk_accepted=len(accepted),
        expiring_30d=sum(1 for r in accepted
                         if r.acceptance_ends is not None and r.acceptance_ends <= horizon),
        not_verifiable=sum(1 for r in open_rows if not r.verified),
        sla_compliance_pct=round(100.0 * met / judged, 1) if judged else None,
        sla_met=met, sla_judged=judged, **_metrics(built, week, rows, hosts, member))


#: One-line meaning of each figure (shown beside it in the HTML, the workbook and the docs).
FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "exposed_hosts": ("Exposed hosts", "open, resurfaced or risk-accepted at the end of the week"),
    "open_tickets": ("Open tickets", "open or resurfaced at the end of the week"),
    "new": ("New", "first reported by a scan this week"),
    "fixed_verified": ("Fixed (verified)", "proved fixed by a covering scan that ran this week"),
    "resurfaced": ("Resurfaced", "reported again this week after a verified fix"),
    "overdue": ("Overdue", "open past the SLA due date at the end of the week"),
    "risk_accepted": ("Risk accepted", "an acceptance in force at the end of the week"),
    "expiring_30d": ("Acceptances expiring", "risk acceptances ending within 30 days"),
    "not_verifiable": ("Not verifiable", "open, and no scan this week could check the host"),
    "sla_compliance_pct": ("SLA compliance", "open tickets within SLA plus this week's fixes made "
                                             "in time, as a share of both"),
}

#: One-line meaning of each remediation metric.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "mttr_days": ("Time to verified fix (days)",
                  "first report, or last resurfacing, to the covering scan that proved the fix, "
                  "over this week's verified fixes: median, mean, 90th percentile, count"),
    "overdue_by_days": ("Overdue by days past due",
                        "open tickets past their due date: 1–30, 31–60, 61–90, over 90 days"),
    "max_days_overdue": ("Most days overdue", "the open ticket longest past its due date"),
    "coverage_pct": ("Coverage", "open tickets a covering scan checked this week, as a share "
                                 "of the open tickets"),
    "credentialed_pct": ("Credentialed", "hosts scanned this week that a scan logged in to, as "
                                         "a share of the hosts scanned"),
    "unscanned_30d": ("Unscanned 30 days", "inventory assets no scan held in the 30 days up to "
                                           "the end of the week"),
}


def worded(labels: dict[str, tuple[str, str]], unit: str) -> dict[str, tuple[str, str]]:
    """``labels`` (:data:`FIGURE_LABELS`, :data:`METRIC_LABELS`) for a report on a ``unit``
    (week, month, quarter): "this week" becomes "this month"."""
    if unit == "week":
        return labels
    return {k: (name, meaning.replace("week", unit)) for k, (name, meaning) in labels.items()}
