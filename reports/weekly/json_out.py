"""The weekly figures as JSON for dashboards and scripts (field names are a stable contract).

See ``docs/weekly-report.md`` for every field's meaning.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vulnpipe.ingest.records import iso  # UTC to the second (a 23:59:59.999999 cut-off shows as 23:59:59Z)
from vulnpipe.reports.weekly.figures import FIGURE_FIELDS, empty_metrics
from vulnpipe.reports.weekly.history import ScanRow
from vulnpipe.reports.weekly.report import MetricGroup, WeeklyReport
from vulnpipe.reports.writers.output import open_output


def scan_json(s: ScanRow) -> dict[str, Any]:
    return {"file_name": s.file_name, "scan_time": iso(s.time), "policy_name": s.policy_name,
            "hosts": s.hosts, "detectable": s.detectable, "reason": s.reason or None}


def report_json(r: WeeklyReport) -> dict[str, Any]:
    """The report's figures: the chosen week's at the top level, then ``scans`` and ``trend``.
    A month or quarter is named by its unit (``month``, ``month_start``, ...) and adds
    ``previous`` and ``change`` (see :func:`change_json`)."""
    unit = r.week.unit
    out: dict[str, Any] = {
        unit: r.week.label, f"{unit}_start": r.week.start.date().isoformat(),
        f"{unit}_end": r.week.last_day.isoformat(), "as_of": iso(r.week.cutoff),
        "profile": r.profile, "campaign": r.wording.campaign,
        "slice": None if r.slice.by is None else {"by": r.slice.by, "value": r.slice.value},
    }
    out.update(r.figures.as_dict())
    out["sla"] = {"met": r.figures.sla_met, "judged": r.figures.sla_judged}
    if unit != "week":
        out.update(change_json(r))
    out.update(groups_json(r.groups))
    out["scans"] = [scan_json(s) for s in r.scans]
    out["trend"] = [
        {unit: p.week.label, f"{unit}_start": p.week.start.date().isoformat(), "scans": p.scans,
         **({k: None for k in FIGURE_FIELDS} | empty_metrics() if p.figures is None
            else p.figures.as_dict()),
         **groups_json(p.groups)}
        for p in r.trend]
    return out


def change_json(r: WeeklyReport) -> dict[str, Any]:
    """``previous`` (the period before, or null when the history starts in this one) and
    ``change``: every figure and metric minus the previous period's, numbers only (the SLA
    share and the percentages in points, one decimal); null where either value is null or
    the previous period had no scan."""
    previous = r.trend[-2] if len(r.trend) > 1 else None
    before = previous.figures.as_dict() if previous and previous.figures else None
    return {"previous": previous.week.label if previous else None,
            "change": _diff(r.figures.as_dict(), before)}


def _diff(now: Any, before: Any) -> Any:
    if isinstance(now, dict):
        return {k: _diff(v, before.get(k) if isinstance(before, dict) else None)
                for k, v in now.items()}
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not isinstance(before, (int, float)):
        return None
    return round(now - before, 1) if isinstance(now, float) or isinstance(before, float) else now - before


def groups_json(groups: tuple[MetricGroup, ...]) -> dict[str, Any]:
    """``by_priority`` and ``by_team``: one entry per priority (P1 first) and per team (as
    the report sorts them; ``team`` null: assets with no team), each with every figure."""
    return {f"by_{by}": [{by: g.value, **g.figures.as_dict()} for g in groups if g.by == by]
            for by in ("priority", "team")}


def render_json(r: WeeklyReport) -> str:
    return json.dumps(report_json(r), ensure_ascii=False, indent=2) + "\n"


def write_json(r: WeeklyReport, out: str | Path) -> None:
    """Write the figures (``-`` is standard output), atomically."""
    with open_output(out) as fh:
        fh.write(render_json(r).encode("utf-8"))
