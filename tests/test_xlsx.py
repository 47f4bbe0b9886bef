"""The one workbook builder (``reports.writers.xlsx``): what every workbook gets from it, so it
reads well on screen and prints well, in Excel and in LibreOffice."""
from __future__ import annotations

from datetime import date, datetime, timezone

import openpyxl
import pytest

from vulnpipe.reports.writers.xlsx import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    LINE_HEIGHT,
    MAX_WIDTH,
    Sheet,
    change,
    percent,
    shown_width,
    text_lines,
    text_width,
    write_xlsx,
)

LONG = ("The service answers on udp/1701 from the internet; disable the Routing and Remote "
        "Access role or block the port at the edge, then rescan with plugin 11387 enabled.")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "b.xlsx"
    rows = [["VP-049C5C7277", "br09-rtr.corp.example", datetime(2026, 11, 23, 2, 13, tzinfo=timezone.utc),
             date(2026, 11, 9), 34, percent(42.9), change(-1), LONG, "=HYPERLINK(\"x\")"],
            ["VP-4C4F7C1907", "10.20.7.1", None, None, 7, percent(100.0), change(3), "short",
             "tomasz.wojcik@corp.example"]]
    cols = ("Key", "Host", "First seen", "Due date", "Days open", "SLA compliance",
            "Change vs 2026-W47", "Why", "Note")
    write_xlsx(path, [Sheet("Tickets", cols, rows, wrap=frozenset({"Why"})),
                      Sheet("Empty", ("Key", "Host"), [])])
    return path


def _sheet(book):
    ws = openpyxl.load_workbook(book)["Tickets"]
    header = [c.value for c in ws[1]]
    return ws, header, (lambda name: header.index(name) + 1)


def test_columns_are_as_wide_as_their_longest_value_up_to_a_cap(book):
    ws, header, col = _sheet(book)
    width = {name: ws.column_dimensions[openpyxl.utils.get_column_letter(col(name))].width
             for name in header}
    assert width["Note"] > text_width("tomasz.wojcik@corp.example")     # e-mails in full
    assert width["Host"] > text_width("br09-rtr.corp.example")
    assert width["Key"] < width["Host"] < width["Note"]                  # from the content
    assert width["Why"] <= 50 and width["Note"] <= MAX_WIDTH             # capped


def test_dates_are_dates_with_a_column_wide_enough_for_their_format(book):
    ws, _header, col = _sheet(book)
    seen, due = ws.cell(2, col("First seen")), ws.cell(2, col("Due date"))
    assert seen.value == datetime(2026, 11, 23, 2, 13) and seen.number_format == DATETIME_FORMAT
    assert due.number_format == DATE_FORMAT
    for name, sample in (("First seen", "2026-12-31 23:59"), ("Due date", "2026-12-31")):
        letter = openpyxl.utils.get_column_letter(col(name))
        assert ws.column_dimensions[letter].width >= text_width(sample) + 1   # never ###


def test_numbers_are_numbers_counts_integers_shares_percentages(book):
    ws, _header, col = _sheet(book)
    days, share, delta = (ws.cell(2, col(n)) for n in ("Days open", "SLA compliance",
                                                       "Change vs 2026-W47"))
    assert (days.value, days.number_format) == (34, "0")
    assert share.value == pytest.approx(0.429) and share.number_format == "0.0%"
    assert delta.value == -1 and delta.number_format == "+0;-0;0"
    assert change(-7.1, "pts").number_format == '+0.0" pts";-0.0" pts";0.0" pts"'


def test_only_long_text_wraps_and_its_row_is_tall_enough(book):
    ws, header, col = _sheet(book)
    why = ws.cell(2, col("Why"))
    assert why.alignment.wrap_text
    assert not any(ws.cell(2, col(n)).alignment.wrap_text for n in header if n != "Why")
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(col("Why"))].width
    lines = text_lines(LONG, width)
    assert lines >= 3 and ws.row_dimensions[2].height >= lines * LINE_HEIGHT
    assert ws.row_dimensions[3].height is None                 # one line: the default height


def test_text_is_measured_by_its_letters_and_wrapped_at_spaces():
    assert text_width("WWWW") > text_width("1111") > text_width("iiii")
    assert shown_width("ab\nabcdef") == text_width("abcdef")   # the longest line
    assert text_lines("one two", 40) == 1 and text_lines("one\ntwo", 40) == 2
    assert text_lines("x" * 100, 22) == 5                        # a long word is broken


def test_every_sheet_prints_landscape_one_page_wide_with_the_header_repeated(book):
    wb = openpyxl.load_workbook(book)
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        assert ws.oddFooter.left.text == "&A"                       # the sheet, on every page


def test_one_sans_serif_font_and_text_that_is_never_a_formula(book):
    ws, _header, col = _sheet(book)
    assert ws.cell(1, 1).font.name == ws.cell(2, 1).font.name == "Arial"
    assert ws.cell(1, 1).font.bold
    note = ws.cell(2, col("Note"))
    assert note.value == '=HYPERLINK("x")' and note.data_type == "s"


def test_a_header_wider_than_its_values_takes_two_lines_instead_of_a_wide_column(tmp_path):
    path = tmp_path / "h.xlsx"
    write_xlsx(path, [Sheet("Counts", ("Team", "Fixed (verified)"), [["Branch IT", 1]])])
    ws = openpyxl.load_workbook(path)["Counts"]
    assert ws.column_dimensions["B"].width < text_width("Fixed (verified)")
    assert ws["B1"].alignment.wrap_text and ws.row_dimensions[1].height >= 2 * LINE_HEIGHT


def test_the_same_sheets_give_the_same_bytes(tmp_path):
    sheets = lambda: [Sheet("S", ("Key", "When"), [["VP-1", datetime(2026, 1, 1)]])]  # noqa: E731
    write_xlsx(tmp_path / "a.xlsx", sheets())
    write_xlsx(tmp_path / "b.xlsx", sheets())
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
