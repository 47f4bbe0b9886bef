"""Alerts for the weekly job (#23.5): `vulnpipe run --summary-json` lists tickets due within 7
days, newly overdue and acceptances expiring; `--fail-on overdue|new|resurfaced` exits 3.

Scan times are relative to the clock (the run judges "now"). Inventory as in test_weekly:
A P1 (7 days), B P3 (30), G/H P4 (90), I P2 (14), C P4.

    run 1: scan 25 days ago  A x  B x  G x  H x     B due in 5 days; A overdue for 18 days
           scan 18 days ago  I x  H .               I due 4 days ago: newly overdue; H fixed
           G accepted until 10 days from now        expiring
    run 2: scan 1 day ago    C x  H x               C new, H resurfaced
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests import nessus_builder as nb
from tests.conftest import run_cli
from tests.test_weekly import COVERS, INVENTORY, IP, key

NOW = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)


def _scan(d, name, when, hosts):
    specs = [nb.HostSpec(IP[h], ip=IP[h], os="Linux Kernel 5.15", start=when,
                         end=when + timedelta(minutes=5), items=[nb.l2tp()] if hosts[h] else [])
             for h in sorted(hosts)]
    return nb.write(d / name, specs, policy=COVERS, report_name=name)


def _day(days: int) -> str:
    return (NOW.date() + timedelta(days=days)).isoformat()


def test_run_lists_what_to_alert_on_and_fail_on_exits_3(tmp_path):
    db, inv = str(tmp_path / "store.db"), tmp_path / "inventory.csv"
    inv.write_text(INVENTORY)
    first = [_scan(tmp_path, "a.nessus", NOW - timedelta(days=25),
                   {"A": True, "B": True, "G": True, "H": True}),
             _scan(tmp_path, "b.nessus", NOW - timedelta(days=18), {"I": True, "H": False})]
    r = run_cli("ingest", *first, "--db", db)
    assert r.returncode == 0, r.stderr.decode()
    r = run_cli("tickets", "--db", db, "--inventory", inv, "--jsonl", tmp_path / "t.jsonl")
    assert r.returncode == 0, r.stderr.decode()
    r = run_cli("accept", key("G"), "--until", _day(10), "--reason", "partner VPN",
                "--approver", "CISO", "--db", db)
    assert r.returncode == 0, r.stderr.decode()
    out = tmp_path / "out"
    # nothing resurfaced and nothing new in this run: --fail-on resurfaced,new passes
    r = run_cli("run", *first, "--db", db, "--inventory", inv, "--out", out, "--summary-json", "-",
                "--fail-on", "resurfaced", "--fail-on", "new")
    assert r.returncode == 0, r.stderr.decode()
    s = json.loads(r.stdout)
    assert [(i["key"], i["due_date"], i["priority"]) for i in s["due_within_7d"]] == [
        (key("B"), _day(5), "P3")]
    assert [(i["key"], i["due_date"]) for i in s["newly_overdue"]] == [(key("I"), _day(-4))]
    assert [(i["key"], i["until"], i["approver"]) for i in s["expiring_acceptances"]] == [
        (key("G"), _day(10), "CISO")]
    assert s["new"] == [] and s["resurfaced"] == []
    assert s["fail_on"] == {"checked": ["resurfaced", "new"], "triggered": []}
    # the same run alerting on overdue: exit 3, after writing everything
    r = run_cli("run", *first, "--db", db, "--inventory", inv, "--out", out, "--summary-json", "-",
                "--fail-on", "overdue")
    assert r.returncode == 3, r.stderr.decode()
    assert json.loads(r.stdout)["fail_on"] == {"checked": ["overdue"], "triggered": ["overdue"]}
    assert b"alert: 1 overdue" in r.stderr and (out / "tickets.xlsx").exists()
    # a new scan: C is new, H is back after its verified fix
    later = _scan(tmp_path, "c.nessus", NOW - timedelta(days=1), {"C": True, "H": True})
    r = run_cli("run", later, "--db", db, "--inventory", inv, "--out", out, "--summary-json", "-",
                "--fail-on", "resurfaced")
    assert r.returncode == 3, r.stderr.decode()
    s = json.loads(r.stdout)
    assert [(i["key"], i["state"]) for i in s["new"]] == [(key("C"), "open")]
    assert [(i["key"], i["state"]) for i in s["resurfaced"]] == [(key("H"), "resurfaced")]
    assert s["fail_on"]["triggered"] == ["resurfaced"]


def test_fail_on_takes_only_known_conditions(tmp_path):
    r = run_cli("run", tmp_path, "--db", str(tmp_path / "s.db"), "--fail-on", "late")
    assert r.returncode == 2 and b"--fail-on 'late' is not one of overdue, new, resurfaced" in r.stderr
    assert not (tmp_path / "s.db").exists()
