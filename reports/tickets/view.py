"""Tickets as owners read them: one JSON-ready dict per ticket, with evidence and remediation.

Every export (JSONL, Markdown, Jira CSV, Excel) is rendered from these dicts, so they all say
the same thing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from vulnpipe.ingest.records import iso
from vulnpipe.reports.hosts import host_label, host_name
from vulnpipe.reports.remediation.knowledge import KnowledgeBase
from vulnpipe.reports.remediation.platform import platform_for
from vulnpipe.reports.tickets.build import AssetInfo, BuiltTickets
from vulnpipe.reports.tickets.model import OPEN_STATES, Ticket

EXCERPT = 600
#: Field names of one ticket in the JSONL export (stable: users' scripts rely on them).
TICKET_FIELDS = (
    "key", "title", "state", "profile", "priority", "sla_days", "due_date", "overdue",
    "owner", "owner_email", "team", "business_unit", "environment", "criticality",
    "internet_facing", "asset_id", "match_method", "host", "address", "host_name", "host_label",
    "os", "platform", "first_seen", "last_seen", "fixed_at", "findings", "why", "remediation",
    "history", "acceptance", "false_positive", "risk_adjustment",
)


_iso = iso      # ISO 8601 UTC text: the one formatter records and exports share


def _day(dt: datetime | None) -> str | None:
    return dt.date().isoformat() if dt is not None else None


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def ticket_host_label(t: Ticket) -> str:
    """The ticket's host as people read it: ``name (address)`` (see :mod:`reports.hosts`)."""
    return host_label(t.fqdn, t.netbios, t.host_name, t.address)


#: How titles word a campaign's tickets: (primary exposure, related findings, exposure
#: without a primary finding). The built-in l2tp profile's own; others say their label.
_TITLE_WORDS = {"l2tp": ("L2TP VPN endpoint exposed", "related VPN finding", "VPN service exposure")}


def ticket_title(t: Ticket, label: str = "") -> str:
    """What and where, at a glance: the primary exposure first, then the host. The words
    follow the ticket's campaign (``label``: how reports name it, e.g. ``PPTP``)."""
    label = label or t.profile
    exposed, related, exposure = _TITLE_WORDS.get(
        t.profile, (f"{label} exposed", "related finding", f"{label} exposure"))
    roles = {tf.role for tf in t.findings.values()}
    where = ticket_host_label(t)
    if "primary" in roles:
        port = next((tf.key for tf in t.findings.values() if tf.role == "primary"))
        extra = len(t.findings) - 1
        more = f" + {extra} {related}{'s' if extra > 1 else ''}" if extra > 0 else ""
        return f"{exposed} on {where}, {port.port}/{port.protocol}{more}"
    names = sorted({tf.plugin_name for tf in t.findings.values()})
    return f"{exposure} on {where}: {', '.join(names)}"


def ticket_views(built: BuiltTickets, kb: KnowledgeBase, *, as_of: datetime) -> list[dict[str, Any]]:
    """Every ticket as a dict with :data:`TICKET_FIELDS`, sorted by key."""
    out = []
    for key in sorted(built.tickets):
        t = built.tickets[key]
        a = built.asset_info.get(t.asset_key, AssetInfo())
        prio, sla, due = built.priority.get(key, (None, None, None))
        platform = platform_for(t.os)
        findings = []
        remediation = []
        seen_plugins = set()
        for tf in sorted(t.findings.values(), key=lambda x: (x.role != "primary", x.key)):
            findings.append({
                "plugin_id": tf.key.plugin_id, "plugin_name": tf.plugin_name,
                "port": tf.key.port, "protocol": tf.key.protocol, "role": tf.role,
                "severity": tf.severity, "first_seen": _iso(tf.first_seen),
                "last_seen": _iso(tf.last_seen), "scans": t.reported_by(tf.key),
                "state": "fixed" if tf.is_fixed else "open", "fixed_at": _iso(tf.fixed_at),
                "plugin_output_excerpt": excerpt(tf.plugin_output),
                "plugin_output": tf.plugin_output or "",
            })
            if tf.key.plugin_id not in seen_plugins:
                seen_plugins.add(tf.key.plugin_id)
                rem = kb.find(tf.key.plugin_id, platform, built.profile)
                if rem is not None:
                    remediation.append(rem.to_dict())
        fixed = [e for e in t.events if e.kind == "fixed"]
        is_open = t.state in OPEN_STATES
        out.append({
            "key": key, "title": ticket_title(t, built.label), "state": t.state, "profile": t.profile,
            "priority": prio, "sla_days": sla, "due_date": _day(due),
            "overdue": bool(is_open and due is not None and due < as_of),
            "owner": a.owner, "owner_email": a.owner_email, "team": a.team,
            "business_unit": a.business_unit, "environment": a.environment,
            "criticality": a.criticality, "internet_facing": a.internet_facing,
            "asset_id": a.asset_id, "match_method": a.match_method, "host": t.host_name,
            "address": t.address, "host_name": host_name(t.fqdn, t.netbios, t.host_name, t.address),
            "host_label": ticket_host_label(t), "os": t.os, "platform": platform,
            "first_seen": _iso(t.first_seen), "last_seen": _iso(t.last_seen),
            "fixed_at": _iso(fixed[-1].at) if t.state == "fixed" and fixed else None,
            "findings": findings,
            "why": remediation[0]["why"] if remediation else "",
            "remediation": remediation,
            "history": [{"at": _iso(e.at), "state": e.state, "event": e.kind,
                         "detail": e.detail} for e in t.events],
            "acceptance": t.acceptance, "false_positive": t.false_positive,
            "risk_adjustment": t.adjustment,
        })
    return out


def summary_rows(views: Sequence[dict]) -> list[tuple[str, int]]:
    """Counts for the Summary sheet and the command's closing line."""
    from collections import Counter

    states = Counter(v["state"] for v in views)
    prios = Counter(v["priority"] for v in views if v["state"] in OPEN_STATES)
    rows = [("tickets", len(views))]
    rows += [(f"state: {s}", states.get(s, 0)) for s in ("open", "resurfaced", "risk_accepted",
                                                          "false_positive", "fixed")]
    rows += [(f"open {p}", prios.get(p, 0)) for p in ("P1", "P2", "P3", "P4")]
    rows.append(("open and overdue", sum(1 for v in views if v["overdue"])))
    rows.append(("unowned (no inventory match)",
                 sum(1 for v in views if v["match_method"] in ("unmatched", "ambiguous", "none"))))
    return rows


def data_quality_rows(built: BuiltTickets) -> list[tuple[str, str, str]]:
    """Unmatched and ambiguous hosts (distinct addresses) and the inventory's own issues."""
    rows: list[tuple[str, str, str]] = []
    for h in built.host_issues:
        host = host_label(h.fqdn, h.netbios, h.host, h.address)
        if h.match_method == "ambiguous":
            rows.append(("ambiguous match", host, f"matches several assets: {h.candidates}"))
        else:
            rows.append(("no owner (not in inventory)", host,
                         "matched no asset; default owner used"))
    for issue in getattr(built.inventory, "issues", []) or []:
        rows.append((f"inventory: {issue.kind}", str(issue.asset_id or f"row {issue.row}"),
                     issue.detail))
    return rows
