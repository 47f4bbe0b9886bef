"""The one place workbooks are built: styled, filterable, printable, formula-safe, reproducible.

Every sheet gets, from its content alone:

* column widths from the longest value (header included), capped; date and date-time
  columns as wide as their number format, so nothing shows as ``###``;
* long text wrapped only in the columns that need it (declared in ``Sheet.wrap``, or any
  text column whose longest value passes the cap), with row heights that fit the text;
* integers with an integer format, dates and times with theirs; a percentage or a signed
  change is passed as a :class:`Styled` value (:func:`percent`, :func:`change`);
* one sans-serif font (Arial; LibreOffice uses the metric-compatible Liberation Sans);
* a frozen, filterable header row that is repeated on every printed page, landscape A4
  pages one page wide (as many pages tall as needed), and a footer naming the sheet.
"""
from __future__ import annotations

import math
import os
import unicodedata
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from vulnpipe.reports.writers.cells import excel_value
from vulnpipe.reports.writers.output import atomic_path, normalize_zip

FIXED_TIME = datetime(2000, 1, 1)
FONT_NAME = "Arial"
FONT_SIZE = 10
HEADER_FILL = PatternFill("solid", fgColor="1F3864")
HEADER_FONT = Font(name=FONT_NAME, size=FONT_SIZE, bold=True, color="FFFFFF")
BODY_FONT = Font(name=FONT_NAME, size=FONT_SIZE)      # the workbook's default font
_RULE = Side(style="thin", color="BFBFBF")
BORDER = Border(left=_RULE, right=_RULE, top=_RULE, bottom=_RULE)   # on screen and on paper
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
INT_FORMAT = "0"
PERCENT_FORMAT = "0.0%"

#: Widths are in Excel's unit: the width of a digit of the default font (Arial 10).
MIN_WIDTH = 6
MAX_WIDTH = 40           # the widest an unwrapped column gets
WRAP_WIDTH = 50          # the widest a wrapped (long-text) column gets
PADDING = 1.5            # cell margins, so the longest value is not flush with the border
FILTER_BUTTON = 2.5      # the header's filter button takes this much room on screen
BOLD = 1.1               # bold text is about this much wider
SAFETY = 1.05            # text is measured this much wider than the font tables say
HEADER_SLACK = 4         # a header breaks onto a second line only when that saves more
LINE_HEIGHT = 12.75      # points per line of 10 pt Arial
MAX_ROW_HEIGHT = 409     # Excel's limit, in points
MAX_LINES = int(MAX_ROW_HEIGHT // LINE_HEIGHT) + 1
LONG_PARAGRAPH = 6       # a paragraph wider than this many lines is estimated, not wrapped
WRAP_LOSS = 1.15         # the share of a line word wrapping leaves empty, on average
LONG_LINE = 400          # characters: a line this long is wider than any column's cap

# Advance widths of Arial (and the metric-compatible Liberation Sans) in digit widths.
_GROUPS = {0.45: " .,:;'!|ijlIft[]/\\", 0.6: "r-(){}\"`", 0.7: "*", 0.9: "cksvxyzJ",
           1.0: "0123456789abdeghnopqu_?#$L^", 1.05: "+<=>~", 1.2: "ABEFKPSTVXYZ&",
           1.35: "CDHNRUwGOQ", 1.5: "mM", 1.6: "%", 1.8: "W@"}
_CHAR = {ch: w for w, chars in _GROUPS.items() for ch in chars}
_NARROWEST, _WIDEST = min(_GROUPS), 2.0      # 2.0: a wide East Asian character
# Each group's characters translated to one private-use code, so a text is measured by a few
# str.count calls (C speed) rather than a lookup per character.
_CODES = tuple((chr(0xE000 + i), w) for i, w in enumerate(_GROUPS))
_TO_CODE = str.maketrans({ch: chr(0xE000 + i) for i, chars in enumerate(_GROUPS.values())
                          for ch in chars})


def _char_width(ch: str) -> float:
    known = _CHAR.get(ch)
    if known is not None:
        return known
    return _WIDEST if unicodedata.east_asian_width(ch) in "WF" else 1.1


def text_width(text: str) -> float:
    """The width of one line of ``text`` in 10 pt Arial, in digit widths."""
    coded = text.translate(_TO_CODE)
    width, known = 0.0, 0
    for code, w in _CODES:
        n = coded.count(code)
        width, known = width + n * w, known + n
    if known < len(text):                      # letters outside the table: one by one
        width += sum(_char_width(ch) for ch in text if ch not in _CHAR)
    return width * SAFETY


@dataclass(frozen=True)
class Styled:
    """A number with its own format: ``value`` as stored, ``text`` as it reads (for widths)."""

    value: int | float
    number_format: str
    text: str


def percent(value: float | None) -> Styled | None:
    """A share in percent (42.9) as a percent cell: stored as 0.429, shown as 42.9%."""
    if value is None:
        return None
    return Styled(value / 100, PERCENT_FORMAT, f"{value:.1f}%")


def change(value: int | float | None, unit: str = "") -> Styled | None:
    """A signed difference (+2, -1, 0; with ``unit``, e.g. ``pts``: +1.5 pts)."""
    if value is None:
        return None
    if isinstance(value, float):
        suffix = f'" {unit}"' if unit else ""
        fmt = f"+0.0{suffix};-0.0{suffix};0.0{suffix}"
        text = f"{value:+.1f}" + (f" {unit}" if unit else "")
    else:
        fmt, text = "+0;-0;0", f"{value:+d}"
    return Styled(value, fmt, text)


@dataclass
class Sheet:
    """One table: a title, column names, rows (sequences in column order)."""

    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: dict[str, float] = field(default_factory=dict)   # column -> fixed width (rarely needed)
    wrap: frozenset[str] = frozenset()                        # columns with long text
    choices: dict[str, Sequence[str]] = field(default_factory=dict)  # column -> allowed values
    align: dict[str, str] = field(default_factory=dict)      # column -> left | center | right
    wrap_width: float = WRAP_WIDTH       # the width of wrapped columns (narrower for many)
    #: Rows written above the header row (a form's header block: each row a label, in bold,
    #: then its values); the header row follows them, frozen and filterable as always.
    preamble: Sequence[Sequence[Any]] = ()


_DATE_WIDTH = text_width("2026-12-31")
_DATETIME_WIDTH = text_width("2026-12-31 23:59")


def shown_width(value: Any) -> float:
    """How wide ``value`` is once written, in digit widths (the longest line of a text)."""
    if value is None:
        return 0.0
    if isinstance(value, Styled):
        return text_width(value.text)
    if isinstance(value, str):
        longest = max(value.split("\n"), key=len)
        if len(longest) > LONG_LINE:            # past every cap: a lower bound will do
            return len(longest) * _NARROWEST * SAFETY
        return max(map(text_width, value.split("\n")))
    if isinstance(value, bool):
        return text_width("FALSE")
    if isinstance(value, datetime):
        return _DATETIME_WIDTH
    if isinstance(value, date):
        return _DATE_WIDTH
    if isinstance(value, float):
        return text_width(f"{value:.10g}")
    if isinstance(value, int):
        return len(str(value)) * SAFETY          # digits are one unit wide
    return text_width(str(value))


def _longest(values: Iterable[Any]) -> float:
    """The widest of ``values``; a text is measured once, and not at all when it cannot be
    wider than the widest so far."""
    longest, measured = 0.0, set()
    for value in values:
        if isinstance(value, str):
            if value in measured or len(value) * _WIDEST * SAFETY <= longest:
                continue
            measured.add(value)
        longest = max(longest, shown_width(value))
    return longest


def text_lines(text: str, width: float) -> int:
    """Lines ``text`` takes when word-wrapped in a column ``width`` digits wide (at most
    :data:`MAX_LINES`: a taller row is cut at Excel's limit anyway). Short paragraphs are
    wrapped word by word; a long one is estimated (its length, plus what wrapping loses)."""
    usable = max(1.0, width - PADDING)
    lines = 0
    for paragraph in text.split("\n"):
        if len(paragraph) * _NARROWEST * SAFETY > LONG_PARAGRAPH * usable:
            # long: a digit's width per character, generous for text, is close enough
            lines += math.ceil(len(paragraph) * SAFETY * WRAP_LOSS / usable)
        elif text_width(paragraph) <= usable:
            lines += 1
        else:
            lines += _wrapped(paragraph, usable)
        if lines >= MAX_LINES:
            return MAX_LINES
    return lines


_word_width = lru_cache(maxsize=1 << 16)(text_width)     # words recur: measure each once


def _wrapped(paragraph: str, usable: float) -> int:
    """Greedy word wrapping, as Excel and LibreOffice do it: lines of one paragraph."""
    space = text_width(" ")
    lines, used = 1, 0.0
    for word in paragraph.split(" "):
        w = _word_width(word)
        if used and used + space + w > usable:
            lines, used = lines + 1, 0.0
        if w > usable:                          # a word longer than the line is broken
            more = math.ceil(w / usable) - 1
            lines, used = lines + more, w - more * usable
        else:
            used += (space if used else 0.0) + w
    return lines


def header_width(name: str) -> float:
    """The width a header needs on one line (bold, with its filter button)."""
    return text_width(name) * BOLD + PADDING + FILTER_BUTTON


def _two_lines(name: str) -> float:
    """The width a header needs when it may break at one space onto a second line."""
    words = name.split(" ")
    splits = (max(text_width(" ".join(words[:i])), text_width(" ".join(words[i:])))
              for i in range(1, len(words)))
    return min(splits, default=text_width(name)) * BOLD + PADDING + FILTER_BUTTON


def column_widths(sheet: Sheet, rows: Sequence[Sequence[Any]]
                  ) -> tuple[list[float], set[int], bool]:
    """(width of each column, indexes of the columns that wrap, whether a header takes two
    lines). A header wider than its values breaks onto a second line rather than widen the
    column: a count under "Fixed (verified)" needs no 20-digit column."""
    widths, wrapped, tall_header = [], set(), False
    for c, name in enumerate(sheet.columns):
        longest = _longest(row[c] for row in rows if c < len(row))
        wraps = name in sheet.wrap or longest > MAX_WIDTH
        values = min(sheet.wrap_width if wraps else MAX_WIDTH, longest + PADDING)
        header = header_width(name)
        if header > values + HEADER_SLACK:
            header = max(values, _two_lines(name))
        width = max(MIN_WIDTH, header, values)
        if name in sheet.widths:
            width = sheet.widths[name]
        if wraps and longest + PADDING > width:
            wrapped.add(c)
        tall_header = tall_header or width < header_width(name)
        width = round(width + 0.05, 1)        # rounded up: never narrower than measured
        widths.append(width)
    return widths, wrapped, tall_header


def _cell(ws: Any, raw: Any, wrap: bool, align: str | None, styles: dict[Any, Any]) -> Any:
    """One body cell for a write-only sheet: the value (text always a text cell, never a
    formula), its number format, border and alignment."""
    fmt = None
    if isinstance(raw, Styled):
        cell = WriteOnlyCell(ws, raw.value)
        fmt = raw.number_format
    else:
        value = excel_value(raw)
        cell = WriteOnlyCell(ws, value)
        if isinstance(value, str):
            cell.data_type = "s"        # text is text: never a formula
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            fmt = INT_FORMAT
        elif isinstance(value, datetime):
            fmt = DATETIME_FORMAT
        elif isinstance(value, date):
            fmt = DATE_FORMAT
    # the font is the workbook's default (Arial); the rest is set once per look through
    # openpyxl's API, then its style record (cell._style) is copied: setting each attribute
    # on every cell would cost more than the rest of the build
    look = (fmt, wrap, align)
    if look in styles:
        cell._style = copy(styles[look])
    else:
        if fmt is not None:
            cell.number_format = fmt
        cell.border = BORDER
        cell.alignment = _alignment(wrap, align)
        styles[look] = copy(cell._style)
    return cell


@lru_cache(maxsize=None)
def _alignment(wrap: bool, horizontal: str | None) -> Alignment:
    return Alignment(vertical="top", wrap_text=wrap or None, horizontal=horizontal)


def _page_setup(ws, columns: int, header_row: int = 1) -> None:
    """Landscape A4, one page wide, the header row on every page, a footer naming the sheet."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.25,
                                  footer=0.3)
    if columns:
        ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.right.text = "Page &P of &N"


def _write_sheet(wb: Workbook, sheet: Sheet, extra: Callable[[Any], None] | None = None) -> int:
    """Stream ``sheet`` into a new write-only worksheet of ``wb`` (rows are written as they
    come, so a big sheet costs no more memory than a row); ``extra(ws)`` adds what goes
    beside the rows (a chart)."""
    ws = wb.create_sheet(sheet.title[:31])
    cols = list(sheet.columns)
    rows = [list(row) for row in sheet.rows]
    widths, wrapped, tall_header = column_widths(sheet, rows)
    # what the sheet's XML holds before its rows: sizes, the frozen header, page fitting
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    top = len(sheet.preamble) + 1            # the header row
    ws.freeze_panes = f"A{top + 1}"
    _page_setup(ws, len(cols), top)
    last = len(rows) + top
    if cols:
        ws.auto_filter.ref = f"A{top}:{get_column_letter(len(cols))}{last}"
    for name, values in sheet.choices.items():
        if name in cols and last > top:
            letter = get_column_letter(cols.index(name) + 1)
            dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"',
                                allow_blank=True)
            dv.add(f"{letter}{top + 1}:{letter}{last}")
            ws.data_validations.append(dv)
    styles: dict[Any, Any] = {}
    for pre in sheet.preamble:
        cells = [_cell(ws, raw, False, None, styles) for raw in pre]
        if cells:                            # the label, in bold
            cells[0].font = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
        ws.append(cells)
    header = []
    looks: dict[str | None, Any] = {}      # a header's style record, by its alignment
    for name in cols:
        cell = WriteOnlyCell(ws, name)
        cell.data_type = "s"
        align = sheet.align.get(name)
        if align in looks:
            cell._style = copy(looks[align])
        else:
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.border = BORDER
            cell.alignment = _alignment(tall_header, align)
            looks[align] = copy(cell._style)
        header.append(cell)
    if tall_header:
        ws.row_dimensions[top].height = 2 * LINE_HEIGHT + 2
    ws.append(header)
    aligns = [sheet.align.get(name) for name in cols]
    for n, row in enumerate(rows, start=top + 1):
        lines = 1
        cells = []
        for c, raw in enumerate(row):
            wrap = c in wrapped
            cell = _cell(ws, raw, wrap, aligns[c] if c < len(aligns) else None, styles)
            if wrap and isinstance(cell.value, str):
                lines = max(lines, text_lines(cell.value, widths[c]))
            cells.append(cell)
        if lines > 1:                   # (a row's height is written with the row)
            ws.row_dimensions[n].height = min(MAX_ROW_HEIGHT, lines * LINE_HEIGHT + 2)
        ws.append(cells)
    if extra is not None:
        extra(ws)
    return last - top


def _default_font(wb: Workbook) -> None:
    """Arial 10 as the workbook's default font (font 0 and the Normal style): Excel and
    LibreOffice measure column widths in its digits, so the widths computed here hold in
    both (LibreOffice would otherwise measure with its stand-in for Calibri)."""
    from openpyxl.utils.indexed_list import IndexedList

    wb._fonts = IndexedList([BODY_FONT])
    wb._named_styles["Normal"].font = BODY_FONT


def build_workbook(sheets: Sequence[Sheet],
                   extras: dict[str, Callable[[Any], None]] | None = None) -> Workbook:
    """A write-only workbook of ``sheets`` (``extras``: sheet title -> what to add to that
    sheet after its rows, e.g. a chart). Save it with :func:`save_workbook`."""
    wb = Workbook(write_only=True)
    _default_font(wb)
    for sheet in sheets:
        _write_sheet(wb, sheet, (extras or {}).get(sheet.title))
    wb.properties.creator = "vulnpipe"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def save_workbook(wb: Workbook, path: str | Path) -> None:
    """Save atomically, with fixed timestamps so the same content gives the same bytes. When
    saving fails (no room, no such folder) the streamed sheets are finished and their
    temporary files removed, so nothing is left behind and nothing is printed at exit."""
    try:
        with atomic_path(path) as tmp:
            wb.save(tmp)
            normalize_zip(tmp)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    for ws in wb.worksheets:
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - already saved or half written: only clean up
            pass
        out = getattr(getattr(ws, "_writer", None), "out", None)
        if out and os.path.exists(out):
            os.remove(out)


def write_xlsx(path: str | Path, sheets: Sequence[Sheet]) -> None:
    save_workbook(build_workbook(sheets), path)
