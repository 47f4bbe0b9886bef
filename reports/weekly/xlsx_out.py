"""The weekly report's Excel twin: the same tables on sheets, plus a native line chart.

Cells go through :mod:`reports.xlsx` (text is always a string cell, never a formula); the
file is saved with fixed timestamps, so the same report gives the same bytes. Weeks
without scans are empty cells, which Excel's chart shows as gaps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vulnpipe.reports.writers.xlsx import Sheet, build_workbook, save_workbook
from vulnpipe.reports.weekly.figures import FIGURE_FIELDS, FIGURE_LABELS, TicketRow
from vulnpipe.reports.weekly.html_out import as_of_text, detect
from vulnpipe.reports.weekly.report import GroupRow, WeeklyReport
from vulnpipe.reports.weekly.weeks import week_of

GROUP_COUNTS = ("Open", "Overdue", "New", "Fixed (verified)", "Resurfaced", "Risk accepted",
                "Not verifiable", "Oldest open (days)")
TICKET_COLUMNS = ("Key", "Host", "Address", "Owner", "Owner email", "Team", "Business unit",
                  "Priority", "SLA days", "Due date", "Days open", "Status", "First seen",
                  "Last seen", "Asset ID", "Match")
TREND_SHEET = "Trend"
CHART_SERIES = ("open_tickets", "new", "fixed_verified")


def _group_rows(groups: Sequence[GroupRow]) -> list[list]:
    return [[*g.labels, g.open, g.overdue, g.new, g.fixed, g.resurfaced, g.risk_accepted,
             g.not_verifiable, g.oldest_days] for g in groups]


def _ticket_rows(rows: Sequence[TicketRow]) -> list[list]:
    return [[t.key, t.host, t.address, t.owner, t.owner_email, t.team, t.business_unit,
             t.priority, t.sla_days, t.due, t.days_open, t.status, t.first_seen, t.last_seen,
             t.asset_id, t.match_method] for t in rows]


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def sheets(r: WeeklyReport) -> list[Sheet]:
    f = r.figures
    summary = [["Week", r.week.label, f"{r.week.start.date()} to {r.week.last_day}"],
               ["As of", as_of_text(r), "nothing after this moment is counted"],
               ["Profile", r.profile, ""], ["Assets", r.slice.label, ""]]
    summary += [[FIGURE_LABELS[k][0], getattr(f, k), FIGURE_LABELS[k][1]] for k in FIGURE_FIELDS]
    summary.append(["SLA met / judged", f"{f.sla_met} / {f.sla_judged}",
                    "tickets within SLA / tickets the SLA applies to this week"])
    trend_cols = ("Week", "Week start", "Scans",
                  *(FIGURE_LABELS[k][0] + (" (%)" if k == "sla_compliance_pct" else "")
                    for k in FIGURE_FIELDS))
    trend = [[p.week.label, p.week.start.date(), p.scans,
              *((None,) * len(FIGURE_FIELDS) if p.figures is None
                else (getattr(p.figures, k) for k in FIGURE_FIELDS))] for p in r.trend]
    changes = [[kind, *row] for kind, rows in (("new", r.new_tickets),
                                               ("fixed (verified)", r.fixed_tickets),
                                               ("resurfaced", r.resurfaced_tickets))
               for row in _ticket_rows(rows)]
    horizon = r.week.cutoff.timestamp() + 30 * 86400
    accepted = [[t.key, t.host, t.address, t.owner, t.team, t.accepted_through,
                 "yes" if t.acceptance_ends and t.acceptance_ends.timestamp() <= horizon else "no",
                 t.approver, t.acceptance_reason] for t in r.acceptances]
    q = r.quality
    quality = [["host without an owner", h.address, h.host, h.detail, h.ticket, h.scan_file]
               for h in q.unowned_hosts]
    quality += [["ambiguous match", h.address, h.host, h.detail, h.ticket, h.scan_file]
                for h in q.ambiguous_hosts]
    quality += [["inventory asset not scanned in the period", a.asset_id, a.name,
                 f"owner {a.owner or '-'}, team {a.team or '-'}, business unit {a.business_unit or '-'}",
                 None, None] for a in q.unscanned_assets]
    quality += [["scan could not detect L2TP", s.file_name, s.policy_name, detect(s), None,
                 s.file_name] for s in q.blind_scans]
    if not q.has_inventory:
        quality.insert(0, ["no inventory", "", "", "no inventory given or stored: no host has an owner",
                           None, None])
    scans = [[week_of(s.time).label, s.file_name, s.time, s.policy_name, s.hosts,
              _yes_no(s.l2tp_detectable), s.reason] for s in r.period_scans]
    return [
        Sheet("Summary", ("Figure", "Value", "Meaning"), summary,
              widths={"Figure": 26, "Value": 34, "Meaning": 70}),
        Sheet(TREND_SHEET, trend_cols, trend),
        Sheet("Aging", ("Days open", "Open tickets"), [list(a) for a in r.aging]),
        Sheet("By business unit", ("Business unit", *GROUP_COUNTS), _group_rows(r.by_business_unit),
              widths={"Business unit": 30}),
        Sheet("By team and owner", ("Team", "Owner", *GROUP_COUNTS), _group_rows(r.by_team_owner),
              widths={"Team": 30, "Owner": 30}),
        Sheet("By priority", ("Priority", *GROUP_COUNTS), _group_rows(r.by_priority)),
        Sheet("Oldest open", TICKET_COLUMNS, _ticket_rows(r.oldest), widths={"Host": 30}),
        Sheet("Open tickets", TICKET_COLUMNS, _ticket_rows(r.open_tickets), widths={"Host": 30}),
        Sheet("Changes this week", ("Change", *TICKET_COLUMNS), changes, widths={"Host": 30}),
        Sheet("Risk acceptances", ("Key", "Host", "Address", "Owner", "Team", "Valid through",
                                   "Expires within 30 days", "Approver", "Reason"), accepted,
              widths={"Reason": 60}, wrap=frozenset({"Reason"})),
        Sheet("Data quality", ("Kind", "Address or asset", "Host, name or policy", "Detail",
                               "Ticket", "Scan"), quality,
              widths={"Kind": 40, "Detail": 70}, wrap=frozenset({"Detail"})),
        Sheet("Scans", ("Week", "Scan file", "Scan time (UTC)", "Policy", "Hosts",
                        "Can detect L2TP", "Why not"), scans,
              widths={"Scan file": 34, "Policy": 44, "Why not": 60}),
    ]


def add_trend_chart(wb, r: WeeklyReport) -> None:
    """A native Excel line chart of open / new / fixed per week beside the Trend table."""
    from openpyxl.chart import LineChart, Reference

    ws = wb[TREND_SHEET]
    n = len(r.trend)
    chart = LineChart()
    chart.title = "Open, new and fixed per week"
    chart.y_axis.title = "Tickets"
    chart.x_axis.title = "ISO week"
    chart.display_blanks = "gap"          # weeks without scans: gaps, not zeros
    chart.height, chart.width = 8.5, 18
    first_figure_col = 4                  # Week, Week start, Scans, then FIGURE_FIELDS
    for key in CHART_SERIES:
        col = first_figure_col + FIGURE_FIELDS.index(key)
        chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    ws.add_chart(chart, f"A{n + 4}")


def write_xlsx(r: WeeklyReport, out: str | Path) -> None:
    """Write the workbook atomically, byte-for-byte reproducible."""
    wb = build_workbook(sheets(r))
    add_trend_chart(wb, r)
    save_workbook(wb, out)
