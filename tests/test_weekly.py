"""The weekly report: every figure against hand-computed values, gaps, cut-offs, outputs.

The history (one store, built once through the real CLI):

    week  scans                         what happens
    W44   weekly (Mon 10-26)            A B C G H opened (E scanned, clean)
    W45   weekly (Mon 11-02)            B absent -> fixed; D new; C accepted 11-03 until 11-19;
                                        G accepted until 2026-12-15; H until 2027-03-31
    W46   -- none --                    a gap, not zeros
    W47   weekly (Mon 11-16)            B back -> resurfaced; E new; C's acceptance expires 11-20
    W48   weekly (Mon 11-23)            D absent -> fixed (late: due 11-16); I new; C not in it
          blind rescan (Wed 11-25)      holds C, but its policy cannot see 11387

Inventory: A critical+internet-facing (P1, 7 days), B high (P3, 30), C/G/H low (P4, 90),
D medium+internet-facing (P2, 14), I high+internet-facing (P2, 14), E not in the inventory
(P2, 14), F never scanned.
"""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.reports.tickets.model import ticket_key

T0 = datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)     # Monday of 2026-W44
COVERS = nb.policy_element(name="weekly", plugin_set=[11387, 10622, 11935, 19506])
BLIND = nb.policy_element(name="quick web", plugin_set=[19506], port_range="1-1024")
INVENTORY = """Asset ID,Hostname,IP Address,Owner,Team,Business Unit,Criticality,Internet Facing
AST-A,host-a,10.0.0.1,Alice,Net,Infra,critical,yes
AST-B,host-b,10.0.0.2,Bob,Web,Retail,high,no
AST-C,host-c,10.0.0.3,Alice,Net,Infra,low,no
AST-D,host-d,10.0.0.4,Bob,Web,Retail,medium,yes
AST-F,host-f,10.0.0.99,Dave,Ops,Infra,low,no
AST-G,host-g,10.0.0.7,Carol,Ops,Infra,low,no
AST-H,host-h,10.0.0.8,Carol,Ops,Infra,low,no
AST-I,host-i,10.0.0.9,Bob,Web,Retail,high,yes
"""
IP = {"A": "10.0.0.1", "B": "10.0.0.2", "C": "10.0.0.3", "D": "10.0.0.4", "E": "10.0.0.5",
      "G": "10.0.0.7", "H": "10.0.0.8", "I": "10.0.0.9"}
FIGURES = ("exposed_hosts", "open_tickets", "new", "fixed_verified", "resurfaced", "overdue",
           "risk_accepted", "expiring_30d", "not_verifiable", "sla_compliance_pct")

#: Hand-computed, week by week (see the module docstring and docs/weekly-report.md).
EXPECTED = {
    # W44: five opened; A is due 11-02 00:00, after the cut-off 11-01 23:59:59.
    "2026-W44": dict(exposed_hosts=5, open_tickets=5, new=5, fixed_verified=0, resurfaced=0,
                     overdue=0, risk_accepted=0, expiring_30d=0, not_verifiable=0,
                     sla_compliance_pct=100.0),
    # W45: open A D; accepted C G H (C ends 11-20 <= 12-08: expiring); B fixed in time;
    # SLA judged = A D + B = 3, met = D + B = 2.
    "2026-W45": dict(exposed_hosts=5, open_tickets=2, new=1, fixed_verified=1, resurfaced=0,
                     overdue=1, risk_accepted=3, expiring_30d=1, not_verifiable=0,
                     sla_compliance_pct=66.7),
    "2026-W46": dict.fromkeys(FIGURES),
    # W47: open A B C D E (C's acceptance expired); overdue A (11-02) and D (11-16);
    # accepted G (ends 12-16 <= 12-22: expiring) and H.
    "2026-W47": dict(exposed_hosts=7, open_tickets=5, new=1, fixed_verified=0, resurfaced=1,
                     overdue=2, risk_accepted=2, expiring_30d=1, not_verifiable=0,
                     sla_compliance_pct=60.0),
    # W48: open A B C E I; overdue A and B (due 11-25); E is due 11-30, not yet overdue;
    # C only seen by the blind rescan: not verifiable; D fixed after its due date (late);
    # SLA judged = 5 open + D = 6, met = C E I = 3.
    "2026-W48": dict(exposed_hosts=7, open_tickets=5, new=1, fixed_verified=1, resurfaced=0,
                     overdue=2, risk_accepted=2, expiring_30d=1, not_verifiable=1,
                     sla_compliance_pct=50.0),
}


def week(n: int, days: int = 0) -> datetime:
    return T0 + timedelta(weeks=n, days=days)


def scan(tmp_path, name, when, hosts, policy=COVERS):
    specs = [nb.HostSpec(IP[h], ip=IP[h], os="Linux Kernel 5.15",
                         start=when + timedelta(minutes=i), end=when + timedelta(minutes=i + 5),
                         items=[nb.l2tp()] if h in with_l2tp else [])
             for i, (h, with_l2tp) in enumerate((h, hosts[h]) for h in sorted(hosts))]
    return nb.write(tmp_path / name, specs, policy=policy, report_name=name)


def ok(*args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr.decode()
    return r


def key(asset: str) -> str:
    return ticket_key("l2tp", f"asset:AST-{asset}" if asset != "E" else f"host:{IP['E']}")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    d = tmp_path_factory.mktemp("weekly")
    l2tp = lambda *names: {n: {n} for n in names}   # noqa: E731  host -> hosts with L2TP
    clean = lambda *names: {n: set() for n in names}  # noqa: E731
    files = [
        scan(d, "w44.nessus", week(0), {**l2tp("A", "B", "C", "G", "H"), **clean("E")}),
        scan(d, "w45.nessus", week(1), {**l2tp("A", "C", "D", "G", "H"), **clean("B")}),
        scan(d, "w47.nessus", week(3), l2tp("A", "B", "C", "D", "E", "G", "H")),
        scan(d, "w48.nessus", week(4), {**l2tp("A", "B", "E", "G", "H", "I"), **clean("D")}),
        scan(d, "w48-quick.nessus", week(4, 2), clean("C"), policy=BLIND),
    ]
    db = str(d / "store.db")
    inv = d / "inventory.csv"
    inv.write_text(INVENTORY)
    ok("ingest", *files, "--db", db)
    ok("tickets", "--db", db, "--inventory", inv, "--jsonl", d / "t.jsonl")
    for asset, at, until in (("C", "2026-11-03", "2026-11-19"), ("G", "2026-11-04", "2026-12-15"),
                             ("H", "2026-11-04", "2027-03-31")):
        ok("accept", key(asset), "--until", until, "--reason", "partner VPN", "--approver", "CISO",
           "--db", db, "--at", at)
    out = d / "out"
    ok("report", "weekly", "--db", db, "--weeks", "6", "--html", out / "w.html",
       "--xlsx", out / "w.xlsx", "--markdown", out / "w.md", "--json", out / "w.json")
    return {"db": db, "dir": d, "out": out, "inventory": inv,
            "json": json.loads((out / "w.json").read_text())}


def test_default_week_is_the_newest_scans_week_and_every_figure_matches(history):
    data = history["json"]
    assert data["week"] == "2026-W48"
    assert (data["week_start"], data["week_end"]) == ("2026-11-23", "2026-11-29")
    assert {k: data[k] for k in FIGURES} == EXPECTED["2026-W48"]
    assert data["sla"] == {"met": 3, "judged": 6}
    assert [(s["file_name"], s["detectable"]) for s in data["scans"]] == [
        ("w48.nessus", True), ("w48-quick.nessus", False)]


def test_trend_has_every_week_and_a_gap_not_zeros_for_the_week_without_scans(history):
    trend = history["json"]["trend"]
    # --weeks 6 asks for W43..W48; W43 is before the first scan: no history, not shown
    assert [p["week"] for p in trend] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47",
                                          "2026-W48"]
    assert [p["scans"] for p in trend] == [1, 1, 0, 1, 2]
    for p in trend:
        assert {k: p[k] for k in FIGURES} == EXPECTED[p["week"]], p["week"]
    assert all(trend[2][k] is None for k in FIGURES)       # W46: a gap, not zeros


def test_an_earlier_week_sees_nothing_that_happened_after_it(history):
    # W45 as its own report: the W47 resurfacing, C's expiry and the W48 fix have not happened
    r = ok("report", "weekly", "--db", history["db"], "--week", "2026-W45", "--weeks", "2",
           "--json", "-")
    data = json.loads(r.stdout)
    assert {k: data[k] for k in FIGURES} == EXPECTED["2026-W45"]
    assert [p["week"] for p in data["trend"]] == ["2026-W44", "2026-W45"]
    # --as-of inside W48, before the blind rescan and before D's fix shows up: Monday only
    r = ok("report", "weekly", "--db", history["db"], "--as-of", "2026-11-22T23:00:00Z",
           "--json", "-")
    assert json.loads(r.stdout)["week"] == "2026-W47"
    r = ok("report", "weekly", "--db", history["db"], "--as-of", "2026-11-23", "--json", "-")
    monday = json.loads(r.stdout)
    assert monday["week"] == "2026-W48" and monday["as_of"] == "2026-11-23T23:59:59Z"
    assert [s["file_name"] for s in monday["scans"]] == ["w48.nessus"]
    # C not rescanned yet on Monday: still not verifiable; D fixed on Monday's scan
    assert (monday["not_verifiable"], monday["fixed_verified"], monday["new"]) == (1, 1, 1)


def test_html_sections_tables_and_csp(history):
    html = (history["out"] / "w.html").read_text()
    assert "<script" not in html.lower()
    assert ('content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:'
            in html)
    for section in ("headline", "trend", "breakdowns", "oldest", "data-quality", "open-tickets"):
        assert f'<section id="{section}">' in html
    assert html.count('<svg class="chart') == 2
    assert "no scan this week (gap, not zero)" in html
    assert "Hosts without an owner (1)" in html and IP["E"] in html
    assert "Inventory assets not scanned in the period (1)" in html and "AST-F" in html
    assert "Scans whose policy could not detect L2TP (1)" in html
    assert "plugin 11387 (L2TP Network Server Detection) not enabled" in html
    assert "Open tickets per host (5)" in html
    for k in ("A", "B", "C", "E", "I"):
        assert key(k) in html
    assert "Risk acceptances in force (2)" in html and "2026-12-15" in html


def test_markdown_summary_has_headline_figures_and_top_items(history):
    md = (history["out"] / "w.md").read_text()
    assert md.startswith("# L2TP exposure: weekly report 2026-W48\n")
    assert "| Overdue | 2 | 2 |" in md and "| SLA compliance | 50.0% | 60.0% |" in md
    assert "## Overdue (2)" in md and key("A") in md and key("B") in md
    assert "## Fixed and verified this week (1)" in md and key("D") in md
    assert "## Risk acceptances expiring within 30 days (1)" in md
    assert f"- {key('G')} 10.0.0.7: Carol, P4, accepted through 2026-12-15" in md
    assert "## Open but not verifiable this week (1)" in md


def test_workbook_has_the_tables_and_a_native_trend_chart_with_gaps(history):
    wb = openpyxl.load_workbook(history["out"] / "w.xlsx")
    assert wb.sheetnames == ["Summary", "Trend", "Metrics", "Metrics trend", "Aging", "By business unit", "By team and owner",
                             "By priority", "Oldest open", "Open tickets", "Changes this week",
                             "Risk acceptances", "Data quality", "Scans"]
    trend = wb["Trend"]
    rows = list(trend.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    figures = slice(3, 3 + len(FIGURES))
    assert rows[2][figures] == (None,) * len(FIGURES)        # the gap stays empty, and says so
    assert rows[2][-1] == "no scan this week: a gap, not zero"
    sla = FIGURES.index("sla_compliance_pct")
    w48 = EXPECTED["2026-W48"]
    assert rows[4][figures] == tuple(w48[k] / 100 if k == "sla_compliance_pct" else w48[k]
                                     for k in FIGURES)         # a share, shown as a percentage
    assert trend.cell(row=6, column=4 + sla).number_format == "0.0%"
    assert len(trend._charts) == 1
    import zipfile
    with zipfile.ZipFile(history["out"] / "w.xlsx") as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "<lineChart>" in chart and 'dispBlanksAs val="gap"' in chart
    # as the page draws it: bars for new and fixed, a straight line for open tickets (a
    # smoothed curve would dip below zero and miss the weekly values), the axis from zero,
    # the legend below the plot where every name fits
    assert chart.count("<barChart>") == 1 and chart.count("<ser>") == 3
    assert chart.count('<smooth val="0"/>') == 1 and '<smooth val="1"/>' not in chart
    assert '<min val="0"/>' in chart and '<legendPos val="b"/>' in chart
    open_rows = list(wb["Open tickets"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in open_rows) == sorted(key(k) for k in "ABCEI")


def test_changes_sheet_counts_a_fixed_tickets_days_open_to_its_fix(history):
    """A ticket fixed this week was open from first seen to its fix, in whole days (D: 11-02
    08:03 to 11-23 08:02, 20 days), not to the cut-off (27); a new ticket still open counts to
    the cut-off (I: 11-23 08:05 to 11-29 23:59:59, 6)."""
    ws = openpyxl.load_workbook(history["out"] / "w.xlsx")["Changes this week"]
    header, *rows = ws.iter_rows(values_only=True)
    days = {(r[header.index("Change")], r[header.index("Key")]): r[header.index("Days open")]
            for r in rows}
    assert days == {("fixed (verified)", key("D")): 20, ("new", key("I")): 6}


def test_outputs_are_byte_identical_on_rerun(history):
    out2 = history["dir"] / "again"
    ok("report", "weekly", "--db", history["db"], "--weeks", "6", "--html", out2 / "w.html",
       "--xlsx", out2 / "w.xlsx", "--markdown", out2 / "w.md", "--json", out2 / "w.json")
    for name in ("w.html", "w.xlsx", "w.md", "w.json"):
        assert (out2 / name).read_bytes() == (history["out"] / name).read_bytes(), name


def test_team_narrows_every_figure_to_that_teams_assets(history):
    r = ok("report", "weekly", "--db", history["db"], "--team", "web", "--weeks", "6",
           "--json", "-")
    data = json.loads(r.stdout)
    # Web = B (resurfaced, overdue), D (fixed late this week), I (new)
    assert data["slice"] == {"by": "team", "value": "web"}
    assert (data["open_tickets"], data["new"], data["fixed_verified"], data["overdue"],
            data["sla_compliance_pct"]) == (2, 1, 1, 1, 33.3)
    bad = run_cli("report", "weekly", "--db", history["db"], "--team", "Webb", "--json", "-")
    assert bad.returncode == 1 and b"no ticket or inventory asset has team 'Webb'" in bad.stderr


def test_split_by_team_writes_one_report_per_team_with_safe_names(history):
    d = history["dir"] / "teams"
    ok("report", "weekly", "--db", history["db"], "--split-by", "team", d)
    index = json.loads((d / "index.json").read_text())
    values = [e["value"] for e in index["reports"]]
    assert values == ["Net", "Ops", "Web", None]           # None: hosts with no team (E)
    by_value = {e["value"]: e for e in index["reports"]}
    assert (by_value["Net"]["open_tickets"], by_value[None]["open_tickets"]) == (2, 1)
    for e in index["reports"]:
        for name in e["files"].values():
            assert (d / name).is_file()
    import re
    names = sorted(p.name for p in d.iterdir())
    assert all(re.fullmatch(r"weekly-2026-W48-team-[a-z0-9-]+-[0-9a-f]{8}\.(html|xlsx|md|json)", n)
               for n in names if n != "index.json")
    assert len(names) == 4 * 4 + 1


def test_bad_options_are_one_clear_line(history, tmp_path):
    # a value of the wrong form is a usage error (2); a combination that cannot work is 1
    cases = [
        (("--week", "2026-W60", "--json", "-"), 2, b"--week '2026-W60' does not exist"),
        (("--week", "48", "--json", "-"), 2, b"is not an ISO week"),
        (("--as-of", "25/11/2026", "--json", "-"), 2, b"--as-of '25/11/2026' is not a date"),
        (("--week", "2026-W48", "--as-of", "2026-11-25", "--json", "-"), 1, b"not both"),
        (("--split-by", "owner", str(tmp_path)), 2, b"is not team or business_unit"),
        ((), 1, b"nothing to write"),
    ]
    for args, code, message in cases:
        r = run_cli("report", "weekly", "--db", history["db"], *args)
        assert r.returncode == code and message in r.stderr, (args, r.stderr)
        assert b"Traceback" not in r.stderr


# -- the sample run: what a new user sees ------------------------------------------------------

@pytest.mark.slow
def test_the_sample_report_lists_by_priority_then_age_names_hosts_and_explains_itself(sample_run):
    page = (sample_run / "weekly-2026-W48.html").read_text("utf-8")
    oldest = page.split('<section id="oldest">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<td class="key">(VP-\w+)</td><td class="wrap">(.*?)</td>.*?'
                      r'<td>(P\d)</td><td class="mono">(\d{4}-\d\d-\d\d)</td>', oldest)
    assert len(rows) == 10
    order = [(prio, first_seen) for _key, _host, prio, first_seen in rows]
    assert order == sorted(order) and order[0][0] == "P1"          # priority, then age
    hosts = [html.unescape(re.sub(r"<[^>]+>", "", host)) for _key, host, _p, _f in rows]
    assert "vpn1.corp.example (10.10.5.10)" in hosts               # name, address beside it
    assert "10.20.7.1" in hosts                                    # no name known: the address
    assert not any(re.search(r"(\d+\.\d+\.\d+\.\d+).*\1", h) for h in hosts)   # once
    assert "docs/" not in page and ".md" not in page               # no links into the repository
    assert "How to read this report" in page
    trend = page.split('<section id="trend">', 1)[1].split("</section>", 1)[0]
    assert '<td class="n">42.9%</td>' in trend                     # a share reads as one


@pytest.mark.slow
def test_the_sample_workbooks_list_by_priority_then_age(sample_run):
    ws = openpyxl.load_workbook(sample_run / "weekly-2026-W48.xlsx")["Oldest open"]
    header = [c.value for c in ws[1]]
    order = [(r[header.index("Priority")], r[header.index("First seen")])
             for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(order) == 10 and order == sorted(order) and order[0][0] == "P1"
    ws = openpyxl.load_workbook(sample_run / "tickets.xlsx")["Tickets"]
    header = [c.value for c in ws[1]]
    rows = [(r[header.index("Status")] not in ("open", "resurfaced"), r[header.index("Priority")],
             r[header.index("First seen")]) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == 23 and rows == sorted(rows)                # open first, P1 first


# -- #25: the cut-off instant belongs to the week -----------------------------------------------

def test_a_fix_at_the_cut_off_counts_and_a_due_date_at_the_cut_off_is_not_yet_overdue(tmp_path):
    # A and E carry L2TP and match no inventory: P2, 14 days from the day first seen.
    # A: first seen Mon 10-26, fixed by the scan of Mon 11-02 08:00 (its own host_start).
    # E: first seen Wed 10-28, due Wed 11-11 00:00, still reported on Mon 11-09.
    db = str(tmp_path / "s.db")
    ok("ingest", scan(tmp_path, "a.nessus", week(0), {"A": {"A"}}),
       scan(tmp_path, "e.nessus", week(0, 2), {"E": {"E"}}),
       scan(tmp_path, "w45.nessus", week(1), {"A": set(), "E": {"E"}}),
       scan(tmp_path, "w46.nessus", week(2), {"E": {"E"}}), "--db", db)

    def report(as_of):
        return json.loads(ok("report", "weekly", "--db", db, "--as-of", as_of, "--json", "-").stdout)

    fix = report("2026-11-02T08:00:00Z")                   # the instant the fixing scan saw A
    assert (fix["week"], fix["as_of"]) == ("2026-W45", "2026-11-02T08:00:00Z")
    assert (fix["fixed_verified"], fix["open_tickets"], fix["sla_compliance_pct"]) == (1, 1, 100.0)
    due = report("2026-11-11T00:00:00Z")                   # E's due date, to the microsecond
    assert (due["open_tickets"], due["overdue"], due["sla_compliance_pct"]) == (1, 0, 100.0)
    late = report("2026-11-11T00:00:01Z")
    assert (late["open_tickets"], late["overdue"], late["sla_compliance_pct"]) == (1, 1, 0.0)
