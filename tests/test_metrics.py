"""Remediation metrics (#23): time to verified fix, days overdue, coverage, credentialed
share and unscanned assets, per scope, priority and team, against a hand-computed history.

Every host starts at the scan's time (08:00 UTC on the day below). Inventory as in
test_weekly: A critical+internet-facing (P1, 7 days), B high (P3, 30), C/G/H low (P4, 90),
D medium+internet-facing (P2, 14), I high+internet-facing (P2, 14), E not in the inventory
(P2, 14), F never scanned. Teams: Net = A C, Web = B D I, Ops = F G H, E has none.

    scan            holds (x = L2TP reported, . = clean)          what happens
    07-06 (W28)     A x  C x                                      A C opened
    08-03 (W32)     A x  B x  C x                                 B opened
    10-05 (W41)     A x  B x  C x  D x  H x                       D H opened
    10-12 (W42)     D x  H .                                      H fixed
    11-02 (W45)     A x  B x  C x  E x  H x                       E opened, H resurfaced
    11-09 (W46)     A x  G x                                      G opened
    -- W47: no scan --
    11-23 (W48 Mon) A x (cred)  B x (no cred)  C . (cred)  E x  G .  I x
                                                                  C G fixed, I opened
    11-25 (W48 Wed) H . (no cred)  I . (cred)                     H I fixed
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from tests.test_weekly import COVERS, INVENTORY, IP


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 8, 0, tzinfo=timezone.utc)


SCANS = [  # (file, when, {host: reported?}, {host: credentialed} for this scan)
    ("s0706.nessus", at(7, 6), {"A": True, "C": True}, {}),
    ("s0803.nessus", at(8, 3), {"A": True, "B": True, "C": True}, {}),
    ("s1005.nessus", at(10, 5), {"A": True, "B": True, "C": True, "D": True, "H": True}, {}),
    ("s1012.nessus", at(10, 12), {"D": True, "H": False}, {}),
    ("s1102.nessus", at(11, 2), {"A": True, "B": True, "C": True, "E": True, "H": True}, {}),
    ("s1109.nessus", at(11, 9), {"A": True, "G": True}, {}),
    ("s1123.nessus", at(11, 23), {"A": True, "B": True, "C": False, "E": True,
                                  "G": False, "I": True}, {"A": True, "B": False, "C": True}),
    ("s1125.nessus", at(11, 25), {"H": False, "I": False}, {"H": False, "I": True}),
]


def _scan(d, name, when, hosts, cred):
    specs = [nb.HostSpec(IP[h], ip=IP[h], os="Linux Kernel 5.15", start=when,
                         end=when + timedelta(minutes=5), credentialed=cred.get(h),
                         items=[nb.l2tp()] if hosts[h] else [])
             for h in sorted(hosts)]
    return nb.write(d / name, specs, policy=COVERS, report_name=name)


def ok(*args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr.decode()
    return r


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics")
    files = [_scan(d, *s) for s in SCANS]
    db = str(d / "store.db")
    inv = d / "inventory.csv"
    inv.write_text(INVENTORY)
    ok("ingest", *files, "--db", db)
    out = d / "out"
    ok("report", "weekly", "--db", db, "--inventory", inv, "--weeks", "3", "--html", out / "w.html",
       "--xlsx", out / "w.xlsx", "--markdown", out / "w.md", "--json", out / "w.json")
    return {"db": db, "dir": d, "out": out, "json": json.loads((out / "w.json").read_text())}


def buckets(a, b, c, d):
    return {"days_1_30": a, "days_31_60": b, "days_61_90": c, "days_over_90": d}


def metrics(data):
    return {k: data[k] for k in ("mttr_days", "overdue_by_days", "max_days_overdue",
                                 "coverage_pct", "credentialed_pct", "hosts", "unscanned_30d")}


def test_the_weeks_metrics_match_the_hand_computed_history(store):
    data = store["json"]
    assert data["week"] == "2026-W48"
    assert metrics(data) == {
        # fixed this week: C 07-06 -> 11-23 = 140 days; G 11-09 -> 11-23 = 14; H from its
        # resurfacing 11-02 (not its first report 10-05) -> 11-25 = 23; I 11-23 -> 11-25 = 2
        "mttr_days": {"median": 18.5, "mean": 44.8, "p90": 140.0, "n": 4},
        # past due at 11-29 24:00: A due 07-13 -> 140 days; B 09-02 -> 89; D 10-19 -> 42;
        # E 11-16 -> 14
        "overdue_by_days": buckets(1, 1, 1, 1), "max_days_overdue": 140,
        # open A B D E; D was not scanned this week
        "coverage_pct": 75.0,
        # held this week: A B C E G H I; logged in to A, C and I (I in the Wednesday scan)
        "credentialed_pct": 42.9, "hosts": {"scanned": 7, "credentialed": 3},
        # D last scanned 10-12, F never
        "unscanned_30d": 2,
    }
    assert data["mttr_days"]["n"] == data["fixed_verified"] == 4
    assert data["overdue"] == 4


def test_per_priority_and_per_team(store):
    data = store["json"]
    prio = {g["priority"]: metrics(g) for g in data["by_priority"]}
    assert list(prio) == ["P1", "P2", "P3", "P4"]
    none = {"median": None, "mean": None, "p90": None, "n": 0}
    assert prio["P1"] == {"mttr_days": none, "overdue_by_days": buckets(0, 0, 0, 1),
                          "max_days_overdue": 140, "coverage_pct": 100.0,
                          "credentialed_pct": 100.0, "hosts": {"scanned": 1, "credentialed": 1},
                          "unscanned_30d": 0}
    assert prio["P2"] == {"mttr_days": {"median": 2.0, "mean": 2.0, "p90": 2.0, "n": 1},
                          "overdue_by_days": buckets(1, 1, 0, 0), "max_days_overdue": 42,
                          "coverage_pct": 50.0, "credentialed_pct": 50.0,
                          "hosts": {"scanned": 2, "credentialed": 1}, "unscanned_30d": 1}
    assert prio["P3"]["overdue_by_days"] == buckets(0, 0, 1, 0)
    assert (prio["P3"]["credentialed_pct"], prio["P3"]["coverage_pct"]) == (0.0, 100.0)
    assert prio["P4"] == {"mttr_days": {"median": 23.0, "mean": 59.0, "p90": 140.0, "n": 3},
                          "overdue_by_days": buckets(0, 0, 0, 0), "max_days_overdue": 0,
                          "coverage_pct": None, "credentialed_pct": 33.3,
                          "hosts": {"scanned": 3, "credentialed": 1}, "unscanned_30d": 0}
    team = {g["team"]: metrics(g) for g in data["by_team"]}
    assert list(team) == ["Net", "Ops", "Web", None]
    assert team["Net"]["mttr_days"] == {"median": 140.0, "mean": 140.0, "p90": 140.0, "n": 1}
    assert (team["Net"]["coverage_pct"], team["Net"]["credentialed_pct"]) == (100.0, 100.0)
    assert team["Ops"] == {"mttr_days": {"median": 18.5, "mean": 18.5, "p90": 23.0, "n": 2},
                           "overdue_by_days": buckets(0, 0, 0, 0), "max_days_overdue": 0,
                           "coverage_pct": None, "credentialed_pct": 0.0,
                           "hosts": {"scanned": 2, "credentialed": 0}, "unscanned_30d": 1}
    assert team["Web"] == {"mttr_days": {"median": 2.0, "mean": 2.0, "p90": 2.0, "n": 1},
                           "overdue_by_days": buckets(0, 1, 1, 0), "max_days_overdue": 89,
                           "coverage_pct": 50.0, "credentialed_pct": 50.0,
                           "hosts": {"scanned": 2, "credentialed": 1}, "unscanned_30d": 1}
    assert team[None]["overdue_by_days"] == buckets(1, 0, 0, 0)
    assert (team[None]["credentialed_pct"], team[None]["unscanned_30d"]) == (0.0, 0)


def test_the_trend_carries_the_metrics_and_a_gap_is_null(store):
    trend = {p["week"]: p for p in store["json"]["trend"]}
    assert list(trend) == ["2026-W46", "2026-W47", "2026-W48"]
    w46 = trend["2026-W46"]
    # at 11-15 24:00: A 126 days past due, B 75, C 43 (due 10-04), D 28; E due 11-16
    assert metrics(w46) == {
        "mttr_days": {"median": None, "mean": None, "p90": None, "n": 0},
        "overdue_by_days": buckets(1, 1, 1, 1), "max_days_overdue": 126,
        "coverage_pct": 28.6,                        # A and G of A B C D E G H
        "credentialed_pct": 0.0, "hosts": {"scanned": 2, "credentialed": 0},
        "unscanned_30d": 3,                          # D (10-12), F, I
    }
    assert [g["priority"] for g in w46["by_priority"]] == ["P1", "P2", "P3", "P4"]
    gap = trend["2026-W47"]
    assert gap["mttr_days"] == {"median": None, "mean": None, "p90": None, "n": None}
    assert gap["coverage_pct"] is None and gap["by_priority"] == [] and gap["by_team"] == []
    assert metrics(trend["2026-W48"]) == metrics(store["json"])


def test_a_team_report_narrows_the_metrics(store):
    r = ok("report", "weekly", "--db", store["db"], "--team", "web", "--json", "-")
    data = json.loads(r.stdout)
    web = next(g for g in store["json"]["by_team"] if g["team"] == "Web")
    assert metrics(data) == metrics(web)
    assert [g["team"] for g in data["by_team"]] == ["web"]
    assert [g["priority"] for g in data["by_priority"]] == ["P2", "P3"]


def test_page_workbook_and_markdown_show_the_same_metrics(store):
    import openpyxl

    page = (store["out"] / "w.html").read_text()
    section = page.split('<section id="metrics">', 1)[1].split("</section>", 1)[0]
    assert "Time to verified fix (days)" in section
    # all assets: 18.5 / 44.8 / 140.0 / 4 fixes; 1 1 1 1 overdue, most 140; 75% 42.9% 2
    cells = ("All assets", "18.5", "44.8", "140.0", "4",
             "75.0%", "42.9%")
    first = section.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    for c in cells:
        assert f">{c}<" in first, c
    assert "no scan this week (gap, not zero)" in section          # W47 in the trend
    assert "Coverage</strong>: open tickets a covering scan checked this week" in section
    wb = openpyxl.load_workbook(store["out"] / "w.xlsx")
    ws = wb["Metrics"]
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == ["All assets", "P1", "P2", "P3", "P4", "team Net", "team Ops",
                          "team Web", "no team"]
    assert rows["All assets"]["Time to verified fix: median (days)"] == 18.5
    assert rows["All assets"]["Overdue over 90 days"] == 1
    assert rows["All assets"]["Coverage"] == 0.75                 # a percent cell
    assert rows["team Ops"]["Unscanned 30 days"] == 1
    trend = list(wb["Metrics trend"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in trend] == ["2026-W46", "2026-W47", "2026-W48"]
    assert trend[1][1:-1] == (None,) * 12 and trend[1][-1] == "no scan this week: a gap, not zero"
    md = (store["out"] / "w.md").read_text()
    assert "## Remediation metrics" in md
    assert "| All assets | 18.5 / 44.8 / 140.0 (4) | 1 / 1 / 1 / 1 (140) | 75.0% | 42.9% | 2 |" in md
    assert "| P4 | 23.0 / 59.0 / 140.0 (3) | 0 / 0 / 0 / 0 (0) | – | 33.3% | 0 |" in md
