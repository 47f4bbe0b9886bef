"""The workbooks open cleanly in LibreOffice (headless), hostile text stays text, dates are dates.

CI (``.ci/run``) installs Debian's ``libreoffice-calc-nogui``; elsewhere these tests skip
with a clear message when no ``soffice`` is found.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)"]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def soffice():
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        pytest.skip("no LibreOffice found (apt-get install libreoffice-calc-nogui): "
                    "workbook checks in LibreOffice skipped")
    return path


def _sheets_as_csv(soffice, book, outdir):
    """Every sheet of ``book`` as rows, as LibreOffice reads it (formulas would be computed)."""
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / "lo-profile"
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                        "--norestore", "--convert-to",
                        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
                        "--outdir", str(outdir), str(book)], capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-1000:]
    sheets = {}
    for path in outdir.glob(f"{book.stem}-*.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            sheets[path.stem[len(book.stem) + 1:]] = list(csv.reader(fh))
    assert sheets, r.stdout.decode(errors="replace")
    return sheets


def test_tickets_workbook_opens_in_libreoffice_with_hostile_text_as_text(soffice, tmp_path):
    hosts = [nb.HostSpec(text, ip=f"10.0.0.{i + 1}", start=T0, end=T0 + timedelta(minutes=2),
                         items=[nb.l2tp(output=text)]) for i, text in enumerate(HOSTILE)]
    scan = nb.write(tmp_path / "s.nessus", hosts)
    book = tmp_path / "tickets.xlsx"
    r = run_cli("tickets", "--scan", scan, "--xlsx", book, "--as-of", "2026-11-27")
    assert r.returncode == 0, r.stderr.decode()
    sheets = _sheets_as_csv(soffice, book, tmp_path / "csv")
    assert set(sheets) == {"Tickets", "Assets", "Findings", "Summary", "Data quality"}
    header, *rows = sheets["Assets"]
    hosts_seen = {row[header.index("Host")] for row in rows}
    assert hosts_seen == set(HOSTILE)                          # shown as typed, never computed
    header, *rows = sheets["Tickets"]
    assert all(row[header.index("First seen")].startswith("2026-11-02") for row in rows)
    f_header, *f_rows = sheets["Findings"]
    assert {row[f_header.index("Plugin output")] for row in f_rows} == set(HOSTILE)


def test_weekly_and_reconcile_workbooks_open_in_libreoffice(soffice, tmp_path):
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
    weekly = _sheets_as_csv(soffice, tmp_path / "weekly.xlsx", tmp_path / "w")
    assert len(weekly) >= 3
    rec = _sheets_as_csv(soffice, tmp_path / "reconcile.xlsx", tmp_path / "r")
    header, *rows = rec["Reconciliation"]
    assert [row[header.index("Status")] for row in rows] == ["fixed"]
