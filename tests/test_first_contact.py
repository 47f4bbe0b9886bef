"""Issue #18, first contact: what a new user tries after the tutorial. Each test is one point
of the issue (numbered as there): a good file is never lost, ticket identity is stable with
any inventory, and every edge says what it does."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests import nessus_builder as nb
from tests.conftest import ROOT, run_cli

SAMPLE = ROOT / "sample_data"
W48 = SAMPLE / "scans" / "2026-W48-weekly.nessus"
MARCH = datetime(2024, 3, 4, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def elsa_scan(tmp_path_factory) -> Path:
    """One scan with an L2TP finding and a plugin-68453 advisory (the note's trigger)."""
    d = tmp_path_factory.mktemp("elsa")
    return nb.write(d / "elsa.nessus", [nb.HostSpec(
        "10.0.0.1", ip="10.0.0.1", start=MARCH, items=[nb.l2tp(), nb.item(**nb.ELSA)])])


# -- 13: -q/-v after the command, value names in --help, the 68453 note -----------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_13_quiet_works_before_and_after_the_command(elsa_scan, tmp_path, where):
    args = ["parse", elsa_scan, "--out", tmp_path / "x.jsonl"]
    args = ["-q", *args] if where == "before" else [*args, "-q"]
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr == b""                       # no summary, and no 68453 note either


def test_13_verbose_after_the_command(elsa_scan, tmp_path):
    r = run_cli("parse", elsa_scan, "--out", tmp_path / "x.jsonl", "-v", cwd=tmp_path)
    assert r.returncode == 0
    assert b"read by the" in r.stderr             # a verbose line


def test_13_the_68453_note_comes_once_without_quiet(elsa_scan, tmp_path):
    r = run_cli("join", elsa_scan, "--inventory", ROOT / "tests/fixtures/inventory/basic.csv",
                "--out", tmp_path / "j.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr.decode().count("plugin 68453") == 1


@pytest.mark.parametrize("words", [["parse"], ["accept"], ["reconcile"], ["tickets"],
                                   ["report", "weekly"], ["evidence", "build"], ["run"]])
def test_13_help_names_values_not_python_types(words):
    r = run_cli(*words, "--help")
    text = r.stdout.decode()
    assert r.returncode == 0
    for python_type in ("<str>", "<path>", "<int>", "list[", "<list", "Path]"):
        assert python_type not in text, f"{words}: {python_type} in --help"
    assert "-q, --quiet" in text


# -- 11: a value of the wrong form is a usage error (exit 2), as docs/reference/exit-codes.md says

@pytest.mark.parametrize("args, message", [
    (("report", "weekly", "--week", "2026-48", "--json", "-"), "--week '2026-48' is not an ISO week"),
    (("accept", "VP-0000000000", "--until", "31/12/2026", "--reason", "r", "--approver", "a"),
     "--until '31/12/2026' is not a date"),
    (("evidence", "build", "--quarter", "2026-Q5", "--out", "x.zip"), "--quarter '2026-Q5'"),
    (("tickets", "--as-of", "yesterday", "--jsonl", "-"), "--as-of 'yesterday' is not a date"),
])
def test_11_a_value_of_the_wrong_form_exits_2(tmp_path, args, message):
    r = run_cli(*args, "--db", tmp_path / "none.db", cwd=tmp_path)
    assert r.returncode == 2, r.stderr.decode()
    assert message in r.stderr.decode()
    assert not (tmp_path / "none.db").exists()


def test_11_the_exit_code_reference_says_so():
    text = (ROOT / "docs/reference/exit-codes.md").read_text("utf-8")
    assert "--until 31/12/2026" in text and "--week 2026-48" in text


# -- 1: a run whose inputs all failed leaves an existing output untouched, and makes none ------

@pytest.mark.parametrize("command, fmt", [("parse", "jsonl"), ("parse", "csv"), ("parse", "xlsx"),
                                          ("parse", "parquet"), ("join", "jsonl"),
                                          ("join", "xlsx")])
def test_1_all_inputs_failed_keeps_the_good_output(tmp_path, command, fmt):
    inventory = ["--inventory", SAMPLE / "inventory.csv"] if command == "join" else []
    out = tmp_path / f"good.{fmt}"
    first = run_cli(command, W48, *inventory, "--format", fmt, "--out", out, cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    good = out.read_bytes()
    assert good
    again = run_cli(command, tmp_path / "mistyped.nessus", *inventory, "--format", fmt,
                    "--out", out, cwd=tmp_path)
    assert again.returncode == 1 and b"no such file" in again.stderr
    assert out.read_bytes() == good
    fresh = tmp_path / f"never.{fmt}"
    assert run_cli(command, tmp_path / "mistyped.nessus", *inventory, "--format", fmt,
                   "--out", fresh, cwd=tmp_path).returncode == 1
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]     # no temporary left


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_1_all_inputs_failed_writes_nothing_to_standard_output(tmp_path, fmt):
    r = run_cli("parse", tmp_path / "mistyped.nessus", "--format", fmt, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == b""


def test_1_one_good_input_of_two_still_writes(tmp_path):
    out = tmp_path / "out.jsonl"
    r = run_cli("parse", W48, tmp_path / "mistyped.nessus", "--out", out, cwd=tmp_path)
    assert r.returncode == 1
    assert len(out.read_bytes().splitlines()) == 31


# -- 3: the format follows the --out name; a contradiction is refused ----------------------------

def _kind(path: Path) -> str:
    head = path.read_bytes()[:4]
    return {b"PK\x03\x04": "zip", b"PAR1": "parquet"}.get(head, "text")


@pytest.mark.parametrize("command, name, kind", [
    ("parse", "ext.xlsx", "zip"), ("parse", "ext.parquet", "parquet"), ("parse", "ext.csv", "csv"),
    ("parse", "ext.jsonl", "jsonl"), ("parse", "ext.txt", "jsonl"),
    ("join", "x.xlsx", "zip"), ("join", "x.csv", "csv"),
])
def test_3_the_format_is_inferred_from_the_out_name(tmp_path, command, name, kind):
    inventory = ["--inventory", SAMPLE / "inventory.csv"] if command == "join" else []
    out = tmp_path / name
    r = run_cli(command, W48, *inventory, "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    first = out.read_bytes().splitlines()[0] if kind in ("csv", "jsonl") else b""
    if kind == "csv":
        assert first.startswith(b"scan_file,")
    elif kind == "jsonl":
        assert first.startswith(b"{")
    else:
        assert _kind(out) == kind


@pytest.mark.parametrize("command", ["parse", "join"])
def test_3_a_format_contradicting_the_out_name_is_refused(tmp_path, command):
    inventory = ["--inventory", SAMPLE / "inventory.csv"] if command == "join" else []
    r = run_cli(command, W48, *inventory, "--format", "jsonl", "--out", tmp_path / "x.xlsx",
                cwd=tmp_path)
    assert r.returncode == 2
    assert "--format jsonl does not match --out" in r.stderr.decode()
    assert not (tmp_path / "x.xlsx").exists()


def test_3_reconcile_writes_the_workbook_its_out_names(tmp_path):
    scans = SAMPLE / "scans"
    out = tmp_path / "r.xlsx"
    r = run_cli("reconcile", "--baseline", W48, "--rescan", scans / "2026-W48-rescan-a.nessus",
                "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert _kind(out) == "zip"


# -- 4: an office file renamed .nessus is named for what it is --------------------------------

def _office_file(path: Path, parts: list[str]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in parts:
            zf.writestr(part, "<x/>" * 2000)
    return path


@pytest.mark.parametrize("make, what", [
    (lambda p: _office_file(p, ["docProps/app.xml", "docProps/core.xml", "xl/workbook.xml",
                                "xl/worksheets/sheet1.xml", "[Content_Types].xml"]),
     "an Excel workbook (.xlsx)"),
    (lambda p: _office_file(p, ["[Content_Types].xml", "_rels/.rels", "word/document.xml"]),
     "a Word document (.docx)"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600) and p,
     "an old Office 97-2003 file (.xls, .doc or .ppt)"),
])
@pytest.mark.parametrize("command", ["parse", "inspect"])
def test_4_office_files_renamed_nessus_say_what_they_are(tmp_path, make, what, command):
    path = tmp_path / "scan.nessus"
    make(path)
    r = run_cli(command, path, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert f"scan.nessus: this is {what}, not a .nessus export" in err
    assert "rename it" not in err


def test_4_a_real_workbook_renamed_nessus(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["host", "plugin"])
    book.save(tmp_path / "findings.xlsx")
    (tmp_path / "findings.xlsx").rename(tmp_path / "findings.nessus")
    r = run_cli("parse", tmp_path / "findings.nessus", cwd=tmp_path)
    assert r.returncode == 1 and b"this is an Excel workbook (.xlsx)" in r.stderr


# -- 2: one rule for a missing or empty store ---------------------------------------------------

READERS = [("scans",), ("findings",), ("tickets", "--xlsx", "t.xlsx"), ("reconcile",),
           ("report", "weekly", "--json", "w.json"), ("evidence", "build", "--out", "e.zip"),
           ("accept", "VP-0000000000", "--until", "2099-01-01", "--reason", "r",
            "--approver", "a")]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_2_reading_a_missing_store_is_one_line_and_exit_1(tmp_path, args):
    r = run_cli(*args, "--db", tmp_path / "vulnpipe.db", cwd=tmp_path)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, lines
    assert "no database at" in lines[0] and "run `vulnpipe ingest SCAN...` first" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_2_ingest_of_missing_inputs_makes_no_database(tmp_path):
    r = run_cli("ingest", tmp_path / "missing.nessus", "--db", tmp_path / "vulnpipe.db",
                cwd=tmp_path)
    assert r.returncode == 1 and b"no such file" in r.stderr
    assert b"no database opened" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_2_reading_a_store_without_scans_is_one_line_and_exit_1(tmp_path, db_url):
    bad = tmp_path / "bad.nessus"
    bad.write_bytes(b"<NessusClientData_v2><Report name='x'><ReportHost name='h'>")
    assert run_cli("ingest", bad, "--db", db_url, cwd=tmp_path).returncode == 1   # opens it
    for args in READERS:
        r = run_cli(*args, "--db", db_url, cwd=tmp_path)
        lines = r.stderr.decode().splitlines()
        assert r.returncode == 1 and len(lines) == 1, (args, lines)
        assert "holds no scans yet" in lines[0], (args, lines)
    assert not (tmp_path / "t.xlsx").exists() and not (tmp_path / "e.zip").exists()


def test_2_reconcile_with_scans_but_no_tickets_ends_its_sentence(tmp_path):
    quiet = nb.write(tmp_path / "q.nessus", [nb.HostSpec("10.0.0.9", ip="10.0.0.9", start=MARCH,
                                                         items=[nb.item(plugin_id=19506)])])
    db = tmp_path / "v.db"
    assert run_cli("ingest", quiet, "--db", db).returncode == 0
    r = run_cli("reconcile", "--db", db)
    assert r.returncode == 0
    assert r.stderr.decode().strip() == "0 ticket(s) changed; now no tickets"


def test_2_the_rule_is_stated_in_the_docs():
    rule = "needs one holding at least one scan: a missing or empty store is one error line and exit 1"
    for page in (ROOT / "docs/reference/exit-codes.md", ROOT / "README.md"):
        assert rule in " ".join(page.read_text("utf-8").replace("**", "").split()), page.name


def test_3_stored_findings_follow_the_out_name_too(tmp_path):
    db = tmp_path / "v.db"
    assert run_cli("ingest", W48, "--db", db).returncode == 0
    r = run_cli("findings", "--db", db, "--out", tmp_path / "f.csv")
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "f.csv").read_bytes().startswith(b"scan_file,")


# -- 10: an acceptance that has already expired is refused; keys in any case -----------------

@pytest.fixture()
def one_ticket(tmp_path) -> tuple[Path, str]:
    import json

    db = tmp_path / "v.db"
    scan = nb.write(tmp_path / "s.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", start=MARCH,
                                                        items=[nb.l2tp()])])
    assert run_cli("ingest", scan, "--db", db).returncode == 0
    out = run_cli("tickets", "--db", db, "--jsonl", "-")
    return db, json.loads(out.stdout.splitlines()[0])["key"]


def test_10_an_acceptance_until_a_past_day_is_refused(one_ticket):
    db, key = one_ticket
    r = run_cli("accept", key, "--until", "2020-01-01", "--reason", "r", "--approver", "a",
                "--db", db)
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "--until 2020-01-01 is already past" in lines[0]
    tickets = run_cli("tickets", "--db", db, "--jsonl", "-").stdout
    assert b"risk_accepted" not in tickets and b"2020-01-01" not in tickets
    backdated = run_cli("accept", key, "--until", "2024-03-31", "--at", "2024-03-05",
                        "--reason", "r", "--approver", "a", "--db", db)
    assert backdated.returncode == 0, backdated.stderr.decode()   # recorded when it was decided


@pytest.mark.parametrize("command", [["accept", "--until", "2099-12-31", "--approver", "a"],
                                     ["false-positive"], ["reopen"]])
def test_10_ticket_keys_are_accepted_in_any_case(one_ticket, command):
    db, key = one_ticket
    if command[0] == "reopen":           # (withdraws a decision in force, #24)
        assert run_cli("false-positive", key, "--reason", "r", "--db", db).returncode == 0
    r = run_cli(command[0], key.lower(), *command[1:], "--reason", "r", "--db", db)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr.decode().startswith(f"{key}: ")              # said with its real key


# -- 5 and 6: owners and asset identity from real inventories ---------------------------------

def _three_hosts(tmp_path: Path) -> Path:
    hosts = [nb.HostSpec(f"10.0.0.{i}", ip=f"10.0.0.{i}", start=MARCH, items=[nb.l2tp()])
             for i in (1, 2, 3)]
    return nb.write(tmp_path / "three.nessus", hosts)


def _jira(tmp_path: Path, scan: Path, inventory: Path) -> dict[str, dict]:
    import csv

    out = tmp_path / "jira.csv"
    r = run_cli("tickets", "--scan", scan, "--inventory", inventory, "--jira-csv", out,
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    return {row["Summary"].split(" on ")[1].split(",")[0]: row for row in rows}


def test_5_the_email_is_the_owner_when_there_is_no_owner_name(tmp_path):
    scan = _three_hosts(tmp_path)
    inventory = tmp_path / "cmdb.csv"
    inventory.write_text("IP Address,Hostname,Owner Email\n"
                         + "".join(f"10.0.0.{i},host{i},owner{i}@corp.example\n" for i in (1, 2, 3)))
    r = run_cli("join", scan, "--inventory", inventory, "--out", tmp_path / "j.jsonl")
    assert r.returncode == 0 and "0 unowned" in r.stderr.decode(), r.stderr.decode()
    jira = _jira(tmp_path, scan, inventory)
    assert sorted(row["Assignee"] for row in jira.values()) == [
        "owner1@corp.example", "owner2@corp.example", "owner3@corp.example"]


def _keys(tmp_path: Path, scan: Path, inventory: Path) -> dict[str, str]:
    import json

    r = run_cli("tickets", "--scan", scan, "--inventory", inventory, "--jsonl", "-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    return {t["address"]: t["key"] for t in map(json.loads, r.stdout.splitlines())}


def test_6_ticket_keys_survive_a_new_row_at_the_top_of_an_inventory_without_ids(tmp_path):
    scan = _three_hosts(tmp_path)
    rows = "".join(f"10.0.0.{i},host{i},Owner {i}\n" for i in (1, 2, 3))
    inventory = tmp_path / "cmdb.csv"
    inventory.write_text("IP Address,Hostname,Owner\n" + rows)
    before = _keys(tmp_path, scan, inventory)
    inventory.write_text("IP Address,Hostname,Owner\n10.9.9.9,newcomer,Nora\n" + rows)
    after = _keys(tmp_path, scan, inventory)
    assert len(before) == 3 and after == before


def test_6_an_identity_only_the_row_order_gives_is_warned_about(tmp_path):
    scan = _three_hosts(tmp_path)
    inventory = tmp_path / "cmdb.csv"
    inventory.write_text("IP Address,Hostname,Owner\n10.0.0.1,host1,Ann\n10.0.0.2,twin,Ben\n"
                         "10.0.0.2,twin,Bea\n")
    r = run_cli("tickets", "--scan", scan, "--inventory", inventory, "--jsonl", tmp_path / "t")
    assert r.returncode == 0
    assert "note: inventory cmdb.csv: 2 asset(s) are told apart only by their row" in r.stderr.decode()
    join = run_cli("join", scan, "--inventory", inventory, "--out", tmp_path / "j.jsonl")
    assert "row 3 (row-3): row_order_id" in join.stderr.decode()


def test_6_the_sample_inventory_keeps_its_asset_ids_and_ticket_keys(tmp_path):
    from vulnpipe import load_inventory

    inv = load_inventory(SAMPLE / "inventory.csv")
    import csv

    given = [row["Asset ID"] for row in csv.DictReader((SAMPLE / "inventory.csv").open())]
    assert list(inv.assets["asset_id"]) == given
    keys = _keys(tmp_path, W48, SAMPLE / "inventory.csv")
    assert keys["10.10.1.21"] == "VP-6F2FFC4B93"              # rras01, as the tutorial says


# -- 7: reconcile --baseline/--rescan uses the inventory the last run stored ------------------

def test_7_stateless_reconcile_uses_the_stored_inventory(tmp_path):
    import json

    scans = SAMPLE / "scans"
    args = ["reconcile", "--baseline", W48, "--rescan", scans / "2026-W48-rescan-a.nessus",
            "--db", tmp_path / "v.db"]
    assert run_cli("ingest", W48, "--db", tmp_path / "v.db").returncode == 0
    assert run_cli("tickets", "--db", tmp_path / "v.db", "--inventory", SAMPLE / "inventory.csv",
                   "--jsonl", tmp_path / "t.jsonl").returncode == 0
    given = run_cli(*args, "--inventory", SAMPLE / "inventory.csv", "--out", tmp_path / "a.json")
    stored = run_cli(*args, "--out", tmp_path / "b.json")
    assert given.returncode == stored.returncode == 0, stored.stderr.decode()
    assert "as stored in the database" in stored.stderr.decode()
    rows = json.loads((tmp_path / "b.json").read_text())["findings"]
    assert sum(1 for r in rows if r["asset_id"]) > 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


# -- 9: a profile declares what detects it; coverage, inspect, report and pack follow it -------

def _howto_config() -> str:
    """The vulnpipe.toml of docs/howto/write-a-profile.md that makes pptp the default."""
    import re

    page = (ROOT / "docs/howto/write-a-profile.md").read_text("utf-8")
    return next(b for b in re.findall(r"```toml\n(.*?)```", page, re.S) if 'default = "pptp"' in b)


@pytest.fixture(scope="module")
def pptp_world(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pptp")
    (d / "vulnpipe.toml").write_text(_howto_config().replace(
        'files = ["profiles/campaigns.toml"] # more profile files, relative to vulnpipe.toml\n', ""))
    pptp_on = nb.policy_element(name="Sweep A", plugin_set=[10622])
    l2tp_on = nb.policy_element(name="Sweep B", plugin_set=[11387])
    nb.write(d / "a.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", start=MARCH,
                                          items=[nb.item(**nb.PPTP)])], policy=pptp_on)
    nb.write(d / "b.nessus", [nb.HostSpec("10.0.0.2", ip="10.0.0.2", start=MARCH,
                                          items=[nb.l2tp()])], policy=l2tp_on)
    r = run_cli("ingest", d / "a.nessus", d / "b.nessus", "--db", d / "v.db", cwd=d)
    assert r.returncode == 0 and "profile 'pptp'" in r.stderr.decode(), r.stderr.decode()
    return d


def test_9_the_report_judges_scans_by_the_profiles_own_detector(pptp_world):
    import json

    d = pptp_world
    r = run_cli("report", "weekly", "--db", d / "v.db", "--json", "-", "--markdown", d / "w.md",
                "--html", d / "w.html", cwd=d)
    assert r.returncode == 0, r.stderr.decode()
    data = json.loads(r.stdout)
    assert data["profile"] == "pptp" and data["campaign"] == "PPTP"
    scans = {s["file_name"]: (s["detectable"], s["reason"]) for s in data["scans"]}
    assert scans == {"a.nessus": (True, None),
                     "b.nessus": (False, "plugin 10622 (PPTP Detection) not enabled")}
    md = (d / "w.md").read_text("utf-8")
    assert md.startswith("# PPTP exposure: weekly report") and "L2TP" not in md
    html = (d / "w.html").read_text("utf-8")
    assert "Can detect PPTP" in html and "plugin 10622 (tcp/1723)" in html
    assert "L2TP" not in html and "11387" not in html


def test_9_inspect_follows_the_profile(pptp_world):
    d = pptp_world
    text = run_cli("inspect", d / "a.nessus", d / "b.nessus", cwd=d).stdout.decode()
    assert "plugin 10622   yes" in text and "PPTP findings  1 primary" in text
    assert "NO: this scan cannot report PPTP; plugin 10622 (PPTP Detection) not enabled" in text
    assert "L2TP" not in text
    l2tp = run_cli("inspect", "--profile", "l2tp", d / "b.nessus", cwd=d).stdout.decode()
    assert "plugin 11387   yes" in l2tp and "L2TP findings  1 primary" in l2tp


def test_9_the_evidence_pack_records_what_could_detect_the_profile(pptp_world):
    import json
    import zipfile

    d = pptp_world
    r = run_cli("evidence", "build", "--db", d / "v.db", "--out", d / "e.zip", cwd=d)
    assert r.returncode == 0, r.stderr.decode()
    with zipfile.ZipFile(d / "e.zip") as z:
        docs = [json.loads(z.read(n)) for n in z.namelist() if n.startswith("scans/")]
        index = z.read("index.html").decode()
    found = {doc["file_name"]: doc["detection"] for doc in docs}
    assert found["a.nessus"] == {"campaign": "PPTP", "detected_by": "plugin 10622 (tcp/1723)",
                                 "detectable": True, "reason": None}
    assert found["b.nessus"]["detectable"] is False
    assert "Can detect PPTP" in index


def test_9_the_l2tp_profile_declares_11387_on_udp_1701_and_exclusions_win():
    from vulnpipe.ingest.profiles import Detector, resolve_profile

    l2tp = resolve_profile("l2tp")
    assert l2tp.detect == (Detector(11387, "Firewalls", ((1701, "udp"),),
                                    "L2TP Network Server Detection"),)
    assert (l2tp.campaign, l2tp.heading) == ("L2TP", "L2TP exposure")
    widened = resolve_profile("l2tp", extra_plugins=[68453])
    assert widened.role(68453, "Oracle Linux 6 : mysql (ELSA-2012-0105)", None, 0, "tcp") is None


# -- 12: a week without any data says so, whatever the output ---------------------------------

@pytest.mark.parametrize("week, message", [
    ("2026-W40", "no data for 2026-W40: the first stored scan is in 2026-W48"),
    ("2099-W01", "no data for 2099-W01: that week has not begun"),
])
def test_12_a_week_before_the_first_scan_or_in_the_future_has_no_data(tmp_path, week, message):
    db = tmp_path / "v.db"
    assert run_cli("ingest", W48, "--db", db).returncode == 0
    r = run_cli("report", "weekly", "--db", db, "--week", week, "--json", tmp_path / "w.json",
                "--html", tmp_path / "w.html")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("v.db")) == []
    early = run_cli("report", "weekly", "--db", db, "--as-of", "2026-10-01", "--json", "-")
    assert early.returncode == 1 and b"no data for 2026-W40" in early.stderr


def test_12_the_report_on_a_week_after_the_scans_but_not_in_the_future_still_works(tmp_path):
    from vulnpipe.reports.weekly.history import check_has_data
    from vulnpipe.reports.weekly.weeks import parse_week

    first, last = datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 25, tzinfo=timezone.utc)
    now = datetime(2026, 12, 16, tzinfo=timezone.utc)                    # in 2026-W51
    for ok in ("2026-W45", "2026-W48", "2026-W50", "2026-W51"):
        check_has_data(parse_week(ok), [first, last], now)
    for bad in ("2026-W44", "2026-W52"):
        with pytest.raises(Exception, match="no data for"):
            check_has_data(parse_week(bad), [first, last], now)
    check_has_data(parse_week("2026-W48"), [first, last], datetime(2020, 1, 1, tzinfo=timezone.utc))


# -- 15: the pack's fingerprint, and what an unsigned pack does not prove ----------------------

@pytest.fixture(scope="module")
def small_pack(tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("pack")
    assert run_cli("ingest", W48, "--db", d / "v.db").returncode == 0
    r = run_cli("evidence", "build", "--db", d / "v.db", "--out", d / "p.zip", "-q")
    assert r.returncode == 0, r.stderr.decode()
    line = r.stdout.decode().strip()
    assert line.startswith("manifest.json SHA-256 ") and r.stderr == b""
    return d / "p.zip", line.split()[-1]


def _with_manifest(pack: Path, out: Path, change) -> Path:
    import zipfile

    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, change(data) if info.filename == "manifest.json" else data)
    return out


def test_15_build_prints_the_manifest_sha256_and_verify_checks_it(small_pack, tmp_path):
    import hashlib
    import zipfile

    pack, fingerprint = small_pack
    with zipfile.ZipFile(pack) as z:
        assert hashlib.sha256(z.read("manifest.json")).hexdigest() == fingerprint
    good = run_cli("evidence", "verify", pack, "--manifest-sha256", fingerprint.upper())
    assert good.returncode == 0 and b"matches the fingerprint given" in good.stderr
    bad = run_cli("evidence", "verify", pack, "--manifest-sha256", "0" * 64)
    assert bad.returncode == 1 and b"bad manifest: manifest.json (SHA-256" in bad.stdout
    assert run_cli("evidence", "verify", pack, "--manifest-sha256", "abc").returncode == 2


def test_15_a_changed_manifest_outside_any_hash_is_caught_only_by_the_fingerprint(small_pack,
                                                                                   tmp_path):
    pack, fingerprint = small_pack
    forged = _with_manifest(pack, tmp_path / "forged.zip",
                            lambda data: data.replace(b"sqlite:///", b"sqlite:////x"))
    plain = run_cli("evidence", "verify", forged)
    assert plain.returncode == 0                       # no hash covers the manifest itself...
    assert b"unsigned: manifest.json itself is not proved unchanged" in plain.stderr   # ...said
    checked = run_cli("evidence", "verify", forged, "--manifest-sha256", fingerprint)
    assert checked.returncode == 1 and b"is not the fingerprint given" in checked.stdout


def test_15_the_docs_say_what_an_unsigned_pack_proves():
    text = (ROOT / "docs/evidence.md").read_text("utf-8")
    assert "### What an unsigned pack proves, and what it does not" in text
    assert "--manifest-sha256" in text


# -- 16: what README says about Excel cells is true ------------------------------------------

def test_16_excel_cells_are_text_strings_or_typed_values_never_formulas(tmp_path):
    from openpyxl import load_workbook

    hostile = nb.l2tp(output="=HYPERLINK(\"http://evil.example/\",\"x\")")
    scan = nb.write(tmp_path / "h.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1", start=MARCH,
                                                        items=[hostile])])
    out = tmp_path / "f.xlsx"
    assert run_cli("parse", scan, W48, "--out", out).returncode == 0
    kinds = set()
    for row in load_workbook(out)["Findings"].iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            kinds.add(cell.data_type)
            assert cell.data_type != "f"
            if isinstance(cell.value, str):
                assert cell.data_type == "s", cell.coordinate
    assert {"s", "n"} <= kinds                      # text as strings, numbers as numbers
    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert "every cell written to Excel is a string cell" not in readme.lower()
    assert "No cell written to Excel is ever a formula" in readme
    assert "dates, numbers and yes/no values are typed" in readme


# -- 8 and 14: one join, one entry point with the CLI's defaults ------------------------------

def test_8_the_library_join_gives_the_commands_answer_for_a_host_known_by_its_hostname_tag(
        tmp_path):
    import json

    import vulnpipe

    hosts = [nb.HostSpec("10.9.0.7", ip="10.9.0.7", start=MARCH, items=[nb.l2tp()],
                         extra_tags={"hostname": "vpnbox"}),
             nb.HostSpec("10.9.0.8", ip="10.9.0.8", start=MARCH, items=[nb.l2tp()])]
    scan = nb.write(tmp_path / "s.nessus", hosts)
    inventory = tmp_path / "cmdb.csv"
    inventory.write_text("Asset ID,Hostname,IP Address,Owner\nA-1,vpnbox,10.99.0.1,Vera\n"
                         "A-2,other,10.9.0.8,Otto\n")
    r = run_cli("join", scan, "--inventory", inventory, "--out", tmp_path / "j.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    wanted = ("host_ip", "asset_id", "owner", "match_method", "priority", "due_date")
    command = sorted(tuple(row[k] for k in wanted) for row in
                     map(json.loads, (tmp_path / "j.jsonl").read_text().splitlines()))
    assert ("10.9.0.7", "A-1", "Vera", "hostname") == command[0][:4]

    _hosts, findings = vulnpipe.read_frames([scan])
    joined = vulnpipe.join_findings(findings, vulnpipe.load_inventory(inventory))
    library = sorted(tuple(None if v is None or v != v else
                           (v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v))
                           for v in row) for row in joined[list(wanted)].itertuples(index=False))
    assert library == command


def test_14_import_vulnpipe_is_the_entry_point_with_the_clis_defaults():
    import inspect

    import vulnpipe

    for name in ("read_frames", "iter_findings", "join_findings", "load_inventory",
                 "write_findings", "join_scans", "ingest_scans", "export_tickets",
                 "weekly_report", "build_evidence", "verify_evidence", "resolve_profile"):
        assert callable(getattr(vulnpipe, name)), name
    assert inspect.signature(vulnpipe.read_frames).parameters["profile"].default == "l2tp"
    assert inspect.signature(vulnpipe.iter_findings).parameters["profile"].default == "l2tp"
    assert inspect.signature(vulnpipe.resolve_profile).parameters["name"].default == "l2tp"
    _hosts, findings = vulnpipe.read_frames([W48])
    assert set(findings["profile_role"]) == {"primary", "related"}         # l2tp, like the CLI
    assert 68453 not in set(findings["plugin_id"].dropna().astype(int))


# -- acceptance: the tutorial says what the program prints --------------------------------------

@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> dict[str, str]:
    """The tutorial's steps 1-7 run as it says (in a scratch folder), their stderr by step."""
    d = tmp_path_factory.mktemp("tutorial")
    scans = SAMPLE / "scans"
    inv = SAMPLE / "inventory.csv"
    steps = {
        "inspect": ("inspect", W48),
        "inspect-dmz": ("inspect", scans / "2026-W46-dmz.nessus"),
        "ingest": ("ingest", scans),
        "tickets": ("tickets", "--inventory", inv, "--as-of", "2026-11-27", "--xlsx",
                    "out/tickets.xlsx", "--jira-csv", "out/jira.csv", "--jsonl",
                    "out/tickets.jsonl", "--markdown", "out/tickets/"),
        "reconcile-files": ("reconcile", "--baseline", W48,
                            *[a for n in "abc" for a in
                              ("--rescan", scans / f"2026-W48-rescan-{n}.nessus")],
                            "--out", "out/reconcile.json", "--targets-out",
                            "out/rescan-targets.txt"),
        "reconcile": ("reconcile", "--as-of", "2026-11-27"),
        "report": ("report", "weekly", "--week", "2026-W48", "--html", "out/weekly.html",
                   "--json", "out/weekly.json"),
    }
    out = {}
    for name, args in steps.items():
        r = run_cli(*args, cwd=d)
        assert r.returncode == 0, (name, r.stderr.decode())
        out[name] = (r.stdout + r.stderr).decode()
    return out


def _text_blocks() -> str:
    import re

    page = (ROOT / "docs/tutorial.md").read_text("utf-8")
    return "\n".join(re.findall(r"```text\n(.*?)```", page, re.S))


@pytest.mark.parametrize("step", ["inspect", "inspect-dmz", "ingest", "tickets",
                                  "reconcile-files", "reconcile", "report"])
def test_the_tutorial_prints_what_the_program_prints(tutorial, step):
    blocks = _text_blocks().splitlines()
    said = [line for line in tutorial[step].splitlines()
            if line.strip() and not line.startswith("note:")]
    quoted = [line for line in said if line in blocks
              or any(b.endswith("...") and line.startswith(b[:-3]) for b in blocks)]
    assert quoted, f"step {step}: the tutorial quotes none of {said}"
    if step != "inspect-dmz":                  # (the tutorial quotes one line of that one)
        assert quoted == said, f"step {step}: not in the tutorial: {set(said) - set(quoted)}"
    if step == "tickets":
        assert ("23 ticket(s): 18 open, 1 resurfaced, 4 fixed; profile 'l2tp'; wrote "
                "out/tickets.jsonl, out/jira.csv, out/tickets.xlsx, out/tickets/ (23 files)") in blocks
        assert "Of the 23 tickets, 18 are `open`, 1 is `resurfaced`" in (
            ROOT / "docs/tutorial.md").read_text("utf-8")
