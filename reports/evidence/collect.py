"""Collecting a pack's evidence from the history store: scans, tickets, their proof.

Everything here reads the store; nothing is written back. The tickets are recomputed with
:func:`vulnpipe.reports.tickets.build.TicketReader` as of a time taken from the store (or the
user's ``--generated-at`` / the period's end), never from the clock, so the same database
state always gives the same evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sqlalchemy.engine import Connection

from vulnpipe.ingest.coverage import coverage, detectability, plugin_enabled, port_in_range
from vulnpipe.ingest.errors import InputError
from vulnpipe.ingest.profiles import Profile
from vulnpipe.ingest.records import Policy, iso
from vulnpipe.ingest.store.decisions import load_decisions
from vulnpipe.ingest.store.history import (
    all_scan_rows,
    coverage_row,
    findings_of_hosts,
    hosts_at,
    latest_time,
    plugin_reports,
)
from vulnpipe.ingest.store.identities import all_identities
from vulnpipe.ingest.store.read import host_from_row, load_policy, utc
from vulnpipe.reports.evidence.names import scan_entry, ticket_entry
from vulnpipe.reports.evidence.period import Period
from vulnpipe.reports.evidence.status import finding_status
from vulnpipe.reports.reconcile import Row
from vulnpipe.reports.tickets.build import BuiltTickets, TicketSettings, tickets_as_of, update_tickets
from vulnpipe.reports.tickets.history import Matching
from vulnpipe.reports.tickets.model import (
    FIXED,
    PRESENT,
    RISK_ACCEPTED,
    Check,
    Ticket,
    TicketFinding,
)
from vulnpipe.reports.tickets.timeline import last_day

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory

#: States in which a ticket still needs attention when a period starts.
ACTIVE_STATES = frozenset({"open", "resurfaced", RISK_ACCEPTED})
PARSED_FIELDS = ("plugin_id", "plugin_name", "plugin_family", "severity", "risk_factor", "port",
                 "protocol", "svc_name", "plugin_type", "synopsis", "description", "solution",
                 "plugin_output", "cvss3_base_score", "cvss_base_score", "cve", "xref",
                 "see_also", "bid", "cwe", "extra")


@dataclass(frozen=True)
class ScanEvidence:
    """One scan the pack uses: its identity and its ``scans/<id>.json`` document."""

    scan_id: int
    file_name: str
    sha256: str
    size: int
    time: datetime | None
    doc: dict[str, Any]


@dataclass
class Evidence:
    """What a pack shows, ready to render."""

    profile: str
    period: Period
    as_of: datetime
    requested_tickets: tuple[str, ...]
    built: BuiltTickets                      # only the tickets in scope
    tickets: dict[str, dict[str, Any]]       # key -> tickets/<KEY>.json document
    scans: dict[int, ScanEvidence]           # every scan used, by id
    reconcile_rows: list[Row] = field(default_factory=list)


def judged_as_of(latest: datetime, period: Period, generated_at: datetime | None) -> datetime:
    """States are judged at the earliest of: the latest time in the store, the end of the
    period, and ``--generated-at``."""
    limits = [latest]
    if period.end is not None:
        limits.append(period.end - timedelta(microseconds=1))
    if generated_at is not None:
        limits.append(generated_at)
    return min(limits)


def _active(t: Ticket, period: Period) -> bool:
    """Whether the ticket needed attention or changed during the period."""
    if not period.bounded:
        return True
    if any(period.contains(e.at) for e in t.events) or any(period.contains(c.at) for c in t.checks):
        return True
    if period.start is not None:
        return t.state_at(period.start) in ACTIVE_STATES
    return False


class _Store:
    """Cached reads of scans, policies and hosts for one collection."""

    def __init__(self, conn: Connection, matching: Matching, campaign: str) -> None:
        self.conn = conn
        self.scans = all_scan_rows(conn, campaign)
        self.identities: dict[str, list[str]] = {}
        for r in all_identities(conn):
            key = matching.asset_key(r["identity"], r["address"])
            self.identities.setdefault(key, []).append(r["identity"])
        self._policies: dict[int, Policy | None] = {}
        self._cache: dict[tuple[str, int], tuple[list[dict], list[dict]]] = {}

    def prefetch(self, tickets: Iterable[Ticket]) -> None:
        """Read, for every ticket, its asset's hosts and findings in every scan its
        documents cite (first, last and fixing scans): a few queries for all of them."""
        pairs, owner = [], {}
        for t in tickets:
            for identity in self.identities.get(t.asset_key, ()):
                owner[identity] = t.key
                for tf in t.findings.values():
                    for sid in (tf.first_scan_id, tf.last_scan_id, tf.fixed_scan_id):
                        if sid is not None:
                            pairs.append((identity, sid))
        host_rows = hosts_at(self.conn, pairs)
        seq_owner = {}
        for h in host_rows:
            self._cache.setdefault((owner[h["identity"]], h["scan_id"]), ([], []))[0].append(h)
            seq_owner[(h["scan_id"], h["host_seq"])] = owner[h["identity"]]
        for f in findings_of_hosts(self.conn, host_rows):
            key = (seq_owner[(f["scan_id"], f["host_seq"])], f["scan_id"])
            self._cache[key][1].append(f)

    def policy(self, scan_id: int) -> Policy | None:
        if scan_id not in self._policies:
            self._policies[scan_id] = load_policy(self.conn, scan_id)
        return self._policies[scan_id]

    def name(self, scan_id: int | None) -> str | None:
        return self.scans[scan_id]["file_name"] if scan_id in self.scans else None

    def _rows(self, scan_id: int, ticket: Ticket) -> tuple[list[dict], list[dict]]:
        """(host rows, finding rows) of ``ticket``'s asset in ``scan_id`` (see prefetch)."""
        return self._cache.get((ticket.key, scan_id), ([], []))

    def host_rows(self, scan_id: int, ticket: Ticket) -> list[dict]:
        return self._rows(scan_id, ticket)[0]

    def finding_rows(self, scan_id: int, ticket: Ticket, tf: TicketFinding) -> list[dict]:
        return [r for r in self._rows(scan_id, ticket)[1]
                if r["plugin_id"] == tf.key.plugin_id and (r["port"] or 0) == tf.key.port
                and (r["protocol"] or "").lower() == tf.key.protocol]


def _host_doc(row: dict) -> dict[str, Any]:
    return {"name": row["name"], "address": row["address"], "host_ip": row["host_ip"],
            "host_fqdn": row["host_fqdn"], "netbios_name": row["netbios_name"], "os": row["os"],
            "credentialed": row["credentialed"], "host_start": iso(row["host_start"]),
            "host_end": iso(row["host_end"])}


def _scan_ref(store: _Store, scan_id: int) -> dict[str, Any]:
    s = store.scans[scan_id]
    return {"scan_id": scan_id, "scan": s["file_name"], "scan_sha256": s["sha256"],
            "policy": s["policy_name"], "scanner_kind": s["scanner_kind"],
            "scan_time": iso(s["first_host_start"]), "evidence_file": scan_entry(scan_id, "json")}


def _detection(store: _Store, ticket: Ticket, tf: TicketFinding, scan_id: int) -> dict[str, Any] | None:
    """The finding as one scan reported it: the ReportItem XML verbatim plus parsed fields."""
    rows = store.finding_rows(scan_id, ticket, tf)
    if not rows:
        return None
    f = rows[0]
    host = next(h for h in store.host_rows(scan_id, ticket) if h["host_seq"] == f["host_seq"])
    doc = _scan_ref(store, scan_id)
    doc.update({
        "host": _host_doc(host),
        "seen_at": iso(host["host_start"] or store.scans[scan_id]["first_host_start"]),
        "report_item_xml": f["raw_xml"],
        "parsed": {k: f[k] for k in PARSED_FIELDS},
    })
    if f["raw_xml"] is None:
        doc["report_item_xml_note"] = "the ReportItem XML was not captured when this scan was ingested"
    return doc


def _after(store: _Store, ticket: Ticket, tf: TicketFinding) -> dict[str, Any]:
    """The rescan that verified the fix: host present, coverage facts, finding absent."""
    sid = int(tf.fixed_scan_id or 0)
    rows = store.host_rows(sid, ticket)
    policy = store.policy(sid)
    doc = _scan_ref(store, sid)
    doc["verdict"] = "fixed"
    doc["host_present"] = bool(rows)
    host = host_from_row(rows[0], store.name(sid) or "") if rows else None
    doc["host"] = _host_doc(rows[0]) if rows else None
    cov = coverage(policy, host, plugin_id=tf.key.plugin_id, family=tf.family, port=tf.key.port,
                   protocol=tf.key.protocol, plugin_type=tf.plugin_type)
    doc["coverage"] = {
        "status": cov.status,
        "reason": cov.reason or "plugin enabled, port in range, host scanned",
        "plugin_enabled": plugin_enabled(policy, tf.key.plugin_id, tf.family) if policy else None,
        "decided_by": ("plugin_set" if policy and policy.plugin_set is not None else
                       "plugin family selection" if policy else "no policy"),
        "port_range": policy.port_range if policy else None,
        "port_in_range": port_in_range(policy.port_range, tf.key.port, tf.key.protocol) if policy else None,
        "targets": policy.targets if policy else None,
        "local_check": (tf.plugin_type or "").lower() == "local",
        "host_credentialed": host.credentialed if host else None,
    }
    doc["finding_present"] = bool(store.finding_rows(sid, ticket, tf))
    doc["fixed_at"] = iso(tf.fixed_at)
    return doc


def _check_doc(c: Check) -> dict[str, Any]:
    return {"at": iso(c.at), "scan_id": c.scan_id, "scan": c.scan_name,
            "plugin_id": c.key.plugin_id, "port": c.key.port, "protocol": c.key.protocol,
            "result": c.result, "reason": c.reason}


def _ticket_doc(store: _Store, t: Ticket, view: dict, rows: dict, decided: list[dict],
                as_of: datetime) -> dict[str, Any]:
    found = []
    for tf in sorted(t.findings.values(), key=lambda x: (x.role != "primary", x.key)):
        first = _detection(store, t, tf, tf.first_scan_id)
        last = _detection(store, t, tf, tf.last_scan_id) if tf.last_scan_id != tf.first_scan_id else None
        row = rows[tf.key]
        later = [_check_doc(c) for c in t.checks
                 if c.key == tf.key and c.result != PRESENT and c.at >= tf.last_seen]
        found.append({
            "plugin_id": tf.key.plugin_id, "plugin_name": tf.plugin_name, "port": tf.key.port,
            "protocol": tf.key.protocol, "role": tf.role, "severity": tf.severity,
            "first_seen": iso(tf.first_seen), "last_seen": iso(tf.last_seen),
            "status": row.status, "status_reason": row.reason,
            "before": {"first_detection": first, "last_detection": last or first},
            "after": _after(store, t, tf) if tf.is_fixed else None,
            "checks_since_last_detection": later,
        })
    fixed_events = [e for e in t.events if e.kind == "fixed"]
    verified = None
    if t.state == FIXED and fixed_events and fixed_events[-1].scan_id is not None:
        verified = _scan_ref(store, fixed_events[-1].scan_id)
        verified["fixed_at"] = iso(fixed_events[-1].at)
    return {
        "key": t.key, "title": view["title"], "profile": t.profile, "state": t.state,
        "judged_as_of": iso(as_of), "verified_fixed_by": verified,
        "priority": view["priority"], "due_date": view["due_date"],
        "asset": {k: view[k] for k in ("asset_id", "match_method", "owner", "owner_email", "team",
                                       "business_unit", "environment", "criticality",
                                       "internet_facing")},
        "host": t.host_name, "address": t.address, "host_name": view["host_name"],
        "host_label": view["host_label"], "os": t.os,
        "first_seen": iso(t.first_seen), "last_seen": iso(t.last_seen),
        "findings": found,
        "history": [{"at": iso(e.at), "state": e.state, "event": e.kind, "scan_id": e.scan_id,
                     "scan": store.name(e.scan_id), "detail": e.detail} for e in t.events],
        "risk_acceptance": t.acceptance, "false_positive": t.false_positive,
        "decisions": decided,
        "checks": [_check_doc(c) for c in t.checks],
        "files": {"json": ticket_entry(t.key, "json"), "markdown": ticket_entry(t.key, "md")},
    }


def _scan_doc(store: _Store, scan_id: int, profile: Profile, families: dict[int, str | None],
              ports: dict[int, list[tuple[int, str]]]) -> dict[str, Any]:
    s = store.scans[scan_id]
    cov = coverage_row(store.conn, scan_id)
    policy = store.policy(scan_id)
    plugins = []
    for pid in sorted(profile.plugin_ids):
        fam = families.get(pid)
        enabled = plugin_enabled(policy, pid, fam) if policy else None
        in_range = [{"port": p, "protocol": proto,
                     "in_range": port_in_range(policy.port_range, p, proto) if policy else None}
                    for p, proto in ports.get(pid, [])]
        plugins.append({"plugin_id": pid, "family": fam, "enabled": enabled, "ports": in_range,
                        "covered": (None if enabled is None or any(x["in_range"] is None for x in in_range)
                                    else bool(enabled and all(x["in_range"] for x in in_range)))})
    return {
        "scan_id": scan_id, "file_name": s["file_name"], "sha256": s["sha256"], "size": s["size"],
        "report_name": s["report_name"], "report_names": list(s["report_names"] or []),
        "scanner_kind": s["scanner_kind"], "policy_name": s["policy_name"],
        "stored_profile": s["profile"], "stored_profile_plugins": list(s["profile_plugins"] or []),
        "first_host_start": iso(s["first_host_start"]), "last_host_start": iso(s["last_host_start"]),
        "first_host_end": iso(s["first_host_end"]), "last_host_end": iso(s["last_host_end"]),
        "hosts_count": s["hosts_count"], "items_count": s["items_count"],
        "findings_count": s["findings_count"],
        "policy": {
            "present": bool(cov and cov["has_policy"]),
            "port_range": cov["port_range"] if cov else None,
            "targets": cov["targets"] if cov else None,
            "plugin_set_size": len(cov["plugin_set"]) if cov and cov["plugin_set"] is not None else None,
        },
        "profile": profile.name,
        "profile_plugins": plugins,
        "detection": _detection_doc(policy, profile, s),
    }


def _detection_doc(policy: Policy | None, profile: Profile, scan: dict) -> dict[str, Any]:
    """Whether the scan could have found the profile's campaign at all, by its detectors."""
    detectable, reason = detectability(policy, profile, scan["profile"], scan["profile_plugins"])
    return {"campaign": profile.campaign, "detected_by": profile.detect_text,
            "detectable": detectable, "reason": reason or None}


def _plugin_facts(conn: Connection, profile: Profile) -> tuple[dict[int, str | None], dict[int, list]]:
    """Each profile plugin's family and the ports it was reported on, from the store."""
    ids = sorted(profile.plugin_ids)
    families: dict[int, str | None] = {}
    ports: dict[int, set] = {}
    if ids:
        for pid, fam, port, proto in plugin_reports(conn, ids):
            known = families.get(pid)
            if fam and (known is None or fam < known):
                families[pid] = fam
            ports.setdefault(pid, set()).add((port or 0, (proto or "").lower()))
    return families, {k: sorted(v) for k, v in ports.items()}


def _decisions(conn: Connection, keys: Sequence[str], as_of: datetime) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    wanted = set(keys)
    for d in load_decisions(conn):
        if d.ticket_key in wanted and d.at <= as_of:
            out.setdefault(d.ticket_key, []).append({
                "decision": d.id, "kind": d.kind, "at": iso(d.at), "reason": d.reason,
                "approver": d.approver, "until": last_day(d.until)})
    return out


def collect(conn: Connection, profile: Profile, *, period: Period = Period(),
            ticket_keys: Sequence[str] = (), generated_at: datetime | None = None,
            inventory: "Inventory | None" = None, settings: TicketSettings = TicketSettings(),
            knowledge_dirs: Sequence = ()) -> tuple[Evidence, list[dict]]:
    """The evidence for ``profile`` over ``period`` (or only ``ticket_keys``), and the
    tickets' views (as :func:`reports.tickets.view.ticket_views` gives them)."""
    from vulnpipe.reports.remediation.knowledge import load_knowledge
    from vulnpipe.reports.tickets.view import ticket_views

    latest = latest_time(conn)
    if latest is None:
        raise InputError("the store holds no scans", hint="run `vulnpipe ingest SCAN...` first")
    as_of = judged_as_of(latest, period, generated_at)
    matching, _changes = update_tickets(conn, profile, inventory, settings)
    # a bounded period needs no ticket fixed before it began and untouched since (see _active)
    built = tickets_as_of(conn, profile, matching, settings, as_of, may_skip_fixed_before=(
        period.start if period.bounded and not ticket_keys else None))
    if ticket_keys:
        scope = {}
        for key in ticket_keys:
            t = built.tickets.get(key)
            if t is None:
                raise InputError(f"no ticket {key} in profile '{profile.name}' as of {iso(as_of)}",
                                 hint="see `vulnpipe tickets --jsonl -` for the keys")
            if not _active(t, period):
                raise InputError(f"ticket {key} was closed before the period {period.label} and "
                                 "did not change in it", hint="widen the period or drop --ticket")
            scope[key] = t
    else:
        scope = {k: t for k, t in built.tickets.items() if _active(t, period)}
    scope = dict(sorted(scope.items()))
    built = replace(built, tickets=scope)
    views = ticket_views(built, load_knowledge(knowledge_dirs), as_of=as_of)
    store = _Store(conn, matching, profile.name)
    store.prefetch(scope.values())
    decided = _decisions(conn, list(scope), as_of)
    docs: dict[str, dict] = {}
    recon: list[Row] = []
    cited: set[int] = set()
    for view in views:
        t = scope[view["key"]]
        rows = {tf.key: finding_status(t, tf, view.get("asset_id"), store.name, as_of)
                for tf in t.findings.values()}
        recon.extend(rows[k] for k in sorted(rows))
        docs[t.key] = _ticket_doc(store, t, view, rows, decided.get(t.key, []), as_of)
        cited.update(e.scan_id for e in t.events if e.scan_id is not None)
        cited.update(c.scan_id for c in t.checks)
        for tf in t.findings.values():
            cited.update(x for x in (tf.first_scan_id, tf.last_scan_id, tf.fixed_scan_id) if x is not None)
    if ticket_keys:
        used = cited
    elif period.bounded:
        used = cited | {sid for sid, s in store.scans.items()
                        if s["first_host_start"] is not None
                        and period.contains(utc(s["first_host_start"]))
                        and utc(s["first_host_start"]) <= as_of}
    else:
        used = {sid for sid, s in store.scans.items()
                if s["first_host_start"] is None or utc(s["first_host_start"]) <= as_of}
    families, ports = _plugin_facts(conn, profile)
    scan_ev = {}
    for sid in sorted(used):
        s = store.scans[sid]
        scan_ev[sid] = ScanEvidence(sid, s["file_name"], s["sha256"], s["size"],
                                    utc(s["first_host_start"]),
                                    _scan_doc(store, sid, profile, families, ports))
    return Evidence(profile=profile.name, period=period, as_of=as_of,
                    requested_tickets=tuple(ticket_keys), built=built, tickets=docs,
                    scans=scan_ev, reconcile_rows=recon), views
