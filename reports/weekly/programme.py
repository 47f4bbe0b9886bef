"""The programme report: every campaign's weekly report at once, with one headline row per
campaign (``report weekly`` without ``--profile`` when ``[profiles] campaigns`` names several).

The HTML page puts an overview table above each campaign's own report (a section each,
linked from its row); the workbook has an ``Overview`` sheet and one summary sheet per
campaign; the JSON is ``{"week": ..., "campaigns": {name: figures}}``; the Markdown is the
overview followed by each campaign's summary. Each campaign's part is exactly its own weekly
report: its wording, coverage and figures follow its profile.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vulnpipe.ingest.records import iso
from vulnpipe.reports.tickets.export import md
from vulnpipe.reports.weekly.figures import FIGURE_LABELS
from vulnpipe.reports.weekly.html_out import as_of_text, body_args, shown, template_env
from vulnpipe.reports.weekly.json_out import report_json
from vulnpipe.reports.weekly.md_out import render_markdown
from vulnpipe.reports.weekly.report import WeeklyReport
from vulnpipe.reports.weekly.weeks import Week
from vulnpipe.reports.weekly.xlsx_out import summary_sheet
from vulnpipe.reports.writers.output import atomic_path, open_output
from vulnpipe.reports.writers.xlsx import Sheet, build_workbook, percent, save_workbook

#: The headline figures of each campaign's row, in order.
HEADLINE = ("open_tickets", "new", "fixed_verified", "overdue", "sla_compliance_pct")
#: The row's time from first report to verified fix: the median of the week's ``mttr_days``.
TIME_TO_VERIFIED_FIX = "time_to_verified_fix"
TIME_TO_FIX_LABEL = "Time to verified fix (median days)"
TIME_TO_FIX_NOTE = ("Time to verified fix: the median days from a ticket's first report (or its "
                    "last resurfacing) to the covering rescan that proved it fixed, over the "
                    "tickets verified fixed this week (empty: none was).")


@dataclass(frozen=True)
class Programme:
    """Each campaign's weekly report for one week, in the configured order."""

    names: tuple[str, ...]                  # the campaigns' profile names
    reports: tuple[WeeklyReport, ...]

    @property
    def week(self) -> Week:
        return self.reports[0].week

    @property
    def title(self) -> str:
        return "Remediation programme: " + ", ".join(r.wording.campaign for r in self.reports)

    def anchors(self) -> list[str]:
        """Each campaign's section id (``campaign-pptp``), unique, from its name."""
        out: list[str] = []
        for i, name in enumerate(self.names):
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or str(i + 1)
            anchor = f"campaign-{slug}"
            out.append(anchor if anchor not in out else f"{anchor}-{i + 1}")
        return out


def time_to_verified_fix(r: WeeklyReport) -> Any:
    """The campaign's median time to verified fix this week in days (None: no verified fix)."""
    return r.figures.mttr_days.median


def headline(r: WeeklyReport) -> dict[str, Any]:
    """The campaign's row: :data:`HEADLINE` figures and the time to verified fix."""
    return {**{k: getattr(r.figures, k) for k in HEADLINE},
            TIME_TO_VERIFIED_FIX: time_to_verified_fix(r)}


def programme_json(p: Programme) -> dict[str, Any]:
    """``week`` and ``campaigns``: each campaign's figures as its own report's JSON, with its
    time to verified fix (None until the figures carry it)."""
    w = p.week
    return {"week": w.label, "week_start": w.start.date().isoformat(),
            "week_end": w.last_day.isoformat(), "as_of": iso(w.cutoff),
            "campaigns": {name: {**report_json(r), TIME_TO_VERIFIED_FIX: time_to_verified_fix(r)}
                          for name, r in zip(p.names, p.reports)}}


def write_programme_json(p: Programme, out: str | Path) -> None:
    with open_output(out) as fh:
        fh.write((json.dumps(programme_json(p), ensure_ascii=False, indent=2) + "\n").encode())


def _columns() -> list[str]:
    return [*(FIGURE_LABELS[k][0] for k in HEADLINE), TIME_TO_FIX_LABEL]


def render_programme_html(p: Programme) -> str:
    sections = []
    for name, anchor, r in zip(p.names, p.anchors(), p.reports):
        row = headline(r)
        values = [shown(row[k], k) for k in HEADLINE] + [shown(row[TIME_TO_VERIFIED_FIX], "")]
        sections.append({"name": name, "anchor": anchor, "args": body_args(r), "cells": values})
    return template_env(html=True).get_template("weekly_programme.html.j2").render(
        p=p, as_of=as_of_text(p.reports[0]), sections=sections, columns=_columns(),
        time_to_fix_note=TIME_TO_FIX_NOTE)


def write_programme_html(p: Programme, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        tmp.write_bytes(render_programme_html(p).encode("utf-8"))


def _sheet_titles(p: Programme) -> list[str]:
    """One sheet title per campaign: its label, cut to Excel's 31 characters, unique."""
    out: list[str] = []
    for i, r in enumerate(p.reports):
        title = re.sub(r"[\[\]:*?/\\]", " ", r.wording.campaign).strip()[:31] or f"Campaign {i + 1}"
        if title in out or title == "Overview":
            title = f"{title[:27]} ({i + 1})"
        out.append(title)
    return out


def programme_sheets(p: Programme) -> list[Sheet]:
    """``Overview`` (a row per campaign), then each campaign's summary on a sheet of its own."""
    rows = []
    for name, title, r in zip(p.names, _sheet_titles(p), p.reports):
        row = headline(r)
        rows.append([title, name, r.wording.heading,
                     *(percent(row[k]) if k == "sla_compliance_pct" else row[k] for k in HEADLINE),
                     row[TIME_TO_VERIFIED_FIX]])
    overview = Sheet("Overview", ("Campaign (sheet)", "Profile", "Report", *_columns()), rows)
    return [overview, *(replace(summary_sheet(r), title=title)
                        for title, r in zip(_sheet_titles(p), p.reports))]


def write_programme_xlsx(p: Programme, out: str | Path) -> None:
    save_workbook(build_workbook(programme_sheets(p)), out)


def render_programme_markdown(p: Programme) -> str:
    head = [f"# {md(p.title)}", "", f"Week {p.week.label}, figures as of {as_of_text(p.reports[0])}.",
            "", "| Campaign | " + " | ".join(_columns()) + " |",
            "|---|" + "---:|" * len(_columns())]
    for r in p.reports:
        row = headline(r)
        values = [shown(row[k], k) for k in HEADLINE] + [shown(row[TIME_TO_VERIFIED_FIX], "")]
        head.append(f"| {md(r.wording.heading)} | " + " | ".join(values) + " |")
    return "\n".join(head) + "\n\n" + "\n".join(render_markdown(r) for r in p.reports)


def write_programme_markdown(p: Programme, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        tmp.write_bytes(render_programme_markdown(p).encode("utf-8"))
