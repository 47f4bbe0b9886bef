"""The stored, incremental ticket history gives what a full replay from the start gives.

The reference is :func:`vulnpipe.reports.tickets.build.reference_tickets`: every stored scan
and decision replayed in memory, in time order, from nothing. The stored path keeps ticket
state current as scans and decisions arrive (forward steps, weekly checkpoints, a replay
from the start when something arrives late) and reads any moment from it. Both must agree
on every ticket (state, findings, events, checks), asset, priority and due date, at every
moment, whatever order the files were ingested in and whenever the reads happened.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_store, generate, made_once, run_cli
from vulnpipe.ingest.assets.inventory import load_inventory
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.profiles import resolve_profile
from vulnpipe.ingest.store import ingest_source, open_store
from vulnpipe.reports.tickets.build import TicketSettings, reference_tickets, tickets_as_of, update_tickets
from vulnpipe.reports.weekly.weeks import week_of
from vulnpipe.workflows import record_decision

SAMPLE = ROOT / "sample_data"
L2TP = resolve_profile("l2tp")
SETTINGS = TicketSettings(default_owner="SecOps triage", default_owner_email="secops@corp.example")


def _snapshot(built) -> dict:
    """Everything a BuiltTickets says, comparable with ==."""
    return {"tickets": built.tickets, "assets": built.asset_info, "priority": built.priority,
            "host_issues": built.host_issues}


def _stored(engine, as_of, inventory=None):
    with engine.begin() as conn:
        matching, _changes = update_tickets(conn, L2TP, inventory, SETTINGS)
        return tickets_as_of(conn, L2TP, matching, SETTINGS, as_of)


def _reference(engine, as_of, inventory=None):
    with engine.connect() as conn:
        return reference_tickets(conn, L2TP, inventory, SETTINGS, as_of)


def _moments(engine) -> list[datetime]:
    """Every week's end from the first scan to a week after the last, mid-weeks, and now."""
    from vulnpipe.ingest.store.history import scan_rows

    with engine.connect() as conn:
        times = [r["time"] for r in scan_rows(conn)]
    week = week_of(min(times))
    out = []
    while week.start <= max(times) + timedelta(days=14):
        out += [week.cutoff, week.start + timedelta(days=3, hours=12)]
        week = week.previous(-1)
    return out + [datetime.now(timezone.utc)]


def _assert_same_everywhere(engine, inventory=None) -> None:
    for when in _moments(engine):
        stored = _snapshot(_stored(engine, when, inventory))
        expected = _snapshot(_reference(engine, when, inventory))
        assert stored == expected, f"stored history differs from a full replay as of {when}"


@pytest.mark.slow
def test_sample_history_in_any_ingest_order_equals_a_full_replay(tmp_path):
    files = sorted((SAMPLE / "scans").glob("*.nessus"))
    inventory = load_inventory(SAMPLE / "inventory.csv")
    for seed in (0, 1, 2):
        order = files[:]
        random.Random(seed).shuffle(order)
        engine = open_store(str(tmp_path / f"s{seed}.db"))
        for i, path in enumerate(order):
            assert ingest_source(engine, next(expand_inputs([path])), L2TP).status == "stored"
            if i % 3 == 1:            # reads in between: forward steps and late arrivals
                _stored(engine, None, inventory)
        _assert_same_everywhere(engine, inventory)
        engine.dispose()


@pytest.mark.slow
def test_decisions_and_expiries_at_any_moment_equal_a_full_replay(tmp_path, sample_store):
    engine = open_store(str(copy_store(sample_store, tmp_path / "d.db")))    # every sample scan
    inventory = load_inventory(SAMPLE / "inventory.csv")
    keys = sorted(_stored(engine, None, inventory).tickets)
    t = datetime(2026, 11, 4, 12, tzinfo=timezone.utc)
    # an acceptance that expires mid-history, one recorded late (--at before the last scan),
    # a false positive, a reopen, and one acceptance that expires in the future
    record_decision(engine, keys[0], "risk_accepted", "cutover", approver="CISO",
                    until=t + timedelta(days=10), at=t)
    _stored(engine, None, inventory)
    record_decision(engine, keys[1], "false_positive", "test responder", at=t + timedelta(days=2))
    record_decision(engine, keys[2], "risk_accepted", "vendor", approver="CISO",
                    until=datetime(2027, 6, 1, tzinfo=timezone.utc), at=t + timedelta(days=20))
    _stored(engine, None, inventory)
    record_decision(engine, keys[1], "revoked", "it is real", at=t + timedelta(days=21))
    record_decision(engine, keys[3], "risk_accepted", "late paperwork", approver="CISO",
                    until=t + timedelta(days=5), at=t - timedelta(days=3))      # out of order
    _assert_same_everywhere(engine, inventory)
    engine.dispose()


@pytest.fixture(scope="session")
def generated_history(tmp_path_factory, shared):
    return made_once(tmp_path_factory, "history-300x8", lambda out: generate(
        shared, "gen_history.py", "--hosts", "300", "--weeks", "8", "--seed", "3", "--exposed",
        "0.1", "--out", out))


@pytest.mark.slow
def test_generated_history_shuffled_with_reads_in_between_equals_a_full_replay(
        tmp_path, generated_history):
    files = sorted((generated_history / "scans").glob("*.nessus"))
    inventory = load_inventory(generated_history / "inventory.csv")
    order = files[:]
    random.Random(7).shuffle(order)
    engine = open_store(str(tmp_path / "g.db"))
    for i, path in enumerate(order):
        ingest_source(engine, next(expand_inputs([path])), L2TP)
        if i % 4 == 3:
            _stored(engine, None, inventory)
    _assert_same_everywhere(engine, inventory)
    engine.dispose()


@pytest.mark.slow
def test_weekly_reports_and_evidence_from_a_store_built_step_by_step_equal_a_fresh_one(
        tmp_path, sample_store):
    """Two stores with the same content: one updated week by week by the commands a team
    runs, one filled at once and read once (a replay from the start). Every output agrees."""
    inv = SAMPLE / "inventory.csv"
    files = sorted((SAMPLE / "scans").glob("*.nessus"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    step, fresh = str(tmp_path / "a" / "h.db"), str(tmp_path / "b" / "h.db")
    for path in files:
        assert run_cli("ingest", path, "--db", step).returncode == 0
        assert run_cli("reconcile", "--db", step, "--inventory", inv).returncode == 0
        assert run_cli("report", "weekly", "--db", step, "--inventory", inv,
                       "--json", tmp_path / "x.json").returncode == 0
    copy_store(sample_store, Path(fresh))       # `vulnpipe ingest` of every file at once
    for week in ("2026-W44", "2026-W46", "2026-W48", "2026-W49"):
        a, b = (run_cli("report", "weekly", "--db", db, "--inventory", inv, "--week", week,
                        "--json", "-") for db in (step, fresh))
        assert a.returncode == b.returncode == 0, a.stderr.decode() + b.stderr.decode()
        assert a.stdout == b.stdout and json.loads(a.stdout)["week"] == week
    for fmt in ("--jsonl", "--jira-csv"):
        a, b = (run_cli("tickets", "--db", db, "--inventory", inv, "--as-of", "2026-11-27",
                        fmt, Path(db).parent / f"t{fmt}") for db in (step, fresh))
        assert a.returncode == b.returncode == 0
        assert (tmp_path / "a" / f"t{fmt}").read_bytes() == (tmp_path / "b" / f"t{fmt}").read_bytes()
    packs = []
    for db in (step, fresh):         # the same relative name: the pack records it
        r = run_cli("evidence", "build", "--db", Path(db).name, "--inventory", inv,
                    "--quarter", "2026-Q4", "--generated-at", "2026-12-01T00:00:00Z",
                    "--out", "pack.zip", cwd=Path(db).parent)
        assert r.returncode == 0, r.stderr.decode()
        packs.append((Path(db).parent / "pack.zip").read_bytes())
    assert packs[0] == packs[1]


def test_a_late_scan_replays_from_the_start_and_reads_stay_right(tmp_path):
    engine = open_store(str(tmp_path / "late.db"))
    files = sorted((SAMPLE / "scans").glob("*weekly.nessus"))
    for path in files[1:]:
        ingest_source(engine, next(expand_inputs([path])), L2TP)
    _stored(engine, None)
    ingest_source(engine, next(expand_inputs([files[0]])), L2TP)       # the first week, late
    with engine.begin() as conn:
        from vulnpipe.reports.tickets.history import bring_up_to_date

        assert bring_up_to_date(conn, L2TP).replayed_from_start
    _assert_same_everywhere(engine)
    engine.dispose()
