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
    """The report's figures: the chosen week's at the top level, then ``scans`` and ``trend``."""
    out: dict[str, Any] = {
        "week": r.week.label, "week_start": r.week.start.date().isoformat(),
        "week_end": r.week.last_day.isoformat(), "as_of": iso(r.week.cutoff),
        "profile": r.profile, "campaign": r.wording.campaign,
        "slice": None if r.slice.by is None else {"by": r.slice.by, "value": r.slice.value},
    }
    out.update(r.figures.as_dict())
    out["sla"] = {"met": r.figures.sla_met, "judged": r.figures.sla_judged}
    out.update(groups_json(r.groups))
    out["scans"] = [scan_json(s) for s in r.scans]
    out["trend"] = [
        {"week": p.week.label, "week_start": p.week.start.date().isoformat(), "scans": p.scans,
         **({k: None for k in FIGURE_FIELDS} | empty_metrics() if p.figures is None
            else p.figures.as_dict()),
         **groups_json(p.groups)}
        for p in r.trend]
    return out


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
