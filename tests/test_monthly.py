"""``report monthly`` (#23.2): the weekly figures and remediation metrics over a calendar
month or quarter, with the change against the previous one, checked against the
hand-computed history of tests/test_metrics.py (its docstring lists every scan) and on
sample_data against a full replay.

Due dates (first-seen day + SLA days): A 07-13 (P1), B 09-02 (P3), C 10-04 (P4), D 10-19
(P2), E 11-16 (P2), G 02-07 (P4), H 01-03 (P4), I 12-07 (P2). Inventory assets: A B C D F
G H I (E is in none).
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest

from tests.conftest import ROOT, copy_store, run_cli
from tests.test_metrics import buckets, ingest_history, metrics
from tests.test_weekly import FIGURES

SAMPLE = ROOT / "sample_data"


def ok(*args):
    r = run_cli(*map(str, args))
    assert r.returncode == 0, r.stderr.decode()
    return r


def fail(*args, code: int = 1) -> str:
    """One error line, no traceback; exit 1 (2 for a malformed option value)."""
    r = run_cli(*map(str, args))
    assert r.returncode == code, (r.stdout + r.stderr).decode()
    err = r.stderr.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("monthly")
    db, inv = ingest_history(d)
    return {"db": db, "dir": d, "inv": inv}


def report(store, *args) -> dict:
    r = ok("report", "monthly", "--db", store["db"], "--inventory", store["inv"], *args, "--json", "-")
    return json.loads(r.stdout)


def figures(data) -> dict:
    return {k: data[k] for k in FIGURES}


# -- November 2026 against October -------------------------------------------------------------

NOVEMBER = dict(
    # open at 11-30 24:00: A B D E; opened in November: E (11-02), G (11-09), I (11-23);
    # fixed: C G (11-23), H I (11-25); H resurfaced 11-02
    exposed_hosts=4, open_tickets=4, new=3, fixed_verified=4, resurfaced=1, overdue=4,
    risk_accepted=0, expiring_30d=0,
    not_verifiable=1,                 # D: no scan in November held it
    sla_compliance_pct=37.5)          # judged A B D E + C G H I; met: G H I fixed before due
NOVEMBER_METRICS = {
    # C 07-06 -> 11-23 = 140 days, G 11-09 -> 11-23 = 14, H from its resurfacing 11-02 ->
    # 11-25 = 23, I 11-23 -> 11-25 = 2
    "mttr_days": {"median": 18.5, "mean": 44.8, "p90": 140.0, "n": 4},
    # days past due at 12-01 00:00: E 15, D 43, B 90, A 141
    "overdue_by_days": buckets(1, 1, 1, 1), "max_days_overdue": 141,
    "coverage_pct": 75.0,             # A B E of A B D E checked in November
    # held in November: A B C E G H I; logged in to: A, C (11-23), I (11-25)
    "credentialed_pct": 42.9, "hosts": {"scanned": 7, "credentialed": 3},
    "unscanned_30d": 2,               # after 11-01 00:00: D (last 10-12) and F (never)
}
OCTOBER = dict(
    # open at 10-31 24:00: A B C D; opened in October: D H (10-05); H fixed 10-12
    exposed_hosts=4, open_tickets=4, new=2, fixed_verified=1, resurfaced=0, overdue=4,
    risk_accepted=0, expiring_30d=0, not_verifiable=0,
    sla_compliance_pct=20.0)          # judged A B C D + H; met: H
OCTOBER_METRICS = {
    "mttr_days": {"median": 7.0, "mean": 7.0, "p90": 7.0, "n": 1},     # H 10-05 -> 10-12
    # at 11-01 00:00: D 13, C 28, B 60, A 111 days past due
    "overdue_by_days": buckets(2, 1, 0, 1), "max_days_overdue": 111,
    "coverage_pct": 100.0,
    "credentialed_pct": 0.0, "hosts": {"scanned": 5, "credentialed": 0},  # A B C D H, no tag
    "unscanned_30d": 3,               # after 10-02 00:00: F, G and I (first scanned in November)
}


def test_a_month_matches_the_hand_computed_history(store):
    data = report(store, "--month", "2026-11")
    assert (data["month"], data["month_start"], data["month_end"], data["as_of"]) == (
        "2026-11", "2026-11-01", "2026-11-30", "2026-11-30T23:59:59Z")
    assert "week" not in data
    assert figures(data) == NOVEMBER
    assert metrics(data) == NOVEMBER_METRICS
    assert data["sla"] == {"met": 3, "judged": 8}
    assert [s["file_name"] for s in data["scans"]] == [
        "s1102.nessus", "s1109.nessus", "s1123.nessus", "s1125.nessus"]
    assert [p["month"] for p in data["trend"]] == ["2026-10", "2026-11"]
    october = data["trend"][0]
    assert (figures(october), metrics(october)) == (OCTOBER, OCTOBER_METRICS)
    assert october["month_start"] == "2026-10-01"


def test_the_change_against_the_previous_month(store):
    data = report(store, "--month", "2026-11")
    assert data["previous"] == "2026-10"
    change = data["change"]
    assert figures(change) == dict(exposed_hosts=0, open_tickets=0, new=1, fixed_verified=3,
                                   resurfaced=1, overdue=0, risk_accepted=0, expiring_30d=0,
                                   not_verifiable=1, sla_compliance_pct=17.5)
    assert metrics(change) == {
        "mttr_days": {"median": 11.5, "mean": 37.8, "p90": 133.0, "n": 3},
        "overdue_by_days": buckets(-1, 0, 1, 0), "max_days_overdue": 30,
        "coverage_pct": -25.0, "credentialed_pct": 42.9,
        "hosts": {"scanned": 2, "credentialed": 3}, "unscanned_30d": -1}


def test_the_previous_month_reads_the_same_on_its_own(store):
    """October's own report equals October in November's trend (one definition)."""
    october = report(store, "--month", "2026-10")
    again = report(store, "--month", "2026-11")["trend"][0]
    assert (figures(october), metrics(october)) == (figures(again), metrics(again))
    assert october["by_priority"] == again["by_priority"]
    assert october["by_team"] == again["by_team"]


def test_a_quarter_counts_flows_over_it_and_stocks_at_its_end(store):
    data = report(store, "--quarter", "2026-Q4")
    assert (data["quarter"], data["quarter_start"], data["quarter_end"]) == (
        "2026-Q4", "2026-10-01", "2026-12-31")
    assert data["as_of"] == "2026-12-31T23:59:59Z"
    # opened in Q4: D H E G I; fixed: C G H I (H twice, 10-12 and 11-25: one ticket, once);
    # open at 12-31 24:00: A B D E, all overdue; D was checked in October: all verified
    assert figures(data) == dict(exposed_hosts=4, open_tickets=4, new=5, fixed_verified=4,
                                 resurfaced=1, overdue=4, risk_accepted=0, expiring_30d=0,
                                 not_verifiable=0, sla_compliance_pct=37.5)
    assert metrics(data) == {
        # H's time runs from its resurfacing to its last fix in the quarter (23 days): its
        # October fix is in its history, not a second sample
        "mttr_days": {"median": 18.5, "mean": 44.8, "p90": 140.0, "n": 4},
        # at 2027-01-01 00:00: E 46, D 74, B 121, A 172 days past due
        "overdue_by_days": buckets(0, 1, 1, 2), "max_days_overdue": 172,
        "coverage_pct": 100.0,
        "credentialed_pct": 37.5, "hosts": {"scanned": 8, "credentialed": 3},
        "unscanned_30d": 8,            # no scan after 12-02: every inventory asset
    }
    q3 = data["trend"][0]
    assert q3["quarter"] == "2026-Q3" and data["previous"] == "2026-Q3"
    # Q3 at 09-30 24:00: A B C opened and open; A (80 days) and B (29) past due, C due 10-04
    assert figures(q3) == dict(exposed_hosts=3, open_tickets=3, new=3, fixed_verified=0,
                               resurfaced=0, overdue=2, risk_accepted=0, expiring_30d=0,
                               not_verifiable=0, sla_compliance_pct=33.3)
    assert metrics(q3)["overdue_by_days"] == buckets(1, 0, 1, 0)
    assert metrics(q3)["mttr_days"] == {"median": None, "mean": None, "p90": None, "n": 0}
    assert data["change"]["new"] == 2 and data["change"]["max_days_overdue"] == 92
    assert data["change"]["mttr_days"] == {"median": None, "mean": None, "p90": None, "n": 4}


def test_as_of_cuts_the_month_like_the_weekly_report(store):
    """Stocks at a moment are the weekly report's at that moment; flows count from the 1st."""
    data = report(store, "--as-of", "2026-11-15")
    assert (data["month"], data["as_of"]) == ("2026-11", "2026-11-15T23:59:59Z")
    week = json.loads(ok("report", "weekly", "--db", store["db"], "--inventory", store["inv"],
                         "--as-of", "2026-11-15", "--json", "-").stdout)
    for key in ("exposed_hosts", "open_tickets", "overdue", "risk_accepted", "overdue_by_days",
                "max_days_overdue", "unscanned_30d"):
        assert data[key] == week[key], key
    # November 1-15: E and G opened, H resurfaced, nothing fixed
    assert (data["new"], data["resurfaced"], data["fixed_verified"]) == (2, 1, 0)
    assert fail("report", "monthly", "--db", store["db"], "--month", "2026-10", "--as-of",
                "2026-11-15", "--json", "-", code=2).startswith("error: --as-of 2026-11-15 is not in 2026-10")


def test_a_team_month(store):
    data = report(store, "--month", "2026-11", "--team", "Web")
    web = next(g for g in report(store, "--month", "2026-11")["by_team"] if g["team"] == "Web")
    assert metrics(data) == metrics(web)
    assert figures(data) == figures(web)


@pytest.mark.parametrize("args, message, code", [
    (("--month", "2026-06"), "error: no data for 2026-06: the first stored scan is in 2026-07", 1),
    (("--quarter", "2026-Q2"), "error: no data for 2026-Q2: the first stored scan is in 2026-Q3", 1),
    (("--month", "2035-01"), "error: no data for 2035-01: that month has not begun", 1),
    (("--quarter", "2035-Q1"), "error: no data for 2035-Q1: that quarter has not begun", 1),
    (("--as-of", "2026-05-31"), "error: no data for 2026-05: the first stored scan is in 2026-07", 1),
    (("--month", "2026-13"), "error: --month '2026-13' is not a month", 2),
    (("--quarter", "2026-Q5"), "error: --quarter '2026-Q5' is not a quarter", 2),
    (("--month", "2026-11", "--quarter", "2026-Q4"), "error: give --month or --quarter, not both", 1),
])
def test_a_period_without_data_or_a_bad_period_is_one_line_and_nothing_written(store, tmp_path,
                                                                                args, message, code):
    outs = [tmp_path / "m.html", tmp_path / "m.xlsx", tmp_path / "m.md", tmp_path / "m.json"]
    err = fail("report", "monthly", "--db", store["db"], *args, "--html", outs[0], "--xlsx",
               outs[1], "--markdown", outs[2], "--json", outs[3], code=code)
    assert err.startswith(message), err
    assert not any(p.exists() for p in outs)
    assert list(tmp_path.iterdir()) == []


def test_page_workbook_and_markdown_name_the_period_and_the_change(store):
    import openpyxl

    out = store["dir"] / "out"
    ok("report", "monthly", "--db", store["db"], "--inventory", store["inv"], "--month", "2026-11",
       "--html", out / "m.html", "--xlsx", out / "m.xlsx", "--markdown", out / "m.md")
    page = (out / "m.html").read_text()
    assert "<title>L2TP exposure: monthly report 2026-11</title>" in page
    assert "Month 2026-11: 2026-11-01 to 2026-11-30" in page
    head = page.split('<section id="metrics">')[0]
    assert "Scans this month (4)" in head and "this week" not in head
    assert "+1 vs 2026-10" in head           # new: 3 against 2 (the cards)
    assert "+17.5 pts vs 2026-10" in head    # SLA compliance
    assert "first reported by a scan this month" in page
    metrics_section = page.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert ">2026-10<" in metrics_section and ">2026-11<" in metrics_section
    change = metrics_section.split(">Change vs 2026-10<", 1)[1].split("</tr>", 1)[0]
    assert [c.split("<", 1)[0] for c in change.split('<td class="n">')[1:]] == [
        "+11.5", "+37.8", "+133.0", "+3", "−1", "±0", "+1", "±0", "+30", "−25.0 pts",
        "+42.9 pts", "−1"]
    assert "Open, new and fixed per month" in page and ">Oct<" in page and ">Nov<" in page
    assert "November" not in page and "this week" not in page
    wb = openpyxl.load_workbook(out / "m.xlsx")
    assert "Changes this month" in wb.sheetnames
    summary = {r[0]: r for r in wb["Summary"].iter_rows(min_row=1, values_only=True)}
    assert summary["Month"][1] == "2026-11"
    assert summary["Figure"][2] == "Change vs 2026-10"
    assert summary["New"][1:3] == (3, 1)                  # a number, shown as +1
    assert [r[0] for r in wb["Trend"].iter_rows(min_row=1, values_only=True)] == [
        "Month", "2026-10", "2026-11"]
    trend = {r[0]: r for r in wb["Metrics trend"].iter_rows(min_row=1, values_only=True)}
    assert list(trend) == ["Month", "2026-10", "2026-11", "Change vs 2026-10"]
    moved = dict(zip(trend["Month"], trend["Change vs 2026-10"]))
    assert (moved["Time to verified fix: median (days)"], moved["Verified fixes"]) == (11.5, 3)
    assert (moved["Coverage"], moved["Most days overdue"]) == (-25.0, 30)     # points, days
    md = (out / "m.md").read_text()
    assert md.startswith("# L2TP exposure: monthly report 2026-11\n\nMonth 2026-11 (2026-11-01 to 2026-11-30)")
    assert "| Figure | 2026-11 | 2026-10 | Change |" in md
    assert "| New | 3 | 2 | +1 |" in md
    assert "| SLA compliance | 37.5% | 20.0% | +17.5 pts |" in md
    lines = md.split("## Remediation metrics", 1)[1].splitlines()
    assert lines[4:6] == [
        "| All assets | 18.5 / 44.8 / 140.0 (4) | 1 / 1 / 1 / 1 (141) | 75.0% | 42.9% | 2 |",
        "| Change vs 2026-10 | +11.5 / +37.8 / +133.0 (+3) | −1 / ±0 / +1 / ±0 (+30) | −25.0 pts "
        "| +42.9 pts | −1 |"]
    assert "Scans this month: 4" in md and "this week" not in md


# -- sample_data, SQLite and PostgreSQL, against a full replay -------------------------------------

def _replayed(db: str, start: datetime, cutoff: datetime) -> dict:
    """The period's figures computed here from a replay of every scan from nothing
    (``reference_tickets``), by the definitions in docs/weekly-report.md."""
    from vulnpipe.ingest.assets.inventory import load_inventory
    from vulnpipe.ingest.profiles import resolve_profile
    from vulnpipe.ingest.store import open_store
    from vulnpipe.reports.tickets.build import reference_tickets

    engine = open_store(db, create=False)
    try:
        with engine.connect() as conn:
            built = reference_tickets(conn, resolve_profile("l2tp"),
                                      load_inventory(SAMPLE / "inventory.csv"), as_of=cutoff)
    finally:
        engine.dispose()

    def within(at: datetime) -> bool:
        return start <= at <= cutoff

    out = dict(open_tickets=0, new=0, fixed_verified=0, resurfaced=0, overdue=0,
               not_verifiable=0)
    fixes = []
    for key, t in built.tickets.items():
        kinds = {e.kind for e in t.events if within(e.at)}
        out["new"] += "opened" in kinds
        out["resurfaced"] += "resurfaced" in kinds
        if "fixed" in kinds:
            out["fixed_verified"] += 1
            began = fixed = None
            for e in t.events:
                if e.kind in ("opened", "resurfaced") and e.at <= cutoff:
                    began = e.at
                elif e.kind == "fixed" and within(e.at):
                    fixed = (e.at - began).total_seconds() / 86400
            fixes.append(fixed)
        if t.state in ("open", "resurfaced"):
            out["open_tickets"] += 1
            due = built.priority[key][2]
            out["overdue"] += due is not None and due < cutoff
            out["not_verifiable"] += not any(within(c.at) and c.result in ("present", "absent_covered")
                                             for c in t.checks)
    fixes.sort()
    out["mttr_n"] = len(fixes)      # p90 by nearest rank: the smallest value >= 90% of them
    out["mttr_p90"] = round(fixes[math.ceil(0.9 * len(fixes)) - 1], 1) if fixes else None
    return out


@pytest.mark.parametrize("period, start, end", [
    (("--month", "2026-11"), datetime(2026, 11, 1, tzinfo=timezone.utc),
     datetime(2026, 12, 1, tzinfo=timezone.utc)),
    (("--quarter", "2026-Q4"), datetime(2026, 10, 1, tzinfo=timezone.utc),
     datetime(2027, 1, 1, tzinfo=timezone.utc)),
])
def test_sample_data_periods_equal_a_full_replay(db_url, tmp_path, period, start, end,
                                                sample_store):
    from datetime import timedelta
    from pathlib import Path

    if "://" in db_url:
        ok("ingest", *sorted((SAMPLE / "scans").glob("*.nessus")), "--db", db_url)
    else:                   # the same `vulnpipe ingest` of the sample, made once per session
        copy_store(sample_store, Path(db_url))
    r = ok("report", "monthly", "--db", db_url, "--inventory", SAMPLE / "inventory.csv", *period,
           "--json", "-")
    data = json.loads(r.stdout)
    cutoff = end - timedelta(microseconds=1)
    expected = _replayed(db_url, start, cutoff)
    got = {k: data[k] for k in ("open_tickets", "new", "fixed_verified", "resurfaced", "overdue",
                                "not_verifiable")}
    assert got == {k: expected[k] for k in got}
    assert (data["mttr_days"]["n"], data["mttr_days"]["p90"]) == (expected["mttr_n"], expected["mttr_p90"])
    assert data["fixed_verified"] > 0 and data["new"] > 0       # the sample has flows to count
    if period[0] == "--quarter":   # the sample begins in 2026-W44 (October): no Q3 to compare
        assert data["previous"] is None and [p["quarter"] for p in data["trend"]] == ["2026-Q4"]
        assert data["change"]["new"] is None and data["change"]["mttr_days"]["n"] is None
    else:
        assert data["previous"] == "2026-10"
        assert data["change"]["new"] == data["new"] - data["trend"][0]["new"]


@pytest.mark.slow
def test_the_sample_month_page_reads_in_chromium_without_sideways_scrolling(tmp_path, sample_store,
                                                                            chromium_browser):
    from tests.test_browser import page_width, render_page

    db = copy_store(sample_store, tmp_path / "s.db")
    page = tmp_path / "m.html"
    ok("report", "monthly", "--db", db, "--inventory", SAMPLE / "inventory.csv", "--month", "2026-11",
       "--html", page)
    shown = render_page(chromium_browser, page, tmp_path / "render")
    assert shown.title == "L2TP exposure: monthly report 2026-11"
    assert shown.console == []
    scroll, client = page_width(chromium_browser, page)
    assert scroll <= client, f"{scroll} > {client}"


@pytest.mark.slow
def test_the_sample_month_workbook_prints_one_page_wide_in_libreoffice(tmp_path, sample_store):
    """Printed to PDF as a manager would: no ``###``, every sheet landscape, one page wide,
    its headers in full (the Change line included)."""
    import shutil

    from tests.test_libreoffice import _print

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("no LibreOffice or poppler-utils found: the printed month was NOT checked")
    db = copy_store(sample_store, tmp_path / "s.db")
    book = tmp_path / "month-2026-11.xlsx"
    ok("report", "monthly", "--db", db, "--inventory", SAMPLE / "inventory.csv", "--month", "2026-11",
       "--xlsx", book)
    printed = _print(soffice, [book], tmp_path / "pdf")[0]
    assert all(w > h for w, h in printed.sizes)
    pages = printed.pages_of()
    assert list(pages) == [s.name for s in printed.sheets]
    assert "Changes this month" in pages
    for sheet in printed.sheets:
        first = pages[sheet.name][0]
        assert "###" not in "".join(pages[sheet.name]), sheet.name
        words = set(first.split())
        for header in sheet.headers:
            assert all(w in words for w in header.split()), (sheet.name, header)
    assert "Change vs 2026-10" in pages["Metrics trend"][0]
