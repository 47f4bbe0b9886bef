"""The FedRAMP POA&M (#23.3): `evidence poam --out FILE.xlsx` and the pack's poam.xlsx have
the template's 31 columns (A-AE) in its order with its names, the header block from [poam],
controls per profile, CVE and service name from the findings, milestones from the ticket
history, a Scheduled Completion Date frozen when first written, and items closed only with
the covering rescan named.

    scans 10-26 (W44): A B reported (A with a CVE); 11-02 (W45): A reported, B clean (fixed)
"""
from __future__ import annotations

import shutil
import subprocess
from datetime import date

import openpyxl
import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from tests.test_weekly import COVERS, INVENTORY, IP, key, week

#: Columns A to AE of FedRAMP-POAM-Template.xlsx ("Open POA&M Items", row 5), as published.
TEMPLATE = [
    "POAM ID", "Controls", "Weakness Name", "Weakness Description", "Weakness Detector Source",
    "Weakness Source Identifier", "Asset Identifier", "Point of Contact", "Resources Required",
    "Overall Remediation Plan", "Original Detection Date", "Scheduled Completion Date",
    "Planned Milestones", "Milestone Changes", "Status Date", "Vendor Dependency",
    "Last Vendor Check-in Date", "Vendor Dependent Product Name", "Original Risk Rating",
    "Adjusted Risk Rating", "Risk Adjustment", "False Positive", "Operational Requirement",
    "Deviation Rationale", "Supporting Documents", "Comments", "Auto-Approve",
    "Binding Operational Directive 22-01 tracking", "Binding Operational Directive 22-01 Due Date",
    "CVE", "Service Name",
]
CONFIG = """[poam]
csp = "Example Cloud"
system_name = "Example VPN"
impact_level = "Moderate"
controls = {l2tp = ["CM-7", "SC-7"]}
"""


def ok(*args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr.decode()
    return r


def _scan(d, name, when, hosts):
    cve = {"cve": ["CVE-2020-0001", "CVE-2020-0002"]}
    specs = [nb.HostSpec(IP[h], ip=IP[h], os="Linux Kernel 5.15", start=when,
                         items=[nb.l2tp(children=cve if h == "A" else {})] if hosts[h] else [])
             for h in sorted(hosts)]
    return nb.write(d / name, specs, policy=COVERS, report_name=name)


@pytest.fixture
def store(tmp_path):
    files = [_scan(tmp_path, "w44.nessus", week(0), {"A": True, "B": True}),
             _scan(tmp_path, "w45.nessus", week(1), {"A": True, "B": False})]
    db = str(tmp_path / "store.db")
    (tmp_path / "inventory.csv").write_text(INVENTORY)
    (tmp_path / "vulnpipe.toml").write_text(CONFIG)
    ok("ingest", *files, "--db", db)
    ok("tickets", "--db", db, "--inventory", tmp_path / "inventory.csv", "--jsonl", tmp_path / "t.jsonl")
    return tmp_path, db


def poam(d, db, name):
    ok("evidence", "poam", "--db", db, "--config", d / "vulnpipe.toml", "--out", d / name)
    wb = openpyxl.load_workbook(d / name)
    out = {}
    for title in ("Open POA&M Items", "Closed POA&M Items"):
        ws = wb[title]
        rows = list(ws.iter_rows(values_only=True))
        out[title] = {"block": [r[:2] for r in rows[:4]], "header": list(rows[4]),
                      "rows": {r[0]: dict(zip(rows[4], r)) for r in rows[5:]}}
    return out


def test_the_template_columns_header_block_and_the_items(store):
    d, db = store
    got = poam(d, db, "poam.xlsx")
    for sheet in got.values():
        assert sheet["header"] == TEMPLATE                     # A..AE, names and order
        assert len(sheet["header"]) == 31
        assert sheet["block"][:3] == [("CSP", "Example Cloud"), ("System Name", "Example VPN"),
                                      ("Impact Level", "Moderate")]
        assert sheet["block"][3][0] == "POAM Date" and sheet["block"][3][1].date() == date(2026, 11, 2)
    (a_id, a), = got["Open POA&M Items"]["rows"].items()
    assert a_id == f"{key('A')}-11387-1701UDP"
    assert a["Controls"] == "CM-7, SC-7"
    assert a["CVE"] == "CVE-2020-0001, CVE-2020-0002" and a["Service Name"] == "l2tp"
    assert a["Scheduled Completion Date"].date() == date(2026, 11, 2)      # P1: 10-26 + 7
    assert a["Planned Milestones"].startswith("(1) 2026-10-26: weakness reported by scan w44.nessus")
    assert (a["Adjusted Risk Rating"], a["Risk Adjustment"]) == (None, "No")
    assert a["Vendor Dependency"] == "No" and a["Auto-Approve"] == "No"
    (b_id, b), = got["Closed POA&M Items"]["rows"].items()
    assert b_id.startswith(key("B"))
    assert b["Supporting Documents"].startswith("Closed by the covering rescan w45.nessus (scan 2,")
    assert "(3) Update 2026-11-02: fix verified by a covering rescan (scan w45.nessus)" in b["Milestone Changes"]


def test_the_scheduled_completion_date_never_changes_and_adjustments_fill_t_and_u(store):
    d, db = store
    poam(d, db, "first.xlsx")
    ok("adjust", key("A"), "--rating", "LOW", "--reason", "edge filter", "--approver", "AO",
       "--at", "2026-11-05", "--db", db)
    got = poam(d, db, "second.xlsx")
    a = got["Open POA&M Items"]["rows"][f"{key('A')}-11387-1701UDP"]
    assert a["Scheduled Completion Date"].date() == date(2026, 11, 2)    # frozen when first written
    assert (a["Adjusted Risk Rating"], a["Risk Adjustment"]) == ("Low", "Yes")
    assert "Risk adjustment to Low: edge filter (approved by AO)" in a["Deviation Rationale"]
    changes = a["Milestone Changes"]
    assert "Update 2026-11-05: risk adjusted (rating LOW; reason edge filter)" in changes
    assert "the SLA due date is now 2027-04-24 (the scheduled date stays 2026-11-02)" in changes


@pytest.mark.slow
def test_libreoffice_opens_the_poam(store, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("no LibreOffice found (apt-get install libreoffice-calc-nogui)")
    d, db = store
    poam(d, db, "poam.xlsx")
    out = tmp_path / "pdf"
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{out / 'profile'}", "--headless",
                        "--norestore", "--convert-to", "pdf", "--outdir", str(out),
                        str(d / "poam.xlsx")], capture_output=True, timeout=300)
    assert r.returncode == 0 and (out / "poam.pdf").stat().st_size > 1000, r.stderr.decode()
