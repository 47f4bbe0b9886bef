"""``poam.xlsx``: the FedRAMP POA&M template's sheets, one row per weakness (a ticket
finding: one plugin on one port of one asset), open and closed on separate sheets.

The 31 columns (A-AE) are the template's, in its order, under its header block (CSP, system
name, impact level, POA&M date from ``[poam]``). An item is closed only when a covering
rescan proved the finding gone, and Supporting Documents names that rescan; risk-accepted
findings stay open with "Operational Requirement" = Yes, false positives stay open with
"False Positive" = Yes (the deviation awaits approval, as the template's guide asks). The
Scheduled Completion Date is the one stored when a POA&M first carried the item: it never
changes (a later due date shows under Milestone Changes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from vulnpipe.reports.reconcile import FIXED
from vulnpipe.reports.writers.xlsx import Sheet

#: The FedRAMP POA&M template's 31 columns, A to AE, in its order and with its names.
POAM_COLUMNS = (
    "POAM ID", "Controls", "Weakness Name", "Weakness Description", "Weakness Detector Source",
    "Weakness Source Identifier", "Asset Identifier", "Point of Contact", "Resources Required",
    "Overall Remediation Plan", "Original Detection Date", "Scheduled Completion Date",
    "Planned Milestones", "Milestone Changes", "Status Date", "Vendor Dependency",
    "Last Vendor Check-in Date", "Vendor Dependent Product Name", "Original Risk Rating",
    "Adjusted Risk Rating", "Risk Adjustment", "False Positive", "Operational Requirement",
    "Deviation Rationale", "Supporting Documents", "Comments", "Auto-Approve",
    "Binding Operational Directive 22-01 tracking", "Binding Operational Directive 22-01 Due Date",
    "CVE", "Service Name",
)
#: The header block above the columns (rows 1-4, label in column A, value in B; the columns'
#: names are row 5, as in the template): the values from ``[poam]`` in vulnpipe.toml.
HEADER_LABELS = ("CSP", "System Name", "Impact Level", "POAM Date")


@dataclass(frozen=True)
class PoamHeader:
    """``[poam]`` in vulnpipe.toml: who and what the POA&M is for, and the NIST controls
    each profile's weaknesses fall under (``controls``: profile -> text, e.g. "CM-7, SC-7")."""

    csp: str | None = None
    system_name: str | None = None
    impact_level: str | None = None
    controls: Mapping[str, str] = field(default_factory=dict)


OPEN_SHEET = "Open POA&M Items"
CLOSED_SHEET = "Closed POA&M Items"
_RATING = {"critical": "High", "high": "High", "medium": "Moderate", "low": "Low", "none": "Low"}


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def poam_id(key: str, plugin_id: int, port: int, protocol: str) -> str:
    """A stable item id from the ticket key and the finding's plugin, port and protocol."""
    return f"{key}-{plugin_id}-{port}{protocol.upper()}"


def _rationale(doc: dict) -> str | None:
    if doc["false_positive"]:
        fp = doc["false_positive"]
        return f"False positive: {fp.get('reason')} (confirmed by {fp.get('approver') or 'not recorded'})"
    if doc["risk_acceptance"]:
        ra = doc["risk_acceptance"]
        return (f"Risk accepted: {ra.get('reason')} (approved by {ra.get('approver') or 'not recorded'}, "
                f"until {ra.get('until') or 'no expiry'})")
    return None


def _plan(view: dict, plugin_id: int, fallback: str | None) -> str:
    titles = [r["title"] for r in view["remediation"] if plugin_id in r.get("plugin_ids", [])]
    text = "; ".join(titles) or (fallback or "").strip() or "See the ticket's remediation steps"
    return f"{text} (steps: tickets/{view['key']}.md)"


_EVENTS = {
    "risk_accepted": "risk accepted", "acceptance_expired": "risk acceptance expired",
    "risk_adjusted": "risk adjusted", "adjustment_expired": "risk adjustment expired",
    "false_positive": "marked a false positive", "reopened": "decision withdrawn",
    "resurfaced": "reported again after a verified fix", "fixed": "fix verified by a covering rescan",
}


def _milestones(doc: dict, first_seen: str | None, scheduled: date | None, due: date | None
                ) -> tuple[str, str | None]:
    """(Planned Milestones, Milestone Changes) from the ticket's history."""
    first = next((h for h in doc["history"] if h["event"] == "opened"), None)
    planned = [f"(1) {_day(first_seen)}: weakness reported by scan "
               f"{(first or {}).get('scan') or 'on record'}",
               f"(2) {scheduled or 'not set'}: remediated and verified by a covering rescan"]
    changes = []
    for h in doc["history"]:
        what = _EVENTS.get(h["event"])
        if what is None:
            continue
        d = h.get("detail") or {}
        extra = [f"{k} {d[k]}" for k in ("rating", "until", "reason") if d.get(k)]
        if h.get("scan"):
            extra.insert(0, f"scan {h['scan']}")
        changes.append(f"Update {_day(h['at'])}: {what}" + (f" ({'; '.join(extra)})" if extra else ""))
    if due is not None and scheduled is not None and due != scheduled:
        changes.append(f"Update: the SLA due date is now {due} (the scheduled date stays {scheduled})")
    return "\n".join(planned), "\n".join(f"({n}) {c}" for n, c in enumerate(changes, start=3)) or None


def _rating_word(rating: str | None) -> str | None:
    return rating.capitalize() if rating else None


def poam_rows(docs: dict[str, dict], views: Sequence[dict], header: PoamHeader = PoamHeader(),
              scheduled: Mapping[str, datetime] | None = None
              ) -> tuple[list[list[Any]], list[list[Any]]]:
    """(open rows, closed rows) in ticket key and finding order. ``scheduled``: each item's
    frozen Scheduled Completion Date (default: the ticket's due date)."""
    open_rows: list[list[Any]] = []
    closed_rows: list[list[Any]] = []
    for view in views:
        doc = docs[view["key"]]
        owner = ", ".join(x for x in (view["owner"], view["owner_email"], view["team"]) if x) or "unassigned"
        adjustment = view.get("risk_adjustment") or None
        for f in doc["findings"]:
            det = f["before"]["last_detection"] or {}
            parsed = det.get("parsed") or {}
            item = poam_id(doc["key"], f["plugin_id"], f["port"], f["protocol"])
            closed = f["status"] == FIXED
            after = f["after"] or {}
            status_at = after.get("fixed_at") if closed else None
            if status_at is None and doc["state"] == "false_positive":
                status_at = (doc["false_positive"] or {}).get("at") or next(
                    (h["at"] for h in reversed(doc["history"]) if h["event"] == "false_positive"), None)
            if status_at is None:
                dates = [c["at"] for c in doc["checks"] if c["plugin_id"] == f["plugin_id"]
                         and c["port"] == f["port"] and c["protocol"] == f["protocol"]]
                status_at = max(dates) if dates else f["last_seen"]
            risk = parsed.get("risk_factor")
            scans = sorted(s for s in {det.get("scan_id"), after.get("scan_id")} if s is not None)
            docs_named = "; ".join([doc["files"]["json"], doc["files"]["markdown"]] +
                                   [f"scans/{s}.json" for s in scans])
            if closed:
                supporting = (f"Closed by the covering rescan {after.get('scan')} (scan "
                              f"{after.get('scan_id')}, {after.get('fixed_at')}): the finding was "
                              f"absent and the scan could have reported it. Evidence: {docs_named}")
            else:
                supporting = docs_named
            due = _day(view["due_date"])
            frozen = (scheduled or {}).get(item)
            completion = frozen.date() if frozen is not None else due
            planned, changes = _milestones(doc, f["first_seen"], completion, due)
            rationale = _rationale(doc)
            if adjustment:
                rationale = "; ".join(x for x in (
                    rationale, f"Risk adjustment to {_rating_word(adjustment.get('rating'))}: "
                               f"{adjustment.get('reason')} (approved by "
                               f"{adjustment.get('approver') or 'not recorded'})") if x)
            cves = parsed.get("cve") or []
            row = [
                item,
                header.controls.get(doc["profile"]) if doc.get("profile") else None,
                f["plugin_name"],
                parsed.get("synopsis") or parsed.get("description"),
                ("Tenable Nessus" if (det.get("scanner_kind") or "nessus") == "nessus"
                 else f"Tenable {det['scanner_kind']}"),
                f["plugin_id"],
                f"{view['host_label']}, {f['port']}/{f['protocol']}; "
                f"asset {view['asset_id'] or 'not in inventory'}",
                owner,
                None,
                _plan(view, f["plugin_id"], parsed.get("solution")),
                _day(f["first_seen"]),
                completion,
                planned,
                changes,
                _day(status_at),
                "No",
                None,
                None,
                _RATING.get((risk or "none").lower(), "Low"),
                _rating_word((adjustment or {}).get("rating")),
                "Yes" if adjustment else "No",
                "Yes" if doc["state"] == "false_positive" else "No",
                "Yes" if doc["state"] == "risk_accepted" else "No",
                rationale or None,
                supporting,
                f"vulnpipe ticket {doc['key']}: {doc['state']}, priority {view['priority'] or '-'}; "
                f"{f['status']}: {f['status_reason']}; scanner risk factor {risk or 'not given'}",
                "No",
                None,
                None,
                ", ".join(cves) if isinstance(cves, list) else cves or None,
                parsed.get("svc_name"),
            ]
            (closed_rows if closed else open_rows).append(row)
    return open_rows, closed_rows


def poam_items(docs: dict[str, dict], views: Sequence[dict]) -> dict[str, datetime]:
    """Every item's POAM ID and its proposed Scheduled Completion Date (the ticket's due date
    at midnight UTC), for the store to freeze (items without a due date are left out)."""
    from datetime import timezone

    out = {}
    for view in views:
        due = _day(view["due_date"])
        if due is None:
            continue
        for f in docs[view["key"]]["findings"]:
            out[poam_id(view["key"], f["plugin_id"], f["port"], f["protocol"])] = datetime(
                due.year, due.month, due.day, tzinfo=timezone.utc)
    return out


def poam_sheets(docs: dict[str, dict], views: Sequence[dict], header: PoamHeader = PoamHeader(),
                scheduled: Mapping[str, datetime] | None = None,
                poam_date: date | None = None) -> list[Sheet]:
    open_rows, closed_rows = poam_rows(docs, views, header, scheduled)
    wrap = frozenset({"Weakness Name", "Weakness Description", "Asset Identifier",
                      "Point of Contact", "Overall Remediation Plan", "Planned Milestones",
                      "Milestone Changes", "Deviation Rationale", "Supporting Documents",
                      "Comments"})
    preamble = [[label, value] for label, value in zip(
        HEADER_LABELS, (header.csp, header.system_name, header.impact_level, poam_date))]
    # 31 columns (the FedRAMP template's): narrow wrapped columns keep the page readable
    return [Sheet(OPEN_SHEET, POAM_COLUMNS, open_rows, wrap=wrap, wrap_width=26, preamble=preamble),
            Sheet(CLOSED_SHEET, POAM_COLUMNS, closed_rows, wrap=wrap, wrap_width=26,
                  preamble=preamble)]
