"""The weekly report: where the exposure stands this week, for management and owners.

    from vulnpipe.reports.weekly import load_history, build_report, parse_week
    history = load_history(conn, profile, parse_week("2026-W48"), weeks=12, inventory=inv)
    report = build_report(history)
    write_html(report, "weekly.html"); write_xlsx(report, "weekly.xlsx")
    write_markdown(report, "weekly.md"); write_json(report, "weekly.json")

Figures are defined in :mod:`reports.weekly.figures` and documented in
``docs/weekly-report.md``.
"""
from vulnpipe.reports.weekly.figures import FIGURE_FIELDS, Figures, figures
from vulnpipe.reports.weekly.history import History, load_history, newest_scan_week
from vulnpipe.reports.weekly.html_out import render_html, write_html
from vulnpipe.reports.weekly.json_out import report_json, write_json
from vulnpipe.reports.weekly.md_out import render_markdown, write_markdown
from vulnpipe.reports.weekly.report import ALL, Slice, WeeklyReport, build_report, check_slice, slices
from vulnpipe.reports.weekly.split import file_stem, write_split
from vulnpipe.reports.weekly.weeks import Week, cut_week, parse_week, week_of
from vulnpipe.reports.weekly.xlsx_out import write_xlsx

__all__ = ["ALL", "FIGURE_FIELDS", "Figures", "History", "Slice", "Week", "WeeklyReport",
           "build_report", "check_slice", "cut_week", "figures", "file_stem", "load_history",
           "newest_scan_week", "parse_week", "render_html", "render_markdown", "report_json",
           "slices", "week_of", "write_html", "write_json", "write_markdown", "write_split",
           "write_xlsx"]
