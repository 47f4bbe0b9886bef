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
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_store, generate, made_once, run_cli
from vulnpipe.ingest.assets.inventory import load_inventory
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.profiles import resolve_profile
from vulnpipe.ingest.store import ingest_source, open_store
from vulnpipe.reports.tickets.build import (
    TicketSettings,
    reference_tickets,
    reference_tickets_at,
    tickets_as_of,
    update_tickets,
)
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


def _references(engine, moments, inventory=None) -> dict:
    """The full replay from the start as of each moment (one replay per moment; the store's
    scans, decisions and host matches read once)."""
    with engine.connect() as conn:
        return dict(zip(moments, reference_tickets_at(conn, L2TP, moments, inventory, SETTINGS)))


def _assert_same_everywhere(engine, inventory=None) -> None:
    moments = _moments(engine)
    expected = _references(engine, moments, inventory)
    with engine.begin() as conn:
        matching, _changes = update_tickets(conn, L2TP, inventory, SETTINGS)
        for when in moments:
            stored = _snapshot(tickets_as_of(conn, L2TP, matching, SETTINGS, when))
            assert stored == _snapshot(expected[when]), \
                f"stored history differs from a full replay as of {when}"


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


def _newest_scan(engine, when: datetime) -> datetime:
    """The newest scan at or before ``when``, read straight from the store."""
    from vulnpipe.ingest.store.history import scan_rows

    with engine.connect() as conn:
        return max(r["time"] for r in scan_rows(conn) if r["time"] <= when)


def _became_fixed(ticket) -> datetime | None:
    """When a fully replayed ticket entered the fixed state it is in (None: not fixed)."""
    if ticket.state != "fixed":
        return None
    entered, before = None, None
    for e in ticket.events:
        if e.state == "fixed" and before != "fixed":
            entered = e.at
        before = e.state
    return entered


def _assert_window_as_a_filtered_replay(engine, inventory) -> int:
    """At every moment and for windows of 0, 6 and 13 days: the stored path's tickets are
    the full replay's less those that became fixed before the window; returns how many
    reads left something out."""
    left_out = 0
    moments = _moments(engine)
    references = _references(engine, moments, inventory)
    with engine.begin() as conn:
        matching, _changes = update_tickets(conn, L2TP, inventory, SETTINGS)
    for days in (0, 6, 13):
        window = timedelta(days=days)
        for when in moments:
            with engine.begin() as conn:
                built = tickets_as_of(conn, L2TP, matching, SETTINGS, when, fixed_within=window)
            full = references[when]
            cut = _newest_scan(engine, when) - window
            kept = {k: tk for k, tk in full.tickets.items()
                    if (_became_fixed(tk) or cut) >= cut}
            assert built.tickets == kept, f"window {days} days, as of {when}"
            assert built.fixed_left_out == len(full.tickets) - len(kept)
            assert built.fixed_before == cut
            assert {k: full.priority[k] for k in kept} == built.priority
            left_out += built.fixed_left_out > 0
    return left_out


SCANS_BY_TIME = sorted((SAMPLE / "scans").glob("*.nessus"))
MID = datetime(2026, 11, 16, tzinfo=timezone.utc)     # after W46's scans, before W47's


def test_exports_leave_out_tickets_fixed_before_the_window_as_a_filtered_replay_would(
        tmp_path, sample_store):
    """`tickets --fixed-within DAYS` (the export default): at every moment, the stored path
    gives exactly the full replay's tickets less those that became fixed more than DAYS
    before the newest scan; false positives and risk acceptances stay, and decisions do not
    move the window."""
    engine = open_store(str(copy_store(sample_store, tmp_path / "w.db")))   # every sample scan
    inventory = load_inventory(SAMPLE / "inventory.csv")
    keys = sorted(_stored(engine, None, inventory).tickets)
    t = datetime(2026, 11, 4, 12, tzinfo=timezone.utc)
    record_decision(engine, keys[1], "false_positive", "test responder", at=t)
    record_decision(engine, keys[2], "risk_accepted", "vendor", approver="CISO",
                    until=t + timedelta(days=9), at=t + timedelta(days=1))
    record_decision(engine, keys[3], "false_positive", "a decision today", approver="CISO")
    assert _assert_window_as_a_filtered_replay(engine, inventory)
    with engine.begin() as conn:
        matching, _changes = update_tickets(conn, L2TP, inventory, SETTINGS)
        assert keys[1] in tickets_as_of(conn, L2TP, matching, SETTINGS, None,
                                        fixed_within=timedelta(0)).tickets   # stays
    engine.dispose()


def _early_fix(tmp_path, inventory, sample_store) -> str:
    """A ticket of the sample fixed before MID and still fixed at the end."""
    engine = open_store(str(copy_store(sample_store, tmp_path / "probe.db")))
    full = _reference(engine, None, inventory)
    engine.dispose()
    early = sorted(k for k, t in full.tickets.items()
                   if t.state == "fixed" and (_became_fixed(t) or MID) < MID)
    assert early
    return early[0]


@pytest.mark.parametrize("how", ["step by step", "replayed from the start"])
def test_a_false_positive_reopened_as_fixed_leaves_the_window_from_its_reopening(tmp_path, how,
                                                                                 sample_store):
    """A fixed ticket marked a false positive and reopened (fixed again, by the reopening),
    and a ticket marked a false positive before its fix (no fix event while the decision
    holds) then reopened: each counts from its reopening, whether the store took the steps
    one by one with reads between or replayed them from the start."""
    inventory = load_inventory(SAMPLE / "inventory.csv")
    key = _early_fix(tmp_path, inventory, sample_store)
    engine = open_store(str(tmp_path / "w.db"))
    early = [p for p in SCANS_BY_TIME if p.name < "2026-W47"]
    for path in early:
        ingest_source(engine, next(expand_inputs([path])), L2TP)
    _stored(engine, None, inventory)
    if how == "step by step":   # decisions after the last scan: forward steps, reads between
        record_decision(engine, key, "false_positive", "scanner glitch", at=MID)
        _stored(engine, None, inventory)
        record_decision(engine, key, "revoked", "it was real", at=MID + timedelta(hours=1))
        _stored(engine, None, inventory)
    else:                       # the false positive before the fix: a replay from the start
        opened = _stored(engine, None, inventory).tickets[key].events[0].at
        record_decision(engine, key, "false_positive", "lab host", at=opened + timedelta(hours=1))
        record_decision(engine, key, "revoked", "not a lab host", at=MID + timedelta(hours=1))
    for path in SCANS_BY_TIME:
        if path not in early:
            ingest_source(engine, next(expand_inputs([path])), L2TP)
    full = _reference(engine, None, inventory)
    assert full.tickets[key].state == "fixed"
    assert _became_fixed(full.tickets[key]) == MID + timedelta(hours=1)
    assert _assert_window_as_a_filtered_replay(engine, inventory)
    engine.dispose()


def test_tickets_command_window_option_and_config(tmp_path, db_url, sample_store):
    """The exports hold live tickets and the last 30 days' fixes by default; --fixed-within
    and [tickets] fixed_within_days choose, 'all' exports every ticket; a bad value is a
    usage error. (SQLite and PostgreSQL: the window is a query.)"""
    db = db_url
    inv = SAMPLE / "inventory.csv"
    if "://" in db:
        assert run_cli("ingest", *sorted((SAMPLE / "scans").glob("*.nessus")), "--db", db).returncode == 0
    else:                               # the same ingest, made once per session
        copy_store(sample_store, Path(db))

    def exported(*args: object) -> tuple[list[dict], str]:
        r = run_cli("tickets", "--db", db, "--inventory", inv, "--jsonl", "-", *args)
        assert r.returncode == 0, r.stderr.decode()
        return [json.loads(line) for line in r.stdout.decode().splitlines()], r.stderr.decode()

    every, _ = exported("--fixed-within", "all")
    fixed = sorted(v["fixed_at"] for v in every if v["state"] == "fixed")
    assert len(fixed) >= 2 and fixed[0][:10] < "2026-11-20"
    recent, note = exported("--fixed-within", "5")
    cut = re.search(r"(\d+) fixed before (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) left out: "
                    r"--fixed-within all", note)
    assert cut, note
    left = [v for v in every if v["state"] == "fixed" and v["fixed_at"] < cut[2]]
    assert left and int(cut[1]) == len(left)
    assert {v["key"] for v in recent} == {v["key"] for v in every} - {v["key"] for v in left}
    assert [v for v in every if v["key"] in {r["key"] for r in recent}] == recent
    default, _ = exported()
    assert default == every           # the sample's fixes all came in the last 30 days
    (tmp_path / "vulnpipe.toml").write_text("[tickets]\nfixed_within_days = 5\n")
    assert exported("--config", tmp_path / "vulnpipe.toml")[0] == recent
    (tmp_path / "bad.toml").write_text('[tickets]\nfixed_within_days = "soon"\n')
    r = run_cli("tickets", "--db", db, "--jsonl", "-", "--config", tmp_path / "bad.toml")
    assert r.returncode == 1 and b"fixed_within_days" in r.stderr
    r = run_cli("tickets", "--db", db, "--jsonl", "-", "--fixed-within", "-3")
    assert r.returncode == 2 and b"--fixed-within" in r.stderr


def test_an_evidence_period_reads_no_fix_before_it_yet_misses_no_ticket_it_needs(tmp_path,
                                                                                 sample_store):
    """An evidence pack of a period skips reading the tickets fixed before the period began
    and untouched since; every ticket it needs (active in the period, `_active`) is read,
    exactly as a full replay has it, also a fixed ticket whose risk adjustment came later."""
    from vulnpipe.reports.evidence.collect import _active
    from vulnpipe.reports.evidence.period import Period

    engine = open_store(str(copy_store(sample_store, tmp_path / "e.db")))   # every sample scan
    inventory = load_inventory(SAMPLE / "inventory.csv")
    fixed = sorted(k for k, t in _stored(engine, None, inventory).tickets.items()
                   if t.state == "fixed")
    assert len(fixed) >= 2
    record_decision(engine, fixed[0], "risk_adjusted", "compensating control",
                    approver="CISO", rating="LOW", at=datetime(2026, 11, 26, tzinfo=timezone.utc))
    skipped_somewhere = False
    full = _reference(engine, None, inventory)
    with engine.begin() as conn:
        matching, _changes = update_tickets(conn, L2TP, inventory, SETTINGS)
    for start in (datetime(2026, 11, d, tzinfo=timezone.utc) for d in (1, 10, 17, 24, 26)):
        period = Period(start, None, "test")
        with engine.begin() as conn:
            read = tickets_as_of(conn, L2TP, matching, SETTINGS, None, may_skip_fixed_before=start)
        needed = {k for k, t in full.tickets.items() if _active(t, period)}
        assert needed <= set(read.tickets), f"period from {start}: a needed ticket was skipped"
        assert all(read.tickets[k] == full.tickets[k] for k in read.tickets)
        assert fixed[0] in read.tickets            # adjusted after its fix: kept
        skipped_somewhere |= len(read.tickets) < len(full.tickets)
    assert skipped_somewhere
    engine.dispose()


def test_ticket_rows_an_older_vulnpipe_wrote_are_replayed_from_the_start_once(tmp_path):
    """Stored ticket rows carry how they were derived: a store whose rows an older version
    wrote (no `ticket_rows` mark) is replayed from the start once, then read forward."""
    from sqlalchemy import delete

    from vulnpipe.ingest.store.schema import store_meta
    from vulnpipe.reports.tickets.history import ROWS_KEY, bring_up_to_date

    engine = open_store(str(tmp_path / "old.db"))
    files = SCANS_BY_TIME
    for path in files[:-1]:
        ingest_source(engine, next(expand_inputs([path])), L2TP)
    with engine.begin() as conn:
        assert bring_up_to_date(conn, L2TP).replayed_from_start           # the first build
        conn.execute(delete(store_meta).where(store_meta.c.key == f"{ROWS_KEY}:l2tp"))
    ingest_source(engine, next(expand_inputs([files[-1]])), L2TP)
    with engine.begin() as conn:
        assert bring_up_to_date(conn, L2TP).replayed_from_start           # rows of old
    record_decision(engine, sorted(_stored(engine, None).tickets)[0], "false_positive", "x")
    with engine.begin() as conn:
        assert not bring_up_to_date(conn, L2TP).replayed_from_start       # forward again
    _assert_same_everywhere(engine)
    engine.dispose()
