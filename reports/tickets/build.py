"""Tickets from the history store: brought up to date, then read as of a moment.

    from vulnpipe.reports.tickets.build import TicketSettings, rebuild_tickets
    built, changes = rebuild_tickets(engine, profile, inventory=inv, settings=TicketSettings())

The state is kept current by :mod:`.history` (a read costs what the live tickets hold); the
full replay of every scan and decision from the start, :func:`reference_tickets`, gives the
same tickets and is what the tests check the stored path against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy.engine import Connection, Engine

from vulnpipe.ingest.assets.priority import DEFAULT_FALLBACK, DEFAULT_RULES, Rule
from vulnpipe.ingest.profiles import Profile
from vulnpipe.ingest.store import history as store
from vulnpipe.ingest.store.decisions import load_decisions
from vulnpipe.reports.tickets.history import (
    Change,
    Matching,
    StateReader,
    bring_up_to_date,
    prepare_matching,
    scan_facts,
)
from vulnpipe.reports.tickets.model import Ticket
from vulnpipe.reports.tickets.timeline import build_tickets

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory

__all__ = ["AssetInfo", "BuiltTickets", "Change", "TicketReader", "TicketSettings", "rebuild_tickets",
           "reference_tickets", "reference_tickets_at", "tickets_as_of", "update_tickets"]


#: An adjusted risk rating's priority and SLA days (FedRAMP's remediation time frames:
#: High 30 days, Moderate 90, Low 180).
RATING_PRIORITY: dict[str, tuple[str, int]] = {"HIGH": ("P2", 30), "MODERATE": ("P3", 90),
                                               "LOW": ("P4", 180)}


@dataclass(frozen=True)
class TicketSettings:
    rules: Sequence[Rule] = DEFAULT_RULES
    fallback: tuple[str, int] = DEFAULT_FALLBACK
    default_owner: str | None = None
    default_owner_email: str | None = None
    #: ``[priority] restart_sla_after_acceptance``: when an acceptance expires, the SLA
    #: clock starts again at its end (due = end + SLA days) instead of at the first report.
    restart_sla_after_acceptance: bool = False


@dataclass
class AssetInfo:
    asset_id: str | None = None
    match_method: str = "none"        # no inventory
    owner: str | None = None
    owner_email: str | None = None
    team: str | None = None
    business_unit: str | None = None
    environment: str | None = None
    criticality: str | None = None
    internet_facing: bool | None = None


@dataclass(frozen=True)
class HostIssue:
    """A host with no owner from the inventory: it matched no asset, or several."""

    address: str
    host: str                         # the report's host name
    match_method: str                 # unmatched | ambiguous
    candidates: str | None
    fqdn: str | None = None
    netbios: str | None = None


@dataclass
class BuiltTickets:
    """Tickets with their assets' facts, priorities and due dates."""

    profile: str
    tickets: dict[str, Ticket]
    asset_info: dict[str, AssetInfo]           # asset key -> facts
    priority: dict[str, tuple[str, int, datetime | None]] = field(default_factory=dict)
    inventory: "Inventory | None" = None        # the inventory used (given or stored)
    host_issues: tuple[HostIssue, ...] = ()     # every stored host no inventory asset owns
    #: Tickets some scan of the week being reported checked (``present`` or ``fixed``), when
    #: read from the store without their checks; None: judge from each ticket's checks.
    verified: set[str] | None = None
    label: str = ""                             # the campaign as reports name it ("L2TP")
    #: Read with ``fixed_within``: tickets fixed before this moment were left out, and how many.
    fixed_before: datetime | None = None
    fixed_left_out: int = 0


# -- assets and priorities ------------------------------------------------------------------------

def _text(value: Any) -> Any:
    """A DataFrame cell as a plain value: missing (None, NaN, pd.NA) becomes None."""
    if value is None or isinstance(value, (list, tuple)):
        return value
    try:
        import pandas as pd
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def asset_infos(identities: Sequence[dict[str, Any]], matching: Matching, keys: set[str],
                settings: TicketSettings, *, rematch: bool = False) -> dict[str, AssetInfo]:
    """Each asset key's facts, from the first identity (in the order hosts were first seen)
    that maps to it: the asset its stored match names (``matching.by_identity``, matched
    against the inventory in force), with that asset's attributes from the inventory; with
    ``rematch`` (or an identity without a stored match), matched again here. Kept in
    ``matching.cache``."""
    known: dict[str, AssetInfo] = matching.cache.setdefault(
        ("assets", settings.default_owner, settings.default_owner_email, rematch), {})
    reps: dict[str, dict[str, Any]] = {}
    wanted = {k for k in keys if k not in known}
    if wanted:
        for r in identities:
            key = matching.asset_key(r["identity"], r["address"])
            if key in wanted and key not in reps:
                reps[key] = r
    known.update(_asset_infos(reps, matching, settings, rematch))
    return {k: known[k] for k in keys if k in known}


def _asset_infos(reps: dict[str, dict[str, Any]], matching: Matching,
                 settings: TicketSettings, rematch: bool = False) -> dict[str, AssetInfo]:
    if matching.inventory is None:
        return {k: AssetInfo(owner=settings.default_owner, owner_email=settings.default_owner_email)
                for k in reps}
    if not reps:
        return {}
    import pandas as pd

    found = [matching.by_identity.get(r["identity"]) for r in reps.values()]
    stored = [m for m in found if m is not None]
    if rematch or len(stored) < len(found):
        from vulnpipe.ingest.assets.matching import match_hosts

        frame = pd.DataFrame(list(reps.values())).rename(columns={"name": "host"})
        matched = match_hosts(frame, matching.inventory, default_owner=settings.default_owner,
                              default_owner_email=settings.default_owner_email)
    else:       # the stored match's asset, its attributes as match_hosts gives them
        from vulnpipe.ingest.assets.matching import asset_attributes

        matched = asset_attributes([m["asset_id"] for m in stored], matching.inventory,
                                   default_owner=settings.default_owner,
                                   default_owner_email=settings.default_owner_email)
        matched["match_method"] = pd.array([m["match_method"] for m in stored], dtype="string")
    info = {}
    for key, rec in zip(reps, matched.to_dict("records")):
        fac = _text(rec["internet_facing"])
        info[key] = AssetInfo(
            asset_id=_text(rec["asset_id"]), match_method=_text(rec["match_method"]) or "unmatched",
            owner=_text(rec["owner"]), owner_email=_text(rec["owner_email"]),
            team=_text(rec["team"]), business_unit=_text(rec["business_unit"]),
            environment=_text(rec["environment"]), criticality=_text(rec["criticality"]),
            internet_facing=None if fac is None else bool(fac))
    return info


def priorities(tickets: dict[str, Ticket], info: dict[str, AssetInfo], settings: TicketSettings,
               rules_cache: dict | None = None) -> dict[str, tuple[str, int, datetime | None]]:
    """Per ticket: the most urgent (priority, SLA days) over its findings, and the earliest
    due date (first seen, at midnight, plus the SLA). A risk adjustment in force gives its
    rating's priority and SLA (:data:`RATING_PRIORITY`); with
    ``restart_sla_after_acceptance`` the clock of a ticket whose acceptance expired starts at
    that expiry instead of the first report. The rule table is evaluated once per
    distinct (criticality, internet-facing, role, severity), vectorised; ``rules_cache``
    keeps those answers between calls."""
    cache = rules_cache if rules_cache is not None else {}
    combos: dict[str, list[tuple]] = {}
    for t in tickets.values():
        a = info.get(t.asset_key, AssetInfo())
        combos[t.key] = [((a.criticality, a.internet_facing, tf.role or "none", tf.severity or 0),
                          tf.first_seen) for tf in t.findings.values()]
    missing = sorted({c for rows in combos.values() for c, _ in rows if c not in cache},
                     key=repr)
    if missing:
        import pandas as pd

        from vulnpipe.ingest.assets.priority import assign_priority

        frame = pd.DataFrame(missing, columns=["criticality", "internet_facing", "profile_role",
                                               "severity"])
        frame["internet_facing"] = frame["internet_facing"].astype("boolean")
        prio, sla = assign_priority(frame, settings.rules, settings.fallback)
        cache.update((c, (str(p), int(d))) for c, p, d in zip(missing, prio, sla))
    out: dict[str, tuple[str, int, datetime | None]] = {}
    for key, rows in combos.items():
        if not rows:
            continue
        t = tickets[key]
        restart = t.acceptance_ended if settings.restart_sla_after_acceptance else None
        adjusted = RATING_PRIORITY.get((t.adjustment or {}).get("rating") or "")
        if adjusted is not None:      # a risk adjustment replaces the rule table's answer
            rows = [((), first) for _c, first in rows]
            best = adjusted
        else:
            best = min(cache[c] for c, _ in rows)
        due = min((restart or first).replace(hour=0, minute=0, second=0, microsecond=0) +
                  timedelta(days=(adjusted or cache[c])[1]) for c, first in rows)
        out[key] = (best[0], best[1], due)
    return out


def host_issues(identities: Sequence[dict[str, Any]], matching: Matching) -> tuple[HostIssue, ...]:
    """Distinct addresses of stored hosts that matched no asset or several (the first host
    seen at each), by address."""
    if matching.inventory is None:
        return ()
    found: dict[str, HostIssue] = {}
    for r in identities:
        m = matching.by_identity.get(r["identity"])
        method = (m or {}).get("match_method") or "unmatched"
        if method in ("unmatched", "ambiguous") and r["address"] not in found:
            found[r["address"]] = HostIssue(r["address"], r["name"], method,
                                            (m or {}).get("match_candidates"),
                                            r["host_fqdn"], r["netbios_name"])
    return tuple(found[a] for a in sorted(found))


def _built(profile: Profile, tickets: dict[str, Ticket], matching: Matching,
           identities: Sequence[dict[str, Any]], settings: TicketSettings) -> BuiltTickets:
    """(The reference's tickets: their assets matched here, not read from the stored matches.)"""
    info = asset_infos(identities, matching, {t.asset_key for t in tickets.values()}, settings,
                       rematch=True)
    return BuiltTickets(profile=profile.name, label=profile.campaign, tickets=tickets,
                        asset_info=info, priority=priorities(tickets, info, settings),
                        inventory=matching.inventory,
                        host_issues=host_issues(identities, matching))


def _row_extra(identities_of: Any, matching: Matching, settings: TicketSettings):
    """The asset and priority columns written beside each ticket's stored state."""
    def extra(tickets: Sequence[Ticket]) -> dict[str, dict[str, Any]]:
        by_key = {t.key: t for t in tickets}
        info = asset_infos(identities_of(), matching, {t.asset_key for t in tickets}, settings)
        prio = priorities(by_key, info, settings)
        out = {}
        for t in tickets:
            a = info.get(t.asset_key, AssetInfo())
            p, s, due = prio.get(t.key, (None, None, None))
            out[t.key] = {"asset_id": a.asset_id, "match_method": a.match_method,
                          "owner": a.owner, "owner_email": a.owner_email, "team": a.team,
                          "business_unit": a.business_unit, "environment": a.environment,
                          "criticality": a.criticality, "internet_facing": a.internet_facing,
                          "priority": p, "sla_days": s, "due_date": due}
        return out
    return extra


# -- the tickets, from the stored state -----------------------------------------------------------

def update_tickets(conn: Connection, profile: Profile, inventory: "Inventory | None",
                   settings: TicketSettings) -> tuple[Matching, list[Change]]:
    """Bring the profile's stored tickets up to date (``conn`` in a transaction)."""
    store.lock_derived_state(conn)
    matching = prepare_matching(conn, inventory)
    updated = bring_up_to_date(conn, profile, inventory,
                               row_extra=_row_extra(lambda: matching.identities(conn), matching,
                                                    settings),
                               matching=matching)
    return updated.matching, updated.changes


class TicketReader:
    """Reads the profile's tickets, with assets and priorities, as of any moment from the
    stored state; what does not change between moments (host identities, asset facts,
    scans, decisions) is read once."""

    def __init__(self, conn: Connection, profile: Profile, matching: Matching,
                 settings: TicketSettings = TicketSettings()) -> None:
        self.profile = profile
        self.matching = matching
        self.settings = settings
        self.state = StateReader(conn, profile, matching)
        identities = matching.identities(conn)
        live = store.asset_keys(conn, profile.name)
        self.info = asset_infos(identities, matching, live, settings)
        self.host_issues = host_issues(identities, matching)
        self._rules: dict = {}

    def at(self, as_of: datetime | None, *, logs: str = "all",
           fixed_within: timedelta | None = None,
           may_skip_fixed_before: datetime | None = None) -> BuiltTickets:
        """The tickets at ``as_of`` (default: now); ``fixed_within``, ``may_skip_fixed_before``:
        as :meth:`StateReader.tickets_at` takes them."""
        tickets = self.state.tickets_at(as_of or datetime.now(timezone.utc), logs=logs,
                                        fixed_within=fixed_within,
                                        may_skip_fixed_before=may_skip_fixed_before)
        keys = {t.asset_key for t in tickets.values()}
        info = {k: v for k, v in self.info.items() if k in keys}
        return BuiltTickets(profile=self.profile.name, label=self.profile.campaign,
                            tickets=tickets, asset_info=info,
                            priority=priorities(tickets, info, self.settings, self._rules),
                            inventory=self.matching.inventory, host_issues=self.host_issues,
                            fixed_before=self.state.fixed_before,
                            fixed_left_out=self.state.fixed_left_out)


def tickets_as_of(conn: Connection, profile: Profile, matching: Matching,
                  settings: TicketSettings = TicketSettings(), as_of: datetime | None = None,
                  *, logs: str = "all", fixed_within: timedelta | None = None,
                  may_skip_fixed_before: datetime | None = None) -> BuiltTickets:
    """The tickets as they stood at ``as_of`` (default: now), from the stored state (see
    :meth:`TicketReader.at`)."""
    return TicketReader(conn, profile, matching, settings).at(
        as_of, logs=logs, fixed_within=fixed_within, may_skip_fixed_before=may_skip_fixed_before)



def rebuild_tickets(engine: Engine, profile: Profile, *, inventory: "Inventory | None" = None,
                    settings: TicketSettings = TicketSettings(), as_of: datetime | None = None,
                    logs: str = "all", fixed_within: timedelta | None = None
                    ) -> tuple[BuiltTickets, list[Change]]:
    """Apply every scan and decision stored since the last update to the profile's tickets
    (one transaction), and read them as of ``as_of`` (default: now; ``logs`` and
    ``fixed_within`` as for :meth:`StateReader.tickets_at`). The changes are the state
    changes this update made to the stored tickets."""
    with engine.begin() as conn:
        matching, changes = update_tickets(conn, profile, inventory, settings)
        built = tickets_as_of(conn, profile, matching, settings, as_of, logs=logs,
                              fixed_within=fixed_within)
    return built, changes


def reference_tickets(conn: Connection, profile: Profile, inventory: "Inventory | None" = None,
                      settings: TicketSettings = TicketSettings(),
                      as_of: datetime | None = None) -> BuiltTickets:
    """The tickets as a replay of every stored scan and decision from the start gives them,
    in memory (nothing stored is read but the scans, decisions and host matches)."""
    return reference_tickets_at(conn, profile, [as_of], inventory, settings)[0]


def reference_tickets_at(conn: Connection, profile: Profile, moments: Sequence[datetime | None],
                         inventory: "Inventory | None" = None,
                         settings: TicketSettings = TicketSettings()) -> list[BuiltTickets]:
    """:func:`reference_tickets` as of each of ``moments`` (None: now): the scans, decisions
    and host matches are read once, and each moment is its own replay from the start."""
    matching = prepare_matching(conn, inventory)
    identities = matching.identities(conn)
    facts = list(scan_facts(conn, profile, store.scan_rows(conn, profile.name), matching))
    decisions = load_decisions(conn)
    out = []
    for as_of in moments:
        tickets = build_tickets(profile.name, facts, decisions,
                                as_of=as_of or datetime.now(timezone.utc))
        out.append(_built(profile, tickets, matching, identities, settings))
    return out
