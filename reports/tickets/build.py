"""Building tickets from the history store and saving them back (one transaction).

    from vulnpipe.reports.tickets.build import TicketSettings, rebuild_tickets
    changes = rebuild_tickets(engine, profile, inventory=inv, settings=TicketSettings())
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine

from vulnpipe.ingest.assets.priority import DEFAULT_FALLBACK, DEFAULT_RULES, Rule
from vulnpipe.ingest.profiles import Profile
from vulnpipe.ingest.store.decisions import load_decisions
from vulnpipe.ingest.store.read import host_from_row, load_policy, utc
from vulnpipe.ingest.store.read import stored as _naive
from vulnpipe.ingest.store.schema import (assets, decisions, findings, hosts, scans, ticket_checks,
                                 ticket_events, ticket_findings, tickets)

from vulnpipe.reports.tickets.model import Decision, FindingKey, Observation, Ticket, asset_key_for
from vulnpipe.reports.tickets.timeline import ScanFacts, build_tickets

if TYPE_CHECKING:
    import pandas as pd

    from vulnpipe.ingest.assets.inventory import Inventory

OUTPUT_EXCERPT = 2000


@dataclass(frozen=True)
class TicketSettings:
    rules: Sequence[Rule] = DEFAULT_RULES
    fallback: tuple[str, int] = DEFAULT_FALLBACK
    default_owner: str | None = None
    default_owner_email: str | None = None


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


@dataclass
class BuiltTickets:
    """Tickets with their assets' facts, priorities and due dates."""

    profile: str
    tickets: dict[str, Ticket]
    asset_info: dict[str, AssetInfo]           # asset key -> facts
    priority: dict[str, tuple[str, int, datetime | None]] = field(default_factory=dict)
    host_matches: "pd.DataFrame | None" = None  # every stored host with its match
    inventory: "Inventory | None" = None        # the inventory used (given or stored)


# -- inventory snapshot --------------------------------------------------------------------

_SNAPSHOT_HEADERS = ("asset_id", "name", "fqdn", "ip", "mac", "owner", "owner_email", "team",
                     "business_unit", "environment", "criticality", "internet_facing", "os",
                     "location")


def _clean(value):
    """A DataFrame cell as a plain value: missing (None, NaN, pd.NA) becomes None."""
    if value is None or isinstance(value, (list, tuple)):
        return value
    try:
        import pandas as pd
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def save_inventory(conn: Connection, inventory: "Inventory") -> None:
    """Replace the stored inventory snapshot (used when a later run gives no inventory)."""
    conn.execute(delete(assets))
    rows = []
    for rec in inventory.assets.to_dict("records"):
        rec = {k: _clean(v) for k, v in rec.items()}
        text = {k: (None if rec.get(k) is None else str(rec[k]))
                for k in ("name", "fqdn", "owner", "owner_email", "team", "business_unit",
                          "environment", "criticality", "os", "location")}
        fac = rec.get("internet_facing")
        rows.append({"asset_id": str(rec["asset_id"]), **text,
                     "ips": list(rec.get("ips") or []), "macs": list(rec.get("macs") or []),
                     "cidrs": list(rec.get("cidrs") or []),
                     "internet_facing": None if fac is None else bool(fac),
                     "source": inventory.source})
    if rows:
        conn.execute(insert(assets), rows)


def load_inventory_snapshot(conn: Connection) -> "Inventory | None":
    """The inventory stored by the last build, or None."""
    from vulnpipe.ingest.assets.inventory import inventory_from_rows

    rows = conn.execute(select(assets).order_by(assets.c.asset_id)).mappings().all()
    if not rows:
        return None
    body = []
    for r in rows:
        ips = list(r["ips"]) + list(r["cidrs"])
        body.append([r["asset_id"], r["name"], r["fqdn"], ";".join(ips), ";".join(r["macs"]),
                     r["owner"], r["owner_email"], r["team"], r["business_unit"],
                     r["environment"], r["criticality"],
                     None if r["internet_facing"] is None else ("yes" if r["internet_facing"] else "no"),
                     r["os"], r["location"]])
    return inventory_from_rows([list(_SNAPSHOT_HEADERS), *body], source=rows[0]["source"] or "stored inventory",
                               columns={k: k for k in _SNAPSHOT_HEADERS})


# -- loading the scans -----------------------------------------------------------------------

def _match_hosts(conn: Connection, inventory: "Inventory | None", settings: TicketSettings
                 ) -> tuple[dict[tuple[int, int], str], dict[str, AssetInfo], "pd.DataFrame | None"]:
    """(scan_id, host_seq) -> asset key, and asset key -> facts."""
    rows = conn.execute(select(hosts.c.scan_id, hosts.c.host_seq, hosts.c.name, hosts.c.address,
                               hosts.c.host_ip, hosts.c.host_fqdn, hosts.c.hostname,
                               hosts.c.netbios_name, hosts.c.mac_address)
                        .order_by(hosts.c.scan_id, hosts.c.host_seq)).mappings().all()
    info: dict[str, AssetInfo] = {}
    mapping: dict[tuple[int, int], str] = {}
    if inventory is None:
        for r in rows:
            key = asset_key_for(None, r["address"])
            mapping[(r["scan_id"], r["host_seq"])] = key
            info.setdefault(key, AssetInfo(owner=settings.default_owner,
                                           owner_email=settings.default_owner_email))
        return mapping, info, None
    import pandas as pd

    from vulnpipe.ingest.assets.matching import match_hosts

    frame = pd.DataFrame([dict(r) for r in rows],
                         columns=["scan_id", "host_seq", "name", "address", "host_ip", "host_fqdn",
                                  "hostname", "netbios_name", "mac_address"])
    frame = frame.rename(columns={"name": "host"})
    matched = match_hosts(frame, inventory, default_owner=settings.default_owner,
                          default_owner_email=settings.default_owner_email)

    val = _clean
    for rec in matched.to_dict("records"):
        asset_id = val(rec["asset_id"])
        key = asset_key_for(asset_id, rec["address"])
        mapping[(rec["scan_id"], rec["host_seq"])] = key
        if key not in info:
            fac = val(rec["internet_facing"])
            info[key] = AssetInfo(
                asset_id=asset_id, match_method=val(rec["match_method"]) or "unmatched",
                owner=val(rec["owner"]), owner_email=val(rec["owner_email"]),
                team=val(rec["team"]), business_unit=val(rec["business_unit"]),
                environment=val(rec["environment"]), criticality=val(rec["criticality"]),
                internet_facing=None if fac is None else bool(fac))
    return mapping, info, matched


def _complete(scan_row, profile: Profile) -> bool:
    if scan_row["profile"] == "all" or scan_row["profile"] == profile.name:
        return True
    return not profile.select_all and profile.plugin_ids <= set(scan_row["profile_plugins"] or [])


def load_scan_facts(conn: Connection, profile: Profile, mapping: dict[tuple[int, int], str]
                    ) -> list[ScanFacts]:
    scan_rows = conn.execute(select(scans).order_by(scans.c.first_host_start, scans.c.id)).mappings().all()
    facts: dict[int, ScanFacts] = {}
    for s in scan_rows:
        facts[s["id"]] = ScanFacts(
            scan_id=s["id"], name=s["file_name"],
            time=utc(s["first_host_start"] or s["ingested_at"]),
            policy=load_policy(conn, s["id"]), hosts={},
            complete_for_profile=_complete(s, profile), stored_profile=s["profile"])
    host_by_seq: dict[tuple[int, int], object] = {}
    for r in conn.execute(select(hosts).order_by(hosts.c.scan_id, hosts.c.host_seq)).mappings():
        fact = facts[r["scan_id"]]
        host = host_from_row(r, fact.name)
        host_by_seq[(r["scan_id"], r["host_seq"])] = host
        fact.hosts.setdefault(mapping[(r["scan_id"], r["host_seq"])], host)
    q = select(findings.c.scan_id, findings.c.host_seq, findings.c.plugin_id, findings.c.plugin_name,
               findings.c.plugin_family, findings.c.port, findings.c.protocol,
               findings.c.plugin_type, findings.c.severity, findings.c.plugin_output)
    if not profile.select_all and not profile.primary_names and not profile.related_names \
            and not profile.related_families and not profile.related_ports:
        q = q.where(findings.c.plugin_id.in_(sorted(profile.plugin_ids)))
    for r in conn.execute(q.order_by(findings.c.scan_id, findings.c.host_seq, findings.c.item_seq)).mappings():
        role = profile.role(r["plugin_id"], r["plugin_name"], r["plugin_family"], r["port"], r["protocol"])
        if role is None or r["plugin_id"] is None:
            continue
        host = host_by_seq[(r["scan_id"], r["host_seq"])]
        fact = facts[r["scan_id"]]
        output = r["plugin_output"]
        obs = Observation(
            key=FindingKey(r["plugin_id"], r["port"] or 0, (r["protocol"] or "").lower()),
            plugin_name=r["plugin_name"] or "", family=r["plugin_family"],
            plugin_type=r["plugin_type"], role=role or None, severity=r["severity"],
            seen_at=host.host_start or fact.time,
            plugin_output=output[:OUTPUT_EXCERPT] if output else output,
            host_name=host.name, address=host.address)
        fact.observations.setdefault(mapping[(r["scan_id"], r["host_seq"])], []).append(obs)
    return list(facts.values())


# -- priorities ----------------------------------------------------------------------------

def _priorities(built: BuiltTickets, settings: TicketSettings) -> None:
    import pandas as pd

    from vulnpipe.ingest.assets.priority import assign_priority

    rows = []
    for t in built.tickets.values():
        a = built.asset_info.get(t.asset_key, AssetInfo())
        for tf in t.findings.values():
            rows.append({"key": t.key, "criticality": a.criticality,
                         "internet_facing": a.internet_facing,
                         "profile_role": tf.role or "none", "severity": tf.severity or 0,
                         "first_seen": tf.first_seen})
    if not rows:
        return
    frame = pd.DataFrame(rows)
    frame["internet_facing"] = frame["internet_facing"].astype("boolean")
    prio, sla = assign_priority(frame, settings.rules, settings.fallback)
    frame["priority"], frame["sla_days"] = prio.to_numpy(), sla.to_numpy()
    for key, group in frame.groupby("key", sort=True):
        best = group.sort_values(["priority", "sla_days"]).iloc[0]
        dues = [fs.to_pydatetime().replace(hour=0, minute=0, second=0, microsecond=0)
                + timedelta(days=int(s)) for fs, s in zip(group["first_seen"], group["sla_days"])]
        built.priority[key] = (str(best["priority"]), int(best["sla_days"]), min(dues))


@dataclass
class StoreFacts:
    """What ticket building reads from the store, loaded once: every scan as the timeline
    needs it (hosts already matched to assets), the decisions, and the assets' facts.
    Replaying it to several moments (the weekly report's trend) costs no further reads."""

    profile: Profile
    scans: list[ScanFacts]
    decisions: list[Decision]
    asset_info: dict[str, AssetInfo]
    host_matches: "pd.DataFrame | None"
    inventory: "Inventory | None"


def load_facts(conn: Connection, profile: Profile, inventory: "Inventory | None" = None,
               settings: TicketSettings = TicketSettings()) -> StoreFacts:
    """Read and match everything once (the stored inventory when none is given)."""
    if inventory is None:
        inventory = load_inventory_snapshot(conn)
    mapping, info, matched = _match_hosts(conn, inventory, settings)
    return StoreFacts(profile=profile, scans=load_scan_facts(conn, profile, mapping),
                      decisions=load_decisions(conn), asset_info=info, host_matches=matched,
                      inventory=inventory)


def tickets_as_of(facts: StoreFacts, settings: TicketSettings = TicketSettings(),
                  as_of: datetime | None = None) -> BuiltTickets:
    """The tickets as they stood at ``as_of`` (default: now); a pure replay of ``facts``."""
    as_of = as_of or datetime.now(timezone.utc)
    built = BuiltTickets(profile=facts.profile.name,
                         tickets=build_tickets(facts.profile.name, facts.scans, facts.decisions,
                                               as_of=as_of),
                         asset_info=facts.asset_info, host_matches=facts.host_matches,
                         inventory=facts.inventory)
    _priorities(built, settings)
    return built


def compute_tickets(conn: Connection, profile: Profile, inventory: "Inventory | None" = None,
                    settings: TicketSettings = TicketSettings(),
                    as_of: datetime | None = None) -> BuiltTickets:
    """Tickets of ``profile`` from everything in the store up to ``as_of`` (default: now)."""
    return tickets_as_of(load_facts(conn, profile, inventory, settings), settings, as_of)


# -- saving --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    key: str
    host: str
    before: str | None
    after: str


def save_tickets(conn: Connection, built: BuiltTickets) -> list[Change]:
    """Replace the profile's tickets with ``built``; return the state changes."""
    before = dict(conn.execute(select(tickets.c.key, tickets.c.state)
                               .where(tickets.c.profile == built.profile)).all())
    keys = list(before)
    for table in (ticket_checks, ticket_events, ticket_findings):
        for i in range(0, len(keys), 500):
            conn.execute(delete(table).where(table.c.ticket_key.in_(keys[i:i + 500])))
    conn.execute(delete(tickets).where(tickets.c.profile == built.profile))
    t_rows, f_rows, e_rows, c_rows = [], [], [], []
    changes = []
    for key in sorted(built.tickets):
        t = built.tickets[key]
        a = built.asset_info.get(t.asset_key, AssetInfo())
        prio, sla, due = built.priority.get(key, (None, None, None))
        fixed_events = [e for e in t.events if e.kind == "fixed"]
        t_rows.append({
            "key": key, "profile": t.profile, "asset_key": t.asset_key, "asset_id": a.asset_id,
            "host": t.host_name, "address": t.address, "os": t.os, "state": t.state,
            "first_seen": _naive(t.first_seen), "last_seen": _naive(t.last_seen),
            "fixed_at": _naive(fixed_events[-1].at) if t.state == "fixed" and fixed_events else None,
            "fixed_scan_id": fixed_events[-1].scan_id if t.state == "fixed" and fixed_events else None,
            "match_method": a.match_method, "owner": a.owner, "owner_email": a.owner_email,
            "team": a.team, "business_unit": a.business_unit, "environment": a.environment,
            "criticality": a.criticality, "internet_facing": a.internet_facing,
            "priority": prio, "sla_days": sla, "due_date": _naive(due),
            "acceptance": t.acceptance, "false_positive": t.false_positive})
        for tf in sorted(t.findings.values(), key=lambda x: x.key):
            f_rows.append({
                "ticket_key": key, "plugin_id": tf.key.plugin_id, "port": tf.key.port,
                "protocol": tf.key.protocol, "plugin_name": tf.plugin_name, "family": tf.family,
                "plugin_type": tf.plugin_type, "role": tf.role, "severity": tf.severity,
                "first_seen": _naive(tf.first_seen), "last_seen": _naive(tf.last_seen),
                "first_scan_id": tf.first_scan_id, "last_scan_id": tf.last_scan_id,
                "scans": tf.scans, "plugin_output": tf.plugin_output,
                "fixed_at": _naive(tf.fixed_at), "fixed_scan_id": tf.fixed_scan_id})
        for seq, e in enumerate(t.events):
            e_rows.append({"ticket_key": key, "seq": seq, "at": _naive(e.at), "state": e.state,
                           "kind": e.kind, "scan_id": e.scan_id, "detail": e.detail})
        for seq, c in enumerate(t.checks):
            c_rows.append({"ticket_key": key, "seq": seq, "at": _naive(c.at), "scan_id": c.scan_id,
                           "plugin_id": c.key.plugin_id, "port": c.key.port,
                           "protocol": c.key.protocol, "result": c.result, "reason": c.reason})
        if before.get(key) != t.state:
            changes.append(Change(key, t.host_name, before.get(key), t.state))
    for table, rows in ((tickets, t_rows), (ticket_findings, f_rows), (ticket_events, e_rows),
                        (ticket_checks, c_rows)):
        if rows:
            conn.execute(insert(table), rows)
    return changes


def rebuild_tickets(engine: Engine, profile: Profile, *, inventory: "Inventory | None" = None,
                    settings: TicketSettings = TicketSettings(), as_of: datetime | None = None
                    ) -> tuple[BuiltTickets, list[Change]]:
    """Recompute the profile's tickets from every stored scan and decision, and save them.

    One transaction; the result depends only on the store's content (and the inventory),
    never on the order scans were ingested or how often this ran.
    """
    with engine.begin() as conn:
        if inventory is not None:
            save_inventory(conn, inventory)
        built = compute_tickets(conn, profile, inventory, settings, as_of)
        changes = save_tickets(conn, built)
    return built, changes
