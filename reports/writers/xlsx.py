"""The one place workbooks are built: styled, filterable, formula-safe, reproducible."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from vulnpipe.reports.writers.cells import excel_value
from vulnpipe.reports.writers.output import atomic_path, normalize_zip

FIXED_TIME = datetime(2000, 1, 1)
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
HEADER_FONT = Font(bold=True, color="FFFFFF")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass
class Sheet:
    """One table: a title, column names, rows (sequences in column order)."""

    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: dict[str, int] = field(default_factory=dict)     # column -> width (characters)
    wrap: frozenset[str] = frozenset()                        # columns with long text
    choices: dict[str, Sequence[str]] = field(default_factory=dict)  # column -> allowed values


def _write_sheet(ws, sheet: Sheet) -> int:
    ws.title = sheet.title[:31]
    cols = list(sheet.columns)
    for c, name in enumerate(cols, start=1):
        cell = ws.cell(row=1, column=c, value=name)
        cell.data_type = "s"
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = TOP
    n = 1
    for n, row in enumerate(sheet.rows, start=2):
        for c, raw in enumerate(row, start=1):
            value = excel_value(raw)
            cell = ws.cell(row=n, column=c)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"        # text is text: never a formula
                if cols[c - 1] in sheet.wrap:
                    cell.alignment = WRAP
            elif isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, date):
                cell.number_format = DATE_FORMAT
    last = max(n, 1)
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{last}"
    for c, name in enumerate(cols, start=1):
        width = sheet.widths.get(name) or (60 if name in sheet.wrap else max(10, min(40, len(name) + 4)))
        ws.column_dimensions[get_column_letter(c)].width = width
    for name, values in sheet.choices.items():
        if name in cols and last > 1:
            letter = get_column_letter(cols.index(name) + 1)
            dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"',
                                allow_blank=True)
            dv.add(f"{letter}2:{letter}{last}")
            ws.add_data_validation(dv)
    return last - 1


def build_workbook(sheets: Sequence[Sheet]) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        _write_sheet(wb.create_sheet(), sheet)
    wb.properties.creator = "vulnpipe"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def save_workbook(wb: Workbook, path: str | Path) -> None:
    """Save atomically, with fixed timestamps so the same content gives the same bytes."""
    with atomic_path(path) as tmp:
        wb.save(tmp)
        normalize_zip(tmp)


def write_xlsx(path: str | Path, sheets: Sequence[Sheet]) -> None:
    save_workbook(build_workbook(sheets), path)
