"""The workbooks open cleanly in LibreOffice (headless), hostile text stays text, dates are
dates, and every workbook of the sample run prints well: converted to PDF the way a manager
or auditor would print it, nothing reads ``###``, every sheet is landscape and one page wide
with its column headers in full, and a sheet of up to ~40 lines fits one page.

CI (``.ci/run``) installs Debian's ``libreoffice-calc-nogui`` and ``poppler-utils``; elsewhere
these tests skip with a clear message when no ``soffice`` (or ``pdftotext``) is found.
"""
from __future__ import annotations

import csv
import math
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.reports.writers.xlsx import LINE_HEIGHT

#: every test here starts LibreOffice (a few seconds each on 2 cores)
pytestmark = pytest.mark.slow

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)"]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def soffice():
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        pytest.skip("no LibreOffice found (apt-get install libreoffice-calc-nogui): "
                    "workbook checks in LibreOffice skipped")
    return path


def _convert(soffice, books, outdir, target):
    """Convert ``books`` with LibreOffice headless (its own profile) into ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / "lo-profile"
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                        "--norestore", "--convert-to", target, "--outdir", str(outdir),
                        *map(str, books)], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-1000:]
    return r


CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def _sheets_as_csv(soffice, books, outdir):
    """Every sheet of each of ``books`` as rows, as LibreOffice reads it (formulas would be
    computed): book name -> sheet name -> rows. One LibreOffice run converts them all."""
    r = _convert(soffice, books, outdir, CSV)
    out = {}
    for book in books:
        sheets = {}
        for path in outdir.glob(f"{book.stem}-*.csv"):
            with open(path, newline="", encoding="utf-8") as fh:
                sheets[path.stem[len(book.stem) + 1:]] = list(csv.reader(fh))
        assert sheets, r.stdout.decode(errors="replace")
        out[book.name] = sheets
    return out


@pytest.fixture(scope="module")
def opened(soffice, tmp_path_factory):
    """The workbooks of the two tests below, written by vulnpipe and read back by
    LibreOffice in one run (starting it takes seconds): book name -> sheet name -> rows."""
    tmp_path = tmp_path_factory.mktemp("opened")
    # a tickets workbook of hostile host names and plugin output
    hosts = [nb.HostSpec(text, ip=f"10.0.0.{i + 1}", start=T0, end=T0 + timedelta(minutes=2),
                         items=[nb.l2tp(output=text)]) for i, text in enumerate(HOSTILE)]
    scan = nb.write(tmp_path / "s.nessus", hosts)
    r = run_cli("tickets", "--scan", scan, "--xlsx", tmp_path / "tickets.xlsx", "--as-of",
                "2026-11-27")
    assert r.returncode == 0, r.stderr.decode()
    # a weekly and a reconcile workbook: one host opened and proved fixed in W45
    base = nb.write(tmp_path / "b.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", start=T0,
                                                        end=T0 + timedelta(minutes=2), items=[nb.l2tp()])])
    again = nb.write(tmp_path / "r.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1",
                                                         start=T0 + timedelta(days=2),
                                                         end=T0 + timedelta(days=2, minutes=2))],
                     policy=nb.policy_element(plugin_set=[11387]))
    db = tmp_path / "s.db"
    assert run_cli("ingest", base, again, "--db", db).returncode == 0
    assert run_cli("report", "weekly", "--db", db, "--week", "2026-W45",
                   "--xlsx", tmp_path / "weekly.xlsx").returncode == 0
    assert run_cli("reconcile", "--baseline", base, "--rescan", again, "--format", "xlsx",
                   "--out", tmp_path / "reconcile.xlsx").returncode == 0
    return _sheets_as_csv(soffice, [tmp_path / n for n in ("tickets.xlsx", "weekly.xlsx",
                                                           "reconcile.xlsx")], tmp_path / "csv")


def test_tickets_workbook_opens_in_libreoffice_with_hostile_text_as_text(opened):
    sheets = opened["tickets.xlsx"]
    assert set(sheets) == {"Tickets", "Assets", "Findings", "Summary", "Data quality"}
    header, *rows = sheets["Assets"]
    hosts_seen = {row[header.index("Host")] for row in rows}
    assert hosts_seen == set(HOSTILE)                          # shown as typed, never computed
    header, *rows = sheets["Tickets"]
    assert all(row[header.index("First seen")].startswith("2026-11-02") for row in rows)
    f_header, *f_rows = sheets["Findings"]
    assert {row[f_header.index("Plugin output")] for row in f_rows} == set(HOSTILE)


def test_weekly_and_reconcile_workbooks_open_in_libreoffice(opened):
    weekly = opened["weekly.xlsx"]
    assert set(weekly) == {"Summary", "Trend", "Aging", "By business unit", "By team and owner",
                           "By priority", "Oldest open", "Open tickets", "Changes this week",
                           "Risk acceptances", "Data quality", "Scans", "Metrics", "Metrics trend"}
    # the figures as LibreOffice shows them: opened and proved fixed in W45, 1 of 1 in time
    summary = {row[0]: row[1] for row in weekly["Summary"][1:]}
    assert {k: summary[k] for k in ("Week", "Exposed hosts", "Open tickets", "New", "Fixed (verified)",
                                    "Overdue", "Not verifiable", "SLA compliance")} == {
        "Week": "2026-W45", "Exposed hosts": "0", "Open tickets": "0", "New": "1",
        "Fixed (verified)": "1", "Overdue": "0", "Not verifiable": "0", "SLA compliance": "100%"}
    header, *rows = weekly["Changes this week"]
    assert [(r[header.index("Change")], r[header.index("Address")], r[header.index("Status")])
            for r in rows] == [("new", "10.0.0.1", "fixed"), ("fixed (verified)", "10.0.0.1", "fixed")]
    header, *rows = weekly["Scans"]
    assert [(r[header.index("Scan file")], r[header.index("Can detect L2TP")]) for r in rows] == [
        ("b.nessus", "unknown"), ("r.nessus", "yes")]
    assert weekly["Trend"][1][:7] == ["2026-W45", "2026-11-02", "2", "0", "0", "1", "1"]
    rec = opened["reconcile.xlsx"]
    header, *rows = rec["Reconciliation"]
    assert [row[header.index("Status")] for row in rows] == ["fixed"]


# -- printing: every workbook of the sample run, as LibreOffice prints it ---------------------

FOOTER = re.compile(r"^\s*(\S.*?)\s{2,}Page \d+ of \d+\s*$")   # "<sheet>   Page 3 of 12"
ONE_PAGE_LINES = 40        # a sheet of up to this many lines of text prints on one page


@pytest.fixture(scope="module")
def poppler():
    missing = [p for p in ("pdftotext", "pdfinfo") if shutil.which(p) is None]
    if missing:
        pytest.skip(f"no {' and '.join(missing)} found (apt-get install poppler-utils): "
                    "the printed pages of the workbooks were NOT checked")


@dataclass(frozen=True)
class SheetFacts:
    name: str
    headers: tuple[str, ...]
    lines: int              # lines of text of its rows (a wrapped row counts its lines)


@dataclass(frozen=True)
class Printed:
    """A workbook as LibreOffice prints it: the text and size of every page."""

    book: Path
    sheets: tuple[SheetFacts, ...]
    pages: tuple[str, ...]
    sizes: tuple[tuple[float, float], ...]    # (width, height) in points

    def pages_of(self) -> dict[str, list[str]]:
        """Sheet name -> the text of its pages, by the footer every page carries."""
        out: dict[str, list[str]] = {}
        for text in self.pages:
            last = [line for line in text.splitlines() if line.strip()][-1]
            m = FOOTER.match(last)
            assert m, f"{self.book.name}: a page without the sheet footer: {last!r}"
            out.setdefault(m.group(1), []).append(text)
        return out


def _facts(book: Path) -> tuple[SheetFacts, ...]:
    wb = openpyxl.load_workbook(book)
    facts = []
    for ws in wb.worksheets:
        heights = [ws.row_dimensions[r].height for r in range(2, ws.max_row + 1)]
        lines = sum(math.ceil(h / LINE_HEIGHT) if h else 1 for h in heights)
        titles = ws.print_title_rows      # the header row (below a form's header block)
        top = int(titles.split(":")[0].replace("$", "")) if titles else 1
        facts.append(SheetFacts(ws.title, tuple(c.value for c in ws[top]), lines))
    return tuple(facts)


def _print(soffice, books: list[Path], outdir: Path) -> list[Printed]:
    _convert(soffice, books, outdir, "pdf")
    printed = []
    for book in books:
        pdf = outdir / (book.stem + ".pdf")
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], capture_output=True,
                              text=True, check=True).stdout
        sizes = tuple((float(w), float(h)) for w, h in
                      re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info, re.M))
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        pages = tuple(p for p in text.split("\f") if p.strip())
        assert len(pages) == len(sizes), book.name
        printed.append(Printed(book, _facts(book), pages, sizes))
    return printed


@pytest.fixture(scope="module")
def sample_prints(soffice, poppler, sample_run, tmp_path_factory) -> dict[str, Printed]:
    """Every workbook the sample run wrote (the evidence pack's too), printed to PDF."""
    d = tmp_path_factory.mktemp("prints")
    books = sorted(sample_run.glob("*.xlsx"))
    with zipfile.ZipFile(sample_run / "evidence-2026-Q4.zip") as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".xlsx")):
            books.append(d / f"evidence-{name}")
            books[-1].write_bytes(z.read(name))
    return {p.book.name: p for p in _print(soffice, books, d / "pdf")}


def test_the_sample_run_has_every_kind_of_workbook(sample_prints):
    assert set(sample_prints) == {
        "l2tp-findings.xlsx", "joined.xlsx", "tickets.xlsx", "reconcile.xlsx",
        "weekly-2026-W48.xlsx", "evidence-poam.xlsx", "evidence-tickets.xlsx",
        "evidence-reconciliation.xlsx"}


def test_no_printed_value_is_hashes(sample_prints):
    for name, printed in sample_prints.items():
        for n, page in enumerate(printed.pages, start=1):
            assert "###" not in page, f"{name} page {n} prints ### (a column too narrow)"


def test_every_sheet_prints_landscape_one_page_wide_with_its_headers_in_full(sample_prints):
    for name, printed in sample_prints.items():
        assert all(w > h for w, h in printed.sizes), f"{name}: a portrait page"
        pages = printed.pages_of()
        assert list(pages) == [s.name for s in printed.sheets], name    # each sheet, in order
        for sheet in printed.sheets:
            words = set(pages[sheet.name][0].split())
            for header in sheet.headers:
                # all of the sheet's columns are on its first page (one page wide), and no
                # header is cut (a header may take two lines, so compare word by word)
                missing = [w for w in header.split() if w not in words]
                assert not missing, f"{name} / {sheet.name}: header {header!r} not in full"


def test_a_sheet_of_up_to_40_lines_prints_on_one_page(sample_prints):
    short = 0
    for name, printed in sample_prints.items():
        pages = printed.pages_of()
        for sheet in printed.sheets:
            if sheet.lines <= ONE_PAGE_LINES:
                short += 1
                assert len(pages[sheet.name]) == 1, f"{name} / {sheet.name}: {sheet.lines} lines"
    assert short >= 20          # most sheets of the sample run are short


def test_a_small_weeks_workbook_prints_one_page_per_sheet(sample_prints):
    weekly = sample_prints["weekly-2026-W48.xlsx"]
    assert len(weekly.pages) == len(weekly.sheets) == 14
    summary = weekly.pages_of()["Summary"][0]
    # label | value | change, the share as a percentage
    assert re.search(r"SLA compliance\s+42\.9%\s+-7\.1 pts", summary), summary
    assert re.search(r"Overdue\s+12\s+\+3\s", summary), summary
