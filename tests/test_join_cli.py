"""``vulnpipe join`` through the real program, and the ``vulnpipe.toml`` loader."""
from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.config import ConfigError, load_config
from vulnpipe.reports.writers.joined import JOINED_FIELDS

FIX = Path(__file__).parent / "fixtures" / "inventory"
MARCH = datetime(2024, 3, 4, 9, 30, tzinfo=timezone.utc)
FEB = datetime(2024, 2, 26, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    """Two weekly scans of the hosts of fixtures/inventory/basic.csv (and some strangers)."""
    d = tmp_path_factory.mktemp("scans")
    week = [
        nb.HostSpec("198.51.100.10", ip="198.51.100.10", items=[nb.l2tp(), nb.item(**nb.ELSA)]),
        nb.HostSpec("172.16.5.5", ip="172.16.5.5", fqdn="web01.corp.example", items=[nb.l2tp()]),
        nb.HostSpec("172.16.5.6", ip="172.16.5.6", netbios="FILESRV", items=[nb.l2tp()]),
        nb.HostSpec("172.16.5.7", ip="172.16.5.7", mac="00:50:56:AA:BB:03",
                    items=[nb.item(**nb.PPTP)]),
        nb.HostSpec("10.20.30.40", ip="10.20.30.40", items=[nb.l2tp()]),
        nb.HostSpec("10.1.0.50", ip="10.1.0.50", items=[nb.l2tp()]),
        nb.HostSpec("192.0.2.77", ip="192.0.2.77", items=[nb.l2tp()]),
    ]
    for h in week:
        h.start = MARCH
    nb.write(d / "week-10.nessus", week)
    first = nb.HostSpec("198.51.100.10", ip="198.51.100.10", items=[nb.l2tp()], start=FEB)
    nb.write(d / "week-09.nessus", [first])
    return d


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def _by_host(records) -> dict[str, dict]:
    return {r["host"]: r for r in records if r["scan_file"] == "week-10.nessus"}


def test_join_writes_owner_priority_and_due_date_per_finding(scans, tmp_path):
    out = tmp_path / "joined.csv"
    result = run_cli("join", scans, "--inventory", FIX / "basic.csv", "--default-owner", "secops",
                     "--format", "csv", "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    records = _csv(out)
    assert list(records[0]) == list(JOINED_FIELDS)
    rows = _by_host(records)
    vpn = rows["198.51.100.10"]
    assert (vpn["asset_id"], vpn["owner"], vpn["match_method"], vpn["priority"]) == \
        ("SRV-001", "Alice Martin", "ip", "P1")
    assert vpn["internet_facing"] == "true" and vpn["criticality"] == "critical"
    # first seen in week 9 (Feb 26) + 7 days
    assert (vpn["first_seen"], vpn["due_date"]) == ("2024-02-26T09:30:00Z", "2024-03-04")
    assert {h: r["match_method"] for h, r in rows.items()} == {
        "198.51.100.10": "ip", "172.16.5.5": "fqdn", "172.16.5.6": "hostname",
        "172.16.5.7": "mac", "10.20.30.40": "cidr", "10.1.0.50": "ambiguous",
        "192.0.2.77": "unmatched"}
    assert rows["10.20.30.40"]["asset_id"] == "NET-011"          # the narrowest range
    assert rows["10.1.0.50"]["match_candidates"] == "SRV-005;SRV-006"
    assert rows["192.0.2.77"]["owner"] == "secops"
    assert rows["172.16.5.7"]["plugin_id"] == "10622" and rows["172.16.5.7"]["sla_days"]
    assert not any(r["plugin_id"] == "68453" for r in records)
    assert [r["priority"] for r in records] == sorted(r["priority"] for r in records)


def test_join_prints_a_one_line_summary_and_data_quality_issues(scans, tmp_path):
    result = run_cli("join", scans / "week-10.nessus", "--inventory", FIX / "basic.csv",
                     "--out", tmp_path / "j.jsonl")
    err = result.stderr.decode()
    assert result.returncode == 0
    summary = next(line for line in err.splitlines() if "matched (" in line)
    assert "7 host(s): 5 matched (ip 1, fqdn 1, hostname 1, mac 1, cidr 1), 1 ambiguous, " \
           "1 unmatched; 2 unowned (no default owner" in summary
    assert "note: inventory basic.csv row 9 (SRV-006): duplicate_ip: IP 10.1.0.50" in err
    assert "68453" in err                                   # the note that it is not L2TP


def test_jsonl_values_are_typed(scans, tmp_path):
    out = tmp_path / "j.jsonl"
    run_cli("join", scans / "week-10.nessus", "--inventory", FIX / "basic.csv", "--out", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    vpn = next(r for r in records if r["host"] == "198.51.100.10")
    assert vpn["sla_days"] == 7 and vpn["internet_facing"] is True
    assert vpn["due_date"] == "2024-03-11" and vpn["plugin_id"] == 11387
    stranger = next(r for r in records if r["host"] == "192.0.2.77")
    assert stranger["asset_id"] is None and stranger["internet_facing"] is None


def test_xlsx_inventory_sheet_and_xlsx_output_are_reproducible(scans, tmp_path):
    wb = Workbook()
    wb.active.title = "Readme"
    wb.active.append(["This workbook lists servers"])
    ws = wb.create_sheet("Servers")
    ws.append(["Asset Tag", "IP", "Assigned To", "Exposure", "Business Criticality"])
    ws.append(["X-1", "198.51.100.10", "=cmd|' /C calc'!A0", "external", "critical"])
    wb.save(tmp_path / "cmdb.xlsx")
    outs = []
    for name in ("a.xlsx", "b.xlsx"):
        result = run_cli("join", scans / "week-10.nessus", "--inventory", tmp_path / "cmdb.xlsx",
                         "--sheet", "Servers", "--format", "xlsx", "--out", tmp_path / name)
        assert result.returncode == 0, result.stderr.decode()
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    sheet = load_workbook(tmp_path / "a.xlsx")["Findings"]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, [c for c in sheet[2]]))
    assert first["asset_id"].value == "X-1" and first["priority"].value == "P1"
    assert first["owner"].data_type == "s"                 # the formula text stays text
    assert first["owner"].value == "=cmd|' /C calc'!A0"


def test_config_file_gives_inventory_mapping_owner_and_rules(scans, tmp_path):
    shutil.copy(FIX / "custom_headers.csv", tmp_path / "machines.csv")
    (tmp_path / "vulnpipe.toml").write_text('''
[inventory]
path = "machines.csv"

[inventory.columns]
asset_id = "Machine"
ip = "Addr"
owner = "Responsible"
criticality = "Importance"

[owners]
default_owner = "Unowned queue"
default_owner_email = "queue@corp.example"

[priority]
fallback_priority = "P3"
fallback_sla_days = 45

[[priority.rules]]
name = "anything on a critical asset"
criticality = ["critical"]
priority = "P1"
sla_days = 2
''')
    nb.write(tmp_path / "s.nessus", [
        nb.HostSpec("10.7.0.1", ip="10.7.0.1", items=[nb.l2tp()], start=MARCH),
        nb.HostSpec("10.7.0.2", ip="10.7.0.2", items=[nb.l2tp()], start=MARCH)])
    result = run_cli("join", "s.nessus", "--format", "csv", "--out", "out.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["host"]: r for r in _csv(tmp_path / "out.csv")}
    assert (rows["10.7.0.1"]["owner"], rows["10.7.0.1"]["priority"],
            rows["10.7.0.1"]["due_date"]) == ("Hank", "P1", "2024-03-06")
    assert (rows["10.7.0.2"]["owner"], rows["10.7.0.2"]["owner_email"],
            rows["10.7.0.2"]["priority"], rows["10.7.0.2"]["sla_days"]) == \
        ("Unowned queue", "queue@corp.example", "P3", "45")


BAD_INVENTORIES = {
    "unknown criticality": ("bad_criticality.csv", "bad_criticality.csv:3: unknown criticality"),
    "duplicate ids": ("duplicate_ids.csv", "duplicate asset id 'D-1' on rows 2, 4"),
    "no identity column": ("no_identity.csv", "no identity column"),
    "missing file": ("does-not-exist.csv", "no such file"),
}


@pytest.mark.parametrize("case", BAD_INVENTORIES)
def test_bad_inventory_is_one_clear_line_exit_1(scans, tmp_path, case):
    name, expected = BAD_INVENTORIES[case]
    result = run_cli("join", scans / "week-10.nessus", "--inventory", FIX / name,
                     "--out", tmp_path / "o.jsonl")
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "o.jsonl").exists()


def test_unreadable_xlsx_inventory(scans, tmp_path):
    bad = tmp_path / "inv.xlsx"
    bad.write_bytes(b"PK\x03\x04not really a zip")
    result = run_cli("join", scans / "week-10.nessus", "--inventory", bad)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err
    assert err.startswith("error: inv.xlsx: not a readable XLSX workbook")


def test_bad_config_key_is_one_clear_line(scans, tmp_path):
    (tmp_path / "vulnpipe.toml").write_text('[owners]\ndefault_owner = 42\n')
    result = run_cli("join", scans / "week-10.nessus", "--inventory", FIX / "basic.csv",
                     cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err
    assert "[owners] default_owner must be text" in err


def test_no_inventory_anywhere(scans, tmp_path):
    result = run_cli("join", scans / "week-10.nessus", cwd=tmp_path)
    assert result.returncode == 1
    assert "no inventory given" in result.stderr.decode()


# -- the config loader -------------------------------------------------------------------

def test_defaults_without_a_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.path is None and cfg.owners.default_owner is None
    assert cfg.priority.rules[0].priority == "P1" and cfg.priority.fallback == ("P4", 180)


def _config_error(tmp_path, text: str) -> str:
    path = tmp_path / "vulnpipe.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


@pytest.mark.parametrize("text, expected", [
    ("[inventroy]\npath = 'x'\n", "unknown section [inventroy]"),
    ("[inventory]\nshet = 'x'\n", "unknown key 'shet' in [inventory]"),
    ("[inventory]\nsheet = 3\n", "[inventory] sheet must be text, not a number"),
    ("[inventory.columns]\nipaddr = 'IP'\n", "[inventory] columns.ipaddr is not a known column"),
    ("[priority]\nfallback_sla_days = -1\n", "fallback_sla_days: must be a whole number"),
    ("[[priority.rules]]\npriority = 'P1'\nsla_days = 7\ncolour = 'red'\n",
     "[[priority.rules]] #1: unknown key 'colour'"),
    ("[owners\n", "not valid TOML"),
])
def test_config_errors_name_the_key(tmp_path, text, expected):
    assert expected in _config_error(tmp_path, text)


def test_config_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "vulnpipe.toml"
    path.write_text('[inventory]\npath = "assets.xlsx"\nsheet = "Servers"\n')
    cfg = load_config(path)
    assert cfg.inventory.path == tmp_path / "conf" / "assets.xlsx"
    assert cfg.inventory.sheet == "Servers"


def test_missing_config_file_named_explicitly(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
