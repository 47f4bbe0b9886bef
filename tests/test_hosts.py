"""Hosts are shown by name (FQDN, else NetBIOS, else the report's host name) with the address
beside it, once, in every output people read: titles, JSONL, Jira, Markdown, workbooks, the
weekly report and the evidence pack."""
from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from tests import nessus_builder as nb
from tests.conftest import run_cli
from vulnpipe.reports.hosts import host_label, host_name

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("fqdn, netbios, name, address, label", [
    ("rras01.corp.example", "RRAS01", "10.10.1.21", "10.10.1.21", "rras01.corp.example (10.10.1.21)"),
    (None, "RRAS01", "10.10.1.21", "10.10.1.21", "RRAS01 (10.10.1.21)"),
    (None, None, "rras01", "10.10.1.21", "rras01 (10.10.1.21)"),
    (None, None, "10.10.1.21", "10.10.1.21", "10.10.1.21"),          # only the address
    ("", "  ", None, "10.10.1.21", "10.10.1.21"),                    # blank names are no names
    (None, None, "RRAS01.corp.example", "rras01.corp.example", "rras01.corp.example"),
    (None, None, "<b>x</b>", "10.0.0.9", "<b>x</b> (10.0.0.9)"),      # as written: outputs escape
])
def test_host_label_prefers_fqdn_then_netbios_then_the_report_name(fqdn, netbios, name, address,
                                                                   label):
    assert host_label(fqdn, netbios, name, address) == label
    assert host_name(fqdn, netbios, name, address) == (None if label == address else
                                                       label.rsplit(" (", 1)[0])


@pytest.fixture(scope="module")
def netbios_only(tmp_path_factory):
    """A host the scan knows only by NetBIOS name, and one known only by its address."""
    d = tmp_path_factory.mktemp("netbios")
    hosts = [nb.HostSpec("10.0.0.5", ip="10.0.0.5", netbios="FILESRV05", start=T0,
                         end=T0 + timedelta(minutes=3), items=[nb.l2tp(), nb.Item(**nb.PPTP)]),
             nb.HostSpec("10.0.0.6", ip="10.0.0.6", start=T0, end=T0 + timedelta(minutes=3),
                         items=[nb.l2tp()])]
    scan = nb.write(d / "w48.nessus", hosts)
    out = d / "out"
    r = run_cli("tickets", "--scan", scan, "--as-of", "2026-11-27", "--jsonl", out / "t.jsonl",
                "--jira-csv", out / "j.csv", "--markdown", out / "md", "--xlsx", out / "t.xlsx")
    assert r.returncode == 0, r.stderr.decode()
    return out


def test_a_netbios_name_names_the_host_in_every_ticket_export(netbios_only):
    views = {v["address"]: v for v in map(json.loads, (netbios_only / "t.jsonl").open())}
    named, bare = views["10.0.0.5"], views["10.0.0.6"]
    assert (named["host_name"], named["host_label"]) == ("FILESRV05", "FILESRV05 (10.0.0.5)")
    assert (bare["host_name"], bare["host_label"]) == (None, "10.0.0.6")
    assert named["title"] == ("L2TP VPN endpoint exposed on FILESRV05 (10.0.0.5), 1701/udp"
                              " + 1 related VPN finding")
    assert bare["title"] == "L2TP VPN endpoint exposed on 10.0.0.6, 1701/udp"
    jira = {row["External ID"]: row for row in csv.DictReader((netbios_only / "j.csv").open())}
    assert "*Host:* FILESRV05 (10.0.0.5) |" in jira[named["key"]]["Description"]
    md = (netbios_only / "md" / f"{named['key']}.md").read_text()
    assert "| Host | FILESRV05 (10.0.0.5) |" in md
    assets = openpyxl.load_workbook(netbios_only / "t.xlsx")["Assets"]
    header = [c.value for c in assets[1]]
    rows = {r[header.index("Address")]: r for r in assets.iter_rows(min_row=2, values_only=True)}
    assert rows["10.0.0.5"][header.index("Host")] == "FILESRV05"
    assert rows["10.0.0.6"][header.index("Host")] is None           # no name: the address only


# -- the sample run --------------------------------------------------------------------------

ADDRESS = r"\b\d+\.\d+\.\d+\.\d+\b|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,}"     # IPv4, IPv6


def _twice(text: str) -> bool:
    """Whether an address appears twice in ``text`` (the old "10.0.0.1 (10.0.0.1)")."""
    found = re.findall(ADDRESS, text)
    return len(found) != len(set(found))


@pytest.mark.slow
def test_sample_ticket_titles_name_the_host_once_without_doubled_parentheses(sample_run):
    views = [json.loads(line) for line in (sample_run / "tickets.jsonl").open()]
    assert len(views) == 23
    for v in views:
        assert v["host_label"] in v["title"], v["title"]
        assert ") (" not in v["title"] and not _twice(v["title"]), v["title"]
    rras = next(v for v in views if v["address"] == "10.10.1.21")
    assert rras["title"].startswith("L2TP VPN endpoint exposed on rras01.corp.example (10.10.1.21), "
                                    "1701/udp")


@pytest.mark.slow
def test_sample_workbooks_show_the_name_beside_the_address(sample_run):
    wb = openpyxl.load_workbook(sample_run / "weekly-2026-W48.xlsx")
    ws = wb["Open tickets"]
    header = [c.value for c in ws[1]]
    assert header[header.index("Host") + 1] == "Address"
    pairs = {r[header.index("Address")]: r[header.index("Host")]
             for r in ws.iter_rows(min_row=2, values_only=True)}
    assert pairs["10.10.1.21"] == "rras01.corp.example" and pairs["10.20.7.1"] is None
    rec = openpyxl.load_workbook(sample_run / "reconcile.xlsx")["Reconciliation"]
    header = [c.value for c in rec[1]]
    assert header[:2] == ["Host", "Address"]
    assert ("rras01.corp.example", "10.10.1.21") in {r[:2] for r in rec.iter_rows(min_row=2,
                                                                                  values_only=True)}


@pytest.mark.slow
def test_sample_markdown_and_evidence_show_each_host_once(sample_run):
    summary = (sample_run / "weekly-2026-W48.md").read_text()
    items = [line for line in summary.splitlines() if line.startswith("- VP-")]
    assert items and not any(_twice(line) for line in items)
    assert any("rras01.corp.example (10.10.1.21)" in line for line in items)
    with zipfile.ZipFile(sample_run / "evidence-2026-Q4.zip") as z:
        index = z.read("index.html").decode()
        poam = z.read("poam.xlsx")
    assert "rras01.corp.example<" in index and "10.10.1.21<" in index
    tickets = index.split("<h2>Tickets</h2>", 1)[1].split("<h2>Scans</h2>", 1)[0]
    rows = [re.sub(r"<time>.*?</time>|<[^>]+>", " ", row) for row in tickets.split("<tr>")[2:]]
    assert len(rows) == 23 and not any(_twice(row) for row in rows)
    import io
    sheet = openpyxl.load_workbook(io.BytesIO(poam))["Open POA&M Items"]
    identifiers = [r[6] for r in sheet.iter_rows(min_row=6, values_only=True)]   # G: Asset Identifier
    assert any(i.startswith("rras01.corp.example (10.10.1.21), 1701/udp") for i in identifiers)
