"""``poam.xlsx``: a FedRAMP-style plan of action and milestones, one row per weakness
(a ticket finding: one plugin on one port of one asset), open and closed on separate sheets.

A finding is closed when a covering rescan proved it gone or the ticket is a false
positive; risk-accepted findings stay open with "Operational Requirement" = Yes.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Sequence

from vulnpipe.reports.reconcile import FIXED
from vulnpipe.reports.writers.xlsx import Sheet

POAM_COLUMNS = (
    "POA&M ID", "Weakness Name", "Weakness Description", "Weakness Detector Source",
    "Weakness Source Identifier", "Asset Identifier", "Point of Contact",
    "Overall Remediation Plan", "Original Detection Date", "Scheduled Completion Date",
    "Status Date", "Original Risk Rating", "Adjusted Risk Rating", "Risk Adjustment",
    "False Positive", "Operational Requirement", "Deviation Rationale", "Supporting Documents",
    "Comments",
)
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


def poam_rows(docs: dict[str, dict], views: Sequence[dict]) -> tuple[list[list[Any]], list[list[Any]]]:
    """(open rows, closed rows) in ticket key and finding order."""
    open_rows: list[list[Any]] = []
    closed_rows: list[list[Any]] = []
    for view in views:
        doc = docs[view["key"]]
        owner = ", ".join(x for x in (view["owner"], view["owner_email"], view["team"]) if x) or "unassigned"
        for f in doc["findings"]:
            det = f["before"]["last_detection"] or {}
            parsed = det.get("parsed") or {}
            closed = f["status"] == FIXED or doc["state"] == "false_positive"
            status_at = (f["after"] or {}).get("fixed_at") if f["status"] == FIXED else None
            if status_at is None and doc["state"] == "false_positive":
                status_at = (doc["false_positive"] or {}).get("at") or next(
                    (h["at"] for h in reversed(doc["history"]) if h["event"] == "false_positive"), None)
            if status_at is None:
                dates = [c["at"] for c in doc["checks"] if c["plugin_id"] == f["plugin_id"]
                         and c["port"] == f["port"] and c["protocol"] == f["protocol"]]
                status_at = max(dates) if dates else f["last_seen"]
            risk = parsed.get("risk_factor")
            scans = sorted(s for s in {det.get("scan_id"), (f["after"] or {}).get("scan_id")}
                           if s is not None)
            supporting = "; ".join([doc["files"]["json"], doc["files"]["markdown"]] +
                                   [f"scans/{s}.json" for s in scans])
            row = [
                poam_id(doc["key"], f["plugin_id"], f["port"], f["protocol"]),
                f["plugin_name"],
                parsed.get("synopsis") or parsed.get("description"),
                ("Tenable Nessus" if (det.get("scanner_kind") or "nessus") == "nessus"
                 else f"Tenable {det['scanner_kind']}"),
                f["plugin_id"],
                f"{view['host_label']}, {f['port']}/{f['protocol']}; "
                f"asset {view['asset_id'] or 'not in inventory'}",
                owner,
                _plan(view, f["plugin_id"], parsed.get("solution")),
                _day(f["first_seen"]),
                _day(view["due_date"]),
                _day(status_at),
                _RATING.get((risk or "none").lower(), "Low"),
                None,
                "No",
                "Yes" if doc["state"] == "false_positive" else "No",
                "Yes" if doc["state"] == "risk_accepted" else "No",
                _rationale(doc),
                supporting,
                f"vulnpipe ticket {doc['key']}: {doc['state']}, priority {view['priority'] or '-'}; "
                f"{f['status']}: {f['status_reason']}; scanner risk factor {risk or 'not given'}",
            ]
            (closed_rows if closed else open_rows).append(row)
    return open_rows, closed_rows


def poam_sheets(docs: dict[str, dict], views: Sequence[dict]) -> list[Sheet]:
    open_rows, closed_rows = poam_rows(docs, views)
    wrap = frozenset({"Weakness Name", "Weakness Description", "Asset Identifier",
                      "Point of Contact", "Overall Remediation Plan", "Deviation Rationale",
                      "Supporting Documents", "Comments"})
    # 19 columns (the FedRAMP template's): narrow wrapped columns keep the page readable
    return [Sheet(OPEN_SHEET, POAM_COLUMNS, open_rows, wrap=wrap, wrap_width=26),
            Sheet(CLOSED_SHEET, POAM_COLUMNS, closed_rows, wrap=wrap, wrap_width=26)]
