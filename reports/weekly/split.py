"""One report per team or business unit, in one folder, with safe file names.

File names never hold raw inventory text: a slug of the value (ASCII letters and digits,
at most 40 characters) plus 8 hex digits of SHA-256 over the value, so two teams whose
names slug alike still get different files. ``index.json`` maps every value to its files.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from vulnpipe.reports.weekly.history import History
from vulnpipe.reports.weekly.html_out import write_html
from vulnpipe.reports.weekly.json_out import write_json
from vulnpipe.reports.weekly.md_out import write_markdown
from vulnpipe.reports.weekly.report import Slice, build_report, slices
from vulnpipe.reports.weekly.xlsx_out import write_xlsx
from vulnpipe.reports.writers.output import open_output

SLUG_MAX = 40
SUFFIXES = {"html": ".html", "xlsx": ".xlsx", "markdown": ".md", "json": ".json"}


def slug(text: str | None) -> str:
    """Lower-case ASCII letters, digits and single hyphens (``none`` for no value)."""
    if text is None:
        return "none"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")
    return s or "x"


def file_stem(sl: Slice, week_label: str) -> str:
    """``weekly-2026-W48-team-branch-it-1a2b3c4d``: safe on every file system."""
    digest = hashlib.sha256(f"{sl.by}\x00{'' if sl.value is None else sl.value}"
                            .encode("utf-8")).hexdigest()[:8]
    return f"weekly-{week_label}-{(sl.by or 'all').replace('_', '-')}-{slug(sl.value)}-{digest}"


def write_split(history: History, by: str, directory: str | Path) -> list[dict[str, Any]]:
    """Write HTML, Excel, Markdown and JSON per ``by`` value into ``directory``, and
    ``index.json``; return the index entries (sorted as :func:`slices` sorts)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    index = []
    for sl in slices(history, by):
        report = build_report(history, sl)
        stem = file_stem(sl, history.week.label)
        files = {kind: stem + suffix for kind, suffix in SUFFIXES.items()}
        write_html(report, d / files["html"])
        write_xlsx(report, d / files["xlsx"])
        write_markdown(report, d / files["markdown"])
        write_json(report, d / files["json"])
        index.append({"by": by, "value": sl.value, "files": files,
                      "open_tickets": report.figures.open_tickets,
                      "overdue": report.figures.overdue})
    with open_output(d / "index.json") as fh:
        fh.write((json.dumps({"week": history.week.label, "by": by, "reports": index},
                             ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return index
