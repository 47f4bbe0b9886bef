"""The weekly report as one self-contained HTML page (``templates/weekly.html.j2``).

Jinja2 renders with autoescape always on and nothing is marked safe: host names, plugin
output and inventory values are attacker-influenced text. The page has no script, loads
nothing (a ``default-src 'none'`` Content-Security-Policy), and draws its charts as inline
SVG from :mod:`reports.weekly.charts`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from vulnpipe.reports.weekly.charts import aging_chart, trend_chart
from vulnpipe.reports.weekly.figures import (
    EXPIRY_HORIZON,
    FIGURE_FIELDS,
    FIGURE_LABELS,
    METRIC_FIELDS,
    METRIC_LABELS,
    worded,
)
from vulnpipe.reports.weekly.history import ScanRow
from vulnpipe.reports.weekly.report import (
    METRIC_COLUMNS,
    PERCENT_COLUMNS,
    WeeklyReport,
    metric_change,
    metric_lines,
    metric_values,
)
from vulnpipe.reports.writers.output import atomic_path

TREND_FIELDS = ("open_tickets", "new", "fixed_verified", "resurfaced", "overdue",
                "risk_accepted", "not_verifiable", "sla_compliance_pct")


@functools.lru_cache(maxsize=None)     # one per process: templates compile once
def template_env(*, html: bool):
    """The Jinja2 environment for the report templates (autoescape on for HTML)."""
    from importlib import resources

    import jinja2

    loader = jinja2.FunctionLoader(
        lambda name: resources.files("vulnpipe.templates").joinpath(name).read_text("utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=html, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(day=day, when=when, num=num, detect=detect, shown=shown)
    return env


def day(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).date()
    return value.isoformat()


def when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else "–"


def num(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def shown(value, key: str) -> str:
    """A figure as people read it: ``–`` for none, the SLA share with ``%``."""
    if value is None:
        return "–"
    return f"{value:.1f}%" if key == "sla_compliance_pct" else num(value)


def detect(scan: ScanRow) -> str:
    if scan.detectable is True:
        return "yes"
    return ("no: " if scan.detectable is False else "unknown: ") + scan.reason


def as_of_text(r: WeeklyReport) -> str:
    if r.week.complete:
        return f"the end of {r.week.last_day.isoformat()} (UTC)"
    return r.week.cutoff.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Card:
    field: str
    name: str
    value: str
    meaning: str
    delta: str
    tone: str


def _cards(r: WeeklyReport) -> list[Card]:
    f = r.figures
    previous = r.trend[-2] if len(r.trend) > 1 else None
    labels = worded(FIGURE_LABELS, r.week.unit)
    cards = []
    for key in FIGURE_FIELDS:
        name, meaning = labels[key]
        value = getattr(f, key)
        if key == "sla_compliance_pct":
            meaning = f"{meaning} ({f.sla_met} of {f.sla_judged})"
        delta = ""
        if previous is not None:
            if previous.figures is None:
                delta = f"no scan in {previous.week.label}"
            else:
                before = getattr(previous.figures, key)
                if before is not None and value is not None:   # the SLA share in points
                    delta = f"{signed(value - before, key == 'sla_compliance_pct')} vs {previous.week.label}"
        tone = ""
        if key in ("overdue", "resurfaced", "not_verifiable", "expiring_30d") and value:
            tone = "bad"
        elif key == "fixed_verified" and value:
            tone = "good"
        cards.append(Card(key, name, shown(value, key), meaning, delta, tone))
    return cards


def metric_text(values: list) -> list[str]:
    """A line of metrics as text: ``–`` for none, shares with ``%``."""
    return [("–" if v is None else f"{v:.1f}%") if col in PERCENT_COLUMNS else num(v)
            for col, v in zip(METRIC_COLUMNS, values)]


def metric_trend(r: WeeklyReport) -> list[tuple[str, list[str] | None]]:
    """Per trend week: the report's assets' metrics as text (None: a gap); for a month or
    quarter, then the change against the previous one."""
    lines = [(p.week.label, None if p.figures is None else metric_text(metric_values(p.figures)))
             for p in r.trend]
    change = metric_change(r)
    if change is not None:
        lines.append((change[0], change_text(change[1])))
    return lines


def change_text(values: list) -> list[str]:
    """A line of metric changes as text: signed, shares in points."""
    return [signed(v, col in PERCENT_COLUMNS) for col, v in zip(METRIC_COLUMNS, values)]


def signed(value: float | int | None, points: bool = False) -> str:
    """A change as text: ``+2``, ``−1.5``, ``±0``; shares in points (``+4.2 pts``)."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    amount = f"{abs(value):.1f}" if isinstance(value, float) else str(abs(value))
    return sign + amount + (" pts" if points else "")


def render_html(r: WeeklyReport) -> str:
    """The page as text (same report, same bytes)."""
    return template_env(html=True).get_template("weekly.html.j2").render(**body_args(r))


def body_args(r: WeeklyReport) -> dict[str, Any]:
    """What the report's body (``weekly_body.j2``) is rendered from."""
    unit = r.week.unit
    labels, metric_labels = worded(FIGURE_LABELS, unit), worded(METRIC_LABELS, unit)
    trend_fields = [Card(k, labels[k][0], "", "", "", "") for k in TREND_FIELDS]
    changes = [(f"New this {unit}", r.new_tickets), (f"Fixed and verified this {unit}", r.fixed_tickets),
               (f"Resurfaced this {unit}", r.resurfaced_tickets)]
    breakdowns = [("By business unit", ("Business unit",), r.by_business_unit, True),
                  ("By priority", ("Priority",), r.by_priority, True),
                  ("By team and owner", ("Team", "Owner"), r.by_team_owner, True)]
    definitions = [Card(k, labels[k][0], "", labels[k][1], "", "") for k in FIGURE_FIELDS]
    metric_definitions = [Card(k, metric_labels[k][0], "", metric_labels[k][1], "", "")
                          for k in METRIC_FIELDS]
    return dict(r=r, as_of=as_of_text(r), cards=_cards(r), trend_chart=trend_chart(r.trend),
                aging_chart=aging_chart(r.aging), trend_fields=trend_fields,
                breakdowns=breakdowns, changes=changes, definitions=definitions,
                metric_lines=[(label, metric_text(values)) for label, values in metric_lines(r)],
                metric_trend=metric_trend(r), metric_definitions=metric_definitions,
                horizon=r.week.cutoff + EXPIRY_HORIZON)


def write_html(r: WeeklyReport, out: str | Path) -> None:
    """Write the page atomically (UTF-8)."""
    with atomic_path(out) as tmp:
        tmp.write_bytes(render_html(r).encode("utf-8"))
