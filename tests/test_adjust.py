"""Risk adjustments and the SLA clock (#23.4): `vulnpipe adjust` is kept in the history like
an acceptance and changes priority and SLA from the moment it was decided (and back when it
ends); `[priority] restart_sla_after_acceptance` restarts the clock when an acceptance ends.

    scans 10-26 (W44), 11-02 (W45), 11-16 (W47): A (P1, 7 days) and C (P4, 90 days) reported
    A adjusted to LOW (P4, 180 days) on 11-04, through 11-10
    C accepted on 11-03 through 11-09 (ends 11-10 00:00)
"""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.test_weekly import INVENTORY, key, scan, week


def ok(*args, cwd=None):
    r = run_cli(*args, cwd=cwd)
    assert r.returncode == 0, r.stderr.decode()
    return r


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("adjust")
    both = {"A": {"A"}, "C": {"C"}}
    files = [scan(d, f"w{n}.nessus", week(n - 44), both) for n in (44, 45, 47)]
    db = str(d / "store.db")
    inv = d / "inventory.csv"
    inv.write_text(INVENTORY)
    ok("ingest", *files, "--db", db)
    ok("tickets", "--db", db, "--inventory", inv, "--jsonl", d / "t.jsonl")
    ok("adjust", key("A").lower(), "--rating", "low", "--reason", "UDP 1701 closed at the edge",
       "--approver", "CISO", "--until", "2026-11-10", "--at", "2026-11-04", "--db", db)
    ok("accept", key("C"), "--until", "2026-11-09", "--reason", "partner VPN", "--approver", "CISO",
       "--at", "2026-11-03", "--db", db)
    return {"db": db, "dir": d}


def tickets(store, as_of, *extra):
    r = ok("tickets", "--db", store["db"], "--jsonl", "-", "--as-of", as_of, *extra,
           cwd=store["dir"])
    return {t["key"]: t for t in map(json.loads, r.stdout.splitlines())}


def test_an_adjustment_changes_priority_and_sla_from_then_on_and_back_when_it_ends(store):
    before = tickets(store, "2026-11-03")[key("A")]
    assert (before["priority"], before["due_date"], before["overdue"]) == ("P1", "2026-11-02", True)
    assert before["risk_adjustment"] is None
    during = tickets(store, "2026-11-05")[key("A")]
    assert (during["priority"], during["sla_days"], during["due_date"], during["overdue"]) == (
        "P4", 180, "2027-04-24", False)
    assert during["state"] == "open"                      # the state does not change
    assert {k: during["risk_adjustment"][k] for k in ("rating", "reason", "approver", "until")} == {
        "rating": "LOW", "reason": "UDP 1701 closed at the edge", "approver": "CISO",
        "until": "2026-11-10"}
    assert [e["event"] for e in during["history"]] == ["opened", "risk_adjusted"]
    after = tickets(store, "2026-11-12")[key("A")]
    assert (after["priority"], after["overdue"], after["risk_adjustment"]) == ("P1", True, None)
    assert [e["event"] for e in after["history"]][-1] == "adjustment_expired"


def test_the_weekly_report_judges_each_week_with_the_rating_then_in_force(store):
    def overdue(week_label):
        r = ok("report", "weekly", "--db", store["db"], "--week", week_label, "--json", "-")
        return json.loads(r.stdout)["overdue"]
    # W45 ends 11-08: A adjusted (not overdue); W47: the adjustment ended, A overdue again
    assert (overdue("2026-W45"), overdue("2026-W47")) == (0, 1)


def test_restart_sla_after_acceptance_is_a_config_option(store):
    plain = tickets(store, "2026-11-12")[key("C")]
    assert (plain["state"], plain["due_date"]) == ("open", "2027-01-24")   # 10-26 + 90
    (store["dir"] / "vulnpipe.toml").write_text("[priority]\nrestart_sla_after_acceptance = true\n")
    restarted = tickets(store, "2026-11-12", "--config", str(store["dir"] / "vulnpipe.toml"))
    assert restarted[key("C")]["due_date"] == "2027-02-08"                   # 11-10 + 90
    assert restarted[key("A")]["due_date"] == "2026-11-02"                   # never accepted


def test_bad_adjustments_are_one_clear_line(store):
    r = run_cli("adjust", key("A"), "--rating", "SEVERE", "--reason", "x", "--approver", "y",
                "--db", store["db"])
    assert r.returncode == 2 and b"--rating 'SEVERE' is not one of LOW, MODERATE, HIGH" in r.stderr
    r = run_cli("adjust", "VP-0000000000", "--rating", "LOW", "--reason", "x", "--approver", "y",
                "--db", store["db"])
    assert r.returncode == 1 and b"no ticket VP-0000000000" in r.stderr
