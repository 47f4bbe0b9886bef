"""The weekly summary in Markdown: the headline figures and the top items, for e-mail or chat.

Scanner and inventory text is escaped with :func:`reports.tickets.export.md` (HTML and
Markdown specials made inert), so pasting the summary into a Markdown renderer is safe.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vulnpipe.reports.tickets.export import md
from vulnpipe.reports.weekly.figures import EXPIRY_HORIZON, FIGURE_FIELDS, FIGURE_LABELS
from vulnpipe.reports.weekly.html_out import as_of_text, metric_text, shown, template_env
from vulnpipe.reports.weekly.report import WeeklyReport, metric_lines
from vulnpipe.reports.writers.output import atomic_path

TOP_ITEMS = 10
OLDEST = 5


@dataclass(frozen=True)
class _Row:
    name: str
    value: str
    before: str


def render_markdown(r: WeeklyReport) -> str:
    env = template_env(html=False)
    env.filters["md"] = md
    previous = r.trend[-2] if len(r.trend) > 1 else None
    rows = []
    for key in FIGURE_FIELDS:
        before = "–"
        if previous is not None:
            before = "no scan" if previous.figures is None else shown(getattr(previous.figures, key), key)
        rows.append(_Row(FIGURE_LABELS[key][0], shown(getattr(r.figures, key), key), before))
    horizon = r.week.cutoff + EXPIRY_HORIZON
    expiring = [t for t in r.acceptances
                if t.acceptance_ends is not None and t.acceptance_ends <= horizon]
    unverified = [t for t in r.open_tickets if not t.verified]
    lists = []
    for title, items in (("Overdue", r.overdue_tickets), ("Resurfaced this week", r.resurfaced_tickets),
                         ("New this week", r.new_tickets),
                         ("Fixed and verified this week", r.fixed_tickets),
                         ("Risk acceptances expiring within 30 days", tuple(expiring)),
                         ("Open but not verifiable this week", tuple(unverified))):
        lists.append((f"{title} ({len(items)})", items[:TOP_ITEMS], max(0, len(items) - TOP_ITEMS)))
    if r.open_tickets:
        lists.append((f"Oldest open tickets ({min(OLDEST, len(r.oldest))} of {len(r.open_tickets)})",
                      r.oldest[:OLDEST], 0))
    metrics = []
    for label, v in metric_lines(r):
        t = metric_text(v)
        metrics.append((label, f"{t[0]} / {t[1]} / {t[2]} ({t[3]})",
                        f"{t[4]} / {t[5]} / {t[6]} / {t[7]} ({t[8]})", t[9], t[10], t[11]))
    return env.get_template("weekly_summary.md.j2").render(
        r=r, as_of=as_of_text(r), previous=previous, rows=rows, lists=lists, metrics=metrics)


def write_markdown(r: WeeklyReport, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        tmp.write_bytes(render_markdown(r).encode("utf-8"))
