"""The weekly report's Excel twin: the same tables on sheets, plus the trend chart.

Cells go through :mod:`reports.writers.xlsx` (text is always a string cell, never a formula;
widths, formats and page setup from the content); the file is saved with fixed timestamps,
so the same report gives the same bytes. Weeks without scans are empty cells, which the
chart shows as gaps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from vulnpipe.reports.weekly.charts import FIXED_COLOUR, NEW_COLOUR, OPEN_COLOUR, nice_max
from vulnpipe.reports.weekly.figures import FIGURE_FIELDS, FIGURE_LABELS, TicketRow
from vulnpipe.reports.weekly.html_out import detect
from vulnpipe.reports.weekly.report import (
    METRIC_COLUMNS,
    PERCENT_COLUMNS,
    GroupRow,
    WeeklyReport,
    metric_lines,
    metric_values,
)
from vulnpipe.reports.weekly.weeks import week_of
from vulnpipe.reports.writers.xlsx import Sheet, build_workbook, change, percent, save_workbook

GROUP_COUNTS = ("Open", "Overdue", "New", "Fixed (verified)", "Resurfaced", "Risk accepted",
                "Not verifiable", "Oldest open (days)")
TICKET_COLUMNS = ("Key", "Priority", "Host", "Address", "Owner", "Team", "Business unit",
                  "Due date", "Days open", "Status", "First seen", "Last seen")
TREND_SHEET = "Trend"
GAP_NOTE = "no scan this week: a gap, not zero"


def _group_rows(groups: Sequence[GroupRow]) -> list[list]:
    return [[*g.labels, g.open, g.overdue, g.new, g.fixed, g.resurfaced, g.risk_accepted,
             g.not_verifiable, g.oldest_days] for g in groups]


def _ticket_rows(rows: Sequence[TicketRow]) -> list[list]:
    return [[t.key, t.priority, t.name, t.address, t.owner, t.team, t.business_unit, t.due,
             t.days_open, t.status, t.first_seen, t.last_seen] for t in rows]


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _figure(key: str, value):
    return percent(value) if key == "sla_compliance_pct" else value


def _metric_cells(values: list) -> list:
    return [percent(v) if col in PERCENT_COLUMNS else v for col, v in zip(METRIC_COLUMNS, values)]


def summary_sheet(r: WeeklyReport) -> Sheet:
    """Label | value | change against the previous week | meaning."""
    f = r.figures
    previous = r.trend[-2] if len(r.trend) > 1 else None
    if r.week.complete:
        as_of = [r.week.last_day, "the end of that day (UTC): nothing later is counted"]
    else:
        as_of = [r.week.cutoff, "UTC: nothing after this moment is counted"]
    rows: list[list[Any]] = [
            ["Week", r.week.label, None, f"{r.week.start.date()} to {r.week.last_day}"],
            ["As of", as_of[0], None, as_of[1]],
            ["Profile", r.profile, None, "the findings the tickets are about"],
            ["Assets", r.slice.label, None, "the assets this report covers"]]
    for key in FIGURE_FIELDS:
        name, meaning = FIGURE_LABELS[key]
        value = getattr(f, key)
        delta: Any = None
        if previous is not None and previous.figures is None:
            delta = "no scan"
        elif previous is not None:
            before = getattr(previous.figures, key)
            if value is not None and before is not None:
                delta = (change(round(value - before, 1), "pts") if key == "sla_compliance_pct"
                         else change(value - before))
        if key == "sla_compliance_pct":
            meaning = f"{meaning} ({f.sla_met} of {f.sla_judged})"
        rows.append([name, _figure(key, value), delta, meaning])
    versus = f"Change vs {previous.week.label}" if previous is not None else "Change"
    return Sheet("Summary", ("Figure", "Value", versus, "Meaning"), rows,
                 align={"Value": "left", versus: "left"})


def sheets(r: WeeklyReport) -> list[Sheet]:
    trend_cols = ("Week", "Week start", "Scans", *(FIGURE_LABELS[k][0] for k in FIGURE_FIELDS),
                  "Note")
    trend = [[p.week.label, p.week.start.date(), p.scans,
              *((None,) * len(FIGURE_FIELDS) if p.figures is None
                else (_figure(k, getattr(p.figures, k)) for k in FIGURE_FIELDS)),
              GAP_NOTE if p.figures is None else None] for p in r.trend]
    changes = [[kind, *row] for kind, rows in (("new", r.new_tickets),
                                               ("fixed (verified)", r.fixed_tickets),
                                               ("resurfaced", r.resurfaced_tickets))
               for row in _ticket_rows(rows)]
    horizon = r.week.cutoff.timestamp() + 30 * 86400
    accepted = [[t.key, t.name, t.address, t.owner, t.team, t.accepted_through,
                 "yes" if t.acceptance_ends and t.acceptance_ends.timestamp() <= horizon else "no",
                 t.approver, t.acceptance_reason] for t in r.acceptances]
    q = r.quality
    quality = [["host without an owner", h.label, h.detail, h.ticket, h.scan_file]
               for h in q.unowned_hosts]
    quality += [["ambiguous match", h.label, h.detail, h.ticket, h.scan_file]
                for h in q.ambiguous_hosts]
    quality += [["inventory asset not scanned in the period",
                 f"{a.asset_id} ({a.name})" if a.name else a.asset_id,
                 f"owner {a.owner or '-'}, team {a.team or '-'}, business unit {a.business_unit or '-'}",
                 None, None] for a in q.unscanned_assets]
    quality += [[f"scan could not detect {r.wording.campaign}", s.file_name,
                 f"policy {s.policy_name or '(none in the file)'}: {detect(s)}", None, None]
                for s in q.blind_scans]
    if not q.has_inventory:
        quality.insert(0, ["no inventory", None, "no inventory given or stored: no host has an owner",
                           None, None])
    scans = [[week_of(s.time).label, s.file_name, s.time, s.policy_name, s.hosts,
              _yes_no(s.detectable), s.reason] for s in r.period_scans]
    metrics = [[label, *_metric_cells(values)] for label, values in metric_lines(r)]
    metric_trend = [[p.week.label, *(_metric_cells(metric_values(p.figures)) if p.figures
                                     else [None] * len(METRIC_COLUMNS)),
                     GAP_NOTE if p.figures is None else None] for p in r.trend]
    return [
        summary_sheet(r),
        Sheet(TREND_SHEET, trend_cols, trend),
        Sheet("Metrics", ("Assets", *METRIC_COLUMNS), metrics),
        Sheet("Metrics trend", ("Week", *METRIC_COLUMNS, "Note"), metric_trend),
        Sheet("Aging", ("Days open", "Open tickets"), [list(a) for a in r.aging]),
        Sheet("By business unit", ("Business unit", *GROUP_COUNTS), _group_rows(r.by_business_unit)),
        Sheet("By team and owner", ("Team", "Owner", *GROUP_COUNTS), _group_rows(r.by_team_owner)),
        Sheet("By priority", ("Priority", *GROUP_COUNTS), _group_rows(r.by_priority)),
        Sheet("Oldest open", TICKET_COLUMNS, _ticket_rows(r.oldest)),
        Sheet("Open tickets", TICKET_COLUMNS, _ticket_rows(r.open_tickets)),
        Sheet("Changes this week", ("Change", *TICKET_COLUMNS), changes),
        Sheet("Risk acceptances", ("Key", "Host", "Address", "Owner", "Team", "Valid through",
                                   "Expires within 30 days", "Approver", "Reason"), accepted,
              wrap=frozenset({"Reason"})),
        Sheet("Data quality", ("Kind", "Host, asset or scan", "Detail", "Ticket", "Seen in scan"),
              quality, wrap=frozenset({"Detail"})),
        Sheet("Scans", ("Week", "Scan file", "Scan time (UTC)", "Policy", "Hosts",
                        f"Can detect {r.wording.campaign}", "Why not"), scans,
              wrap=frozenset({"Why not"})),
    ]


def _colour(series, rgb: str, *, line: bool = False) -> None:
    props = series.graphicalProperties
    if line:
        props.line.solidFill = rgb
        props.line.width = 28575          # 2.25 pt, in EMU
    else:
        props.solidFill = rgb
        props.line.solidFill = rgb


def add_trend_chart(ws, r: WeeklyReport) -> None:
    """The HTML report's trend chart, natively: bars for new and fixed, a straight line with
    markers and values for open tickets, the axis from zero; weeks without scans are gaps."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.chart.axis import ChartLines
    from openpyxl.chart.label import DataLabelList

    n = len(r.trend)
    first_figure_col = 4                  # Week, Week start, Scans, then FIGURE_FIELDS

    def column(key: str) -> Reference:
        col = first_figure_col + FIGURE_FIELDS.index(key)
        return Reference(ws, min_col=col, min_row=1, max_row=n + 1)

    weeks = Reference(ws, min_col=1, min_row=2, max_row=n + 1)
    bars = BarChart()
    bars.type, bars.grouping, bars.gapWidth = "col", "clustered", 80
    for key, colour in (("new", NEW_COLOUR), ("fixed_verified", FIXED_COLOUR)):
        bars.add_data(column(key), titles_from_data=True)
        _colour(bars.series[-1], colour)
    bars.set_categories(weeks)
    line = LineChart()
    line.add_data(column("open_tickets"), titles_from_data=True)
    line.set_categories(weeks)
    opened = line.series[0]
    opened.smooth = False                 # straight segments: a curve would invent values
    _colour(opened, OPEN_COLOUR, line=True)
    opened.marker.symbol, opened.marker.size = "circle", 6
    opened.marker.graphicalProperties.solidFill = OPEN_COLOUR
    opened.marker.graphicalProperties.line.solidFill = OPEN_COLOUR
    opened.dLbls = DataLabelList(showVal=True, showSerName=False, showCatName=False,
                                 showLegendKey=False, dLblPos="t")
    values = [getattr(p.figures, k) for p in r.trend if p.figures
              for k in ("open_tickets", "new", "fixed_verified")]
    top = nice_max(max(values, default=0))
    bars.y_axis.scaling.min, bars.y_axis.scaling.max = 0, top
    bars.y_axis.majorUnit = top / 4
    bars.y_axis.title = "Tickets"
    bars.x_axis.title = "ISO week"
    bars.x_axis.delete = bars.y_axis.delete = False
    bars.y_axis.majorGridlines = ChartLines()
    bars += line                          # one plot: the line shares the bars' axes
    bars.title = "Open, new and fixed per week"
    bars.legend.position = "b"            # below the plot: every name in full
    bars.display_blanks = "gap"           # weeks without scans: gaps, not zeros
    bars.height, bars.width = 9, 20
    ws.add_chart(bars, f"A{n + 4}")


def write_xlsx(r: WeeklyReport, out: str | Path) -> None:
    """Write the workbook atomically, byte-for-byte reproducible."""
    wb = build_workbook(sheets(r), extras={TREND_SHEET: lambda ws: add_trend_chart(ws, r)})
    save_workbook(wb, out)
