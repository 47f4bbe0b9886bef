"""The committed sample data (sample_data/) is reproducible and says what expected.json says.

Later features (weekly story, reconcile, inventory join, demo) test against these files and
expected.json, so the files must parse exactly as the scenario describes them.
"""
from __future__ import annotations

import csv
import ipaddress
import json
import subprocess
import sys
import zipfile
from datetime import date
from functools import lru_cache
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from vulnpipe.ingest import resolve_profile
from vulnpipe.ingest.coverage import coverage
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs

SAMPLE = ROOT / "sample_data"
SCANS = SAMPLE / "scans"
EXPECTED = json.loads((SAMPLE / "expected.json").read_text("utf-8"))
SCAN_FILES = sorted(EXPECTED["files"])


@lru_cache(maxsize=None)
def read(name: str, profile: str):
    """(reader, hosts, findings) of one sample scan, read once per profile."""
    reader = open_reader(next(expand_inputs([SCANS / name])), resolve_profile(profile))
    hosts, findings = reader.read_all()
    return reader, hosts, findings


def generated_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in [*root.glob("scans/*.nessus"),
                                                     root / "inventory.csv",
                                                     root / "inventory.xlsx",
                                                     root / "expected.json"])


def xlsx_members(path: Path) -> list[tuple[str, tuple, bytes]]:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, i.date_time, z.read(i)) for i in z.infolist()]


def test_sample_data_regenerates_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SAMPLE / "make_sample.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    assert generated_files(tmp_path) == generated_files(SAMPLE)
    for rel in generated_files(SAMPLE):
        if rel.endswith(".xlsx"):
            # compressed bytes depend on the zlib build; the members (names, order,
            # timestamps, content) are what must not change
            assert xlsx_members(tmp_path / rel) == xlsx_members(SAMPLE / rel), rel
        else:
            assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


def test_sample_files_stay_small():
    sizes = {p.name: p.stat().st_size for p in SCANS.glob("*.nessus")}
    assert max(sizes.values()) < 1_500_000
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) < 8_500_000


@pytest.mark.parametrize("name", SCAN_FILES)
def test_every_sample_scan_reads_as_expected(name):
    facts = EXPECTED["files"][name]
    reader, hosts, findings = read(name, "all")
    assert len(hosts) == facts["hosts"]
    assert len(findings) == facts["report_items"]
    assert sum(h.credentialed is True for h in hosts) == facts["credentialed_hosts"]
    assert {k: reader.stats.severity.get(k, 0) for k in facts["severity_counts"]} == facts["severity_counts"]
    assert sorted([f.host.name, f.host.host_ip] for f in findings
                  if f.plugin_id == 68453) == facts["elsa_68453"]
    assert (reader.policy is not None) == facts["has_policy"]
    if reader.policy is not None:
        assert reader.policy.port_range == facts["port_range"]
        assert (11387 in reader.policy.plugin_set) == facts["plugin_11387_enabled"]


@pytest.mark.parametrize("name", SCAN_FILES)
def test_l2tp_profile_finds_the_expected_l2tp_and_related_findings(name):
    facts = EXPECTED["files"][name]
    _reader, _hosts, findings = read(name, "l2tp")
    primary = sorted([f.host.name, f.host.host_ip, f.port, f.protocol]
                     for f in findings if f.profile_role == "primary")
    related = sorted([f.host.name, f.host.host_ip, f.plugin_id, f.port, f.protocol]
                     for f in findings if f.profile_role == "related")
    assert primary == facts["l2tp"]
    assert related == facts["related"]


def test_l2tp_profile_ignores_oracle_linux_68453_in_the_samples():
    weekly = "2026-W48-weekly.nessus"
    assert EXPECTED["files"][weekly]["elsa_68453"], "the sample must hold the 68453 trap"
    for name in SCAN_FILES:
        _reader, _hosts, findings = read(name, "l2tp")
        assert all(f.plugin_id != 68453 for f in findings), name


def test_weekly_l2tp_addresses_are_the_expected_sets():
    for week, facts in EXPECTED["weeks"].items():
        seen = {f.host.address for name in facts["scans"]
                for f in read(name, "l2tp")[2] if f.profile_role == "primary"}
        assert sorted(seen) == sorted(facts["l2tp_addresses"]), week
        assert 12 <= len(seen) <= 18, week


def test_weekly_scans_ran_on_monday_or_tuesday_of_their_iso_week():
    for name in SCAN_FILES:
        week = EXPECTED["files"][name]["week"]
        year, wk = int(week[:4]), int(week[6:])
        _reader, hosts, _ = read(name, "all")
        days = {h.host_start.date() for h in hosts}
        assert all(d.isocalendar()[:2] == (year, wk) for d in days), name
        assert max(days) <= date(2026, 11, 27), name
        if EXPECTED["files"][name]["kind"] == "weekly":
            assert {d.isoweekday() for d in days} <= {1, 2}, name


def _hosts_by_address(name: str) -> dict:
    return {h.address: h for h in read(name, "all")[1]}


def test_story_hosts_are_where_the_story_puts_them():
    story = EXPECTED["story"]
    moved = story["dhcp_moved"]
    before = _hosts_by_address("2026-W46-weekly.nessus")[moved["old_address"]]
    after = _hosts_by_address("2026-W47-weekly.nessus")[moved["new_address"]]
    assert before.mac_addresses == after.mac_addresses == (moved["mac"],)
    assert before.hostname == after.hostname == moved["hostname"]
    assert moved["old_address"] not in _hosts_by_address("2026-W47-weekly.nessus")

    named = story["fqdn_named"]
    host = _hosts_by_address("2026-W48-weekly.nessus")[named["address"]]
    assert host.name == named["report_host_name"]

    v6 = story["ipv6"]["address"]
    assert ipaddress.ip_address(v6).version == 6
    assert v6 in EXPECTED["weeks"]["2026-W48"]["l2tp_addresses"]

    missing = story["missing"]
    assert missing["address"] not in _hosts_by_address(f"{missing['week']}-weekly.nessus")
    for week in missing["l2tp_weeks"]:
        assert missing["address"] in EXPECTED["weeks"][week]["l2tp_addresses"]

    for fix in story["fixed"]:
        later = _hosts_by_address(f"{fix['fixed_week']}-weekly.nessus")
        assert fix["address"] in later, "a fix is only a fix when the weekly scanned the host"
        assert fix["address"] not in EXPECTED["weeks"][fix["fixed_week"]]["l2tp_addresses"]
    back = story["resurfaced"][0]
    assert back["address"] in EXPECTED["weeks"][back["resurfaced_week"]]["l2tp_addresses"]


def test_dmz_scan_inspect_says_the_policy_cannot_see_plugin_11387():
    dmz = SCANS / EXPECTED["story"]["dmz_scan"]["file"]
    result = run_cli("inspect", "--json", dmz)
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)
    assert summary["detectable"] is False and summary["detect_plugins"] == [11387]
    assert summary["detect_reason"] == "plugin 11387 (L2TP Network Server Detection) not enabled"
    assert summary["port_range"] == "1-1024"
    text = run_cli("inspect", dmz)
    assert "cannot report L2TP" in text.stdout.decode()


def test_reconcile_expectations_cover_every_status_and_reason():
    entries = EXPECTED["reconcile"]["l2tp"] + EXPECTED["reconcile"]["all_68453"]
    assert {e["status"] for e in EXPECTED["reconcile"]["l2tp"]} == {
        "still_open", "fixed", "not_rescanned", "not_covered", "new"}
    assert {e["reason"] for e in entries if e["status"] == "not_covered"} == {
        "plugin not enabled", "port outside the scan's port range",
        "local check without credentials", "no policy information"}


def test_expected_coverage_agrees_with_ingest_coverage():
    """Each fixed / not_covered verdict rests on what ingest.coverage says of that rescan."""
    baseline = {(f.host.address, f.plugin_id, f.port, f.protocol): f
                for f in read(EXPECTED["reconcile"]["baseline"], "all")[2]}
    for entry in EXPECTED["reconcile"]["l2tp"] + EXPECTED["reconcile"]["all_68453"]:
        if entry["status"] not in ("fixed", "not_covered"):
            continue
        key = (entry["address"], entry["plugin_id"], entry["port"], entry["protocol"])
        finding = baseline[key]
        reader, hosts, findings = read(entry["scan_file"], "all")
        host = {h.address: h for h in hosts}[entry["address"]]
        assert key not in {(f.host.address, f.plugin_id, f.port, f.protocol) for f in findings}
        verdict = coverage(reader.policy, host, plugin_id=finding.plugin_id,
                           family=finding.plugin_family, port=finding.port,
                           protocol=finding.protocol, plugin_type=finding.plugin_type)
        if entry["status"] == "fixed":
            assert verdict.status == "covered", entry
        else:
            assert (verdict.status, verdict.reason) == (entry["coverage"], entry["reason"]), entry


def test_inventory_csv_and_xlsx_hold_the_same_rows():
    from openpyxl import load_workbook

    with open(SAMPLE / "inventory.csv", newline="", encoding="utf-8") as fh:
        csv_rows = [row for row in csv.reader(fh)]
    ws = load_workbook(SAMPLE / "inventory.xlsx", read_only=True)["Assets"]
    xlsx_rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    assert csv_rows == xlsx_rows
    assert csv_rows[0] == EXPECTED["inventory"]["columns"]
    assert len(csv_rows) - 1 == EXPECTED["inventory"]["rows"]
    col = {name: i for i, name in enumerate(csv_rows[0])}
    assert {r[col["Criticality"]] for r in csv_rows[1:]} <= {"critical", "high", "medium", "low"}
    assert {r[col["Internet Facing"]] for r in csv_rows[1:]} <= {"yes", "no"}


def test_sample_uses_only_reserved_names_and_addresses():
    reserved = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                   "192.168.0.0/16", "2001:db8::/32")]
    for name in SCAN_FILES:
        for h in read(name, "all")[1]:
            addr = ipaddress.ip_address(h.host_ip)
            assert any(addr in net for net in reserved), (name, h.host_ip)
            assert h.host_fqdn is None or h.host_fqdn.endswith(".example"), h.host_fqdn
    with open(SAMPLE / "inventory.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            assert row["Owner Email"].endswith("@corp.example")
            assert not row["FQDN"] or row["FQDN"].endswith(".example")
