"""The history store, on SQLite and on the real PostgreSQL: same tests, same results."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from tests import nessus_builder as nb
from tests.conftest import generate, made_once, old_database, run_cli, wait_until_it_waits_for_input
from vulnpipe.ingest import NessusReader, resolve_profile
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.store import ingest_source, open_store
from vulnpipe.ingest.store.read import iter_finding_records, list_scans
from vulnpipe.ingest.store.schema import HEAD, findings, hosts, scans


def _counts(url):
    engine = open_store(url)
    with engine.connect() as conn:
        out = tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                    for t in (scans, hosts, findings))
    engine.dispose()
    return out


def _parse_records(path, profile):
    reader = NessusReader(next(expand_inputs([path])), resolve_profile(profile))
    return [f.record() for _h, items in reader.hosts() for f in items]


def _scan_row(conn) -> dict:
    row = dict(conn.execute(select(scans)).mappings().one())
    return {k: v for k, v in row.items() if k not in ("id", "ingested_at")}


@pytest.fixture(scope="module")
def parsed_generated(generated):
    """What the full parser reads from the generated export for a profile: its finding
    records, hosts and statistics (read once per profile: every store and way of reading is
    compared with the same)."""
    path, _truth = generated
    done: dict[str, tuple] = {}

    def parse(profile: str) -> tuple:
        if profile not in done:
            full = NessusReader(next(expand_inputs([path])), resolve_profile(profile))
            found_hosts, found = full.read_all()
            done[profile] = ([f.record() for f in found], found_hosts, found, full.stats)
        return done[profile]

    return parse


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "split"])
@pytest.mark.parametrize("profile", [pytest.param("all", marks=pytest.mark.slow), "l2tp"])
def test_stored_findings_read_back_exactly_as_parsed(db_url, generated, parsed_generated,
                                                     profile, split, monkeypatch):
    """Also when a big file is split between worker processes (filtering profiles)."""
    from vulnpipe.ingest.nessus import parallel
    from vulnpipe.ingest.nessus import readers as nessus_readers
    from vulnpipe.ingest.store import writer

    path, truth = generated
    readers = []

    def recording_open_reader(*args, **kwargs):
        readers.append(nessus_readers.open_reader(*args, **kwargs))
        return readers[-1]

    monkeypatch.setattr(writer, "open_reader", recording_open_reader)
    if split:
        monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
        monkeypatch.setattr(parallel, "PIECE_BYTES", (512 << 10, 512 << 10))
    engine = open_store(db_url)
    result = ingest_source(engine, next(expand_inputs([path])), resolve_profile(profile))
    assert result.status == "stored"
    assert result.hosts == truth["hosts"]
    with engine.connect() as conn:
        stored = list(iter_finding_records(conn))
        n_hosts = conn.execute(select(func.count()).select_from(hosts)).scalar()
        seqs = conn.execute(select(hosts.c.host_seq).order_by(hosts.c.host_seq)).scalars().all()
        scan = _scan_row(conn)
    engine.dispose()
    expected_split = split and profile != "all"
    assert isinstance(readers[0], parallel.ParallelReader) == expected_split
    assert readers[0].path_used == ("parallel" if expected_split else "full" if profile == "all"
                                    else "fast")
    assert n_hosts == truth["hosts"], "every host is stored, with or without findings"
    assert seqs == list(range(truth["hosts"]))
    records, found_hosts, found, stats = parsed_generated(profile)
    assert stored == records
    assert (scan["hosts_count"], scan["items_count"], scan["findings_count"]) == \
        (truth["hosts"], truth["report_items"], len(found))
    assert scan["sha256"] == stats.sha256 and scan["size"] == stats.size
    starts = [h.host_start for h in found_hosts if h.host_start]
    assert (scan["first_host_start"], scan["last_host_start"]) == \
        tuple(s.replace(tzinfo=None) for s in (min(starts), max(starts)))


def test_corpus_files_store_and_read_back(db_url, shared):
    files = [shared / "corpus" / p for p in ("pytenable/example.nessus",
                                             "defectdojo/nessus_v_unknown.xml",
                                             "python-libnessus/nessus_report_localpci.nessus")]
    result = run_cli("ingest", *files, "--db", db_url, "--profile", "all")
    assert result.returncode == 0, result.stderr.decode()
    out = run_cli("findings", "--db", db_url, "--format", "jsonl")
    stored = [json.loads(x) for x in out.stdout.decode().splitlines()]
    expected = [r for f in files for r in _parse_records(f, "all")]
    assert len(stored) == len(expected) == 230 + 296 + 167
    assert stored == json.loads(json.dumps(expected))


def test_reingest_is_skipped_never_duplicated(db_url, generated):
    path, _ = generated
    first = run_cli("ingest", path, "--db", db_url)
    assert first.returncode == 0, first.stderr.decode()
    before = _counts(db_url)
    again = run_cli("ingest", path, path, "--db", db_url)
    assert again.returncode == 0
    assert b"skipped" in again.stderr
    assert _counts(db_url) == before


def test_bad_file_refused_good_ones_kept(db_url, generated, tmp_path):
    path, truth = generated
    bad = tmp_path / "cut.nessus"
    bad.write_bytes(path.read_bytes()[:200_000])
    result = run_cli("ingest", bad, path, "--db", db_url)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "cut.nessus" in err and "truncated" in err and "Traceback" not in err
    n_scans, n_hosts, _ = _counts(db_url)
    assert (n_scans, n_hosts) == (1, truth["hosts"])


def test_scans_lists_what_is_stored(db_url, generated):
    path, truth = generated
    run_cli("ingest", path, "--db", db_url)
    out = run_cli("scans", "--db", db_url, "--format", "jsonl")
    rows = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["file_name"] == path.name and row["hosts_count"] == truth["hosts"]
    assert row["items_count"] == truth["report_items"]
    assert row["findings_count"] == len(truth["l2tp"]) + len(truth["related"])
    assert row["policy_name"] == "Weekly external VPN exposure"
    assert row["first_host_start"].startswith("2025-11-25T08:00")


def test_unreachable_postgresql_is_one_clear_line():
    result = run_cli("scans", "--db", "postgresql://postgres:secret@127.0.0.1:1/nothing")
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err.count("\n") == 1 and err.startswith("error: cannot use the database")
    assert "secret" not in err and "Traceback" not in err


def test_wrong_credentials_are_one_clear_line():
    if not os.environ.get("VULNPIPE_TEST_PG_URL"):
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it)")
    result = run_cli("scans", "--db", "postgresql://no_such_role_vp@127.0.0.1:5432/test")
    err = result.stderr.decode()
    assert result.returncode == 1 and err.startswith("error: cannot use the database")
    assert "no_such_role_vp" in err and "Traceback" not in err


def test_unknown_schema_revision_is_refused_clearly(db_url):
    engine = open_store(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    result = run_cli("scans", "--db", db_url)
    assert result.returncode == 1
    assert b"newer vulnpipe" in result.stderr


#: ``vulnpipe ARGS`` in a process of its own that writes hosts in batches of 500 (not 2,000):
#: the reader runs up to 2 MB (about 1,800 hosts) behind what it was given.
_SMALL_BATCHES = """
import sys
from vulnpipe.ingest.store import writer
writer.BATCH_HOSTS = 500
from vulnpipe.cli import main
sys.argv = ["vulnpipe", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_sigkill_during_ingest_leaves_the_store_as_before(db_url, generated, tmp_path):
    small, _ = generated
    assert run_cli("ingest", small, "--db", db_url).returncode == 0
    before = _counts(db_url)
    # feed the scan through a named pipe, all but its last 100 kB, and wait until the ingest
    # has read what it was given: it is then certainly in the middle of its transaction (more
    # than 1,500 of the 3,000 hosts read: batches of 500 written, the file not finished)
    hosts = [nb.HostSpec(f"10.9.{i // 250}.{i % 250}", ip=f"10.9.{i // 250}.{i % 250}",
                         items=[nb.l2tp(), nb.item(plugin_id=19506, output="x" * 200)])
             for i in range(3000)]
    data = nb.document(hosts)
    fifo = tmp_path / "scan.nessus"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", _SMALL_BATCHES, "ingest", str(fifo), "--db",
                             db_url, "--profile", "all"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(fifo, "wb") as pipe:
        pipe.write(data[:len(data) - 100_000])
        pipe.flush()
        wait_until_it_waits_for_input(proc.pid)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)
    assert _counts(db_url) == before
    whole = tmp_path / "whole.nessus"
    whole.write_bytes(data)
    again = run_cli("ingest", whole, "--db", db_url, "--profile", "all")
    assert again.returncode == 0, again.stderr.decode()
    assert _counts(db_url) == (before[0] + 1, before[1] + 3000, before[2] + 6000)


@pytest.fixture(scope="session")
def two_exports(tmp_path_factory, shared) -> list:
    """Two generated exports of 250 hosts each, made once per session."""
    def make(d):
        for seed in (11, 12):
            generate(shared, "gen_nessus.py", "--hosts", "250", "--seed", seed, "--out",
                     d / f"c{seed}.nessus")

    d = made_once(tmp_path_factory, "two-exports", make)
    return [d / "c11.nessus", d / "c12.nessus"]


@pytest.mark.slow
def test_two_concurrent_ingests_both_succeed(db_url, two_exports):
    files = two_exports
    open_store(db_url).dispose()   # create the schema first, as a team's DBA would
    procs = [subprocess.Popen([sys.executable, "-m", "vulnpipe", "ingest", str(f), str(files[0]),
                               "--db", db_url, "--profile", "all"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    engine = open_store(db_url)
    with engine.connect() as conn:
        rows = list_scans(conn)
        n_hosts = conn.execute(select(func.count()).select_from(hosts)).scalar()
    engine.dispose()
    assert sorted(r["file_name"] for r in rows) == ["c11.nessus", "c12.nessus"]
    assert n_hosts == 500


def test_default_store_is_vulnpipe_db_in_working_directory(tmp_path, generated):
    path, truth = generated
    result = run_cli("ingest", path, cwd=tmp_path)        # (VULNPIPE_DB unset)
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vulnpipe.db"]
    engine = open_store(str(tmp_path / "vulnpipe.db"))
    with engine.connect() as conn:
        (scan,) = list_scans(conn)
        n_hosts = conn.execute(select(func.count()).select_from(hosts)).scalar()
    engine.dispose()
    assert scan["file_name"] == path.name and n_hosts == truth["hosts"]


def test_database_from_the_first_schema_is_refused_then_upgraded(db_url, generated):
    """A database written by the first release (schema 0001) is refused until upgraded, then
    upgraded through every revision keeps its scans and gives the tickets a new store gives."""
    path, truth = generated
    old_database(db_url, "0001", [path])
    old = run_cli("tickets", "--db", db_url, "--jsonl", "-")
    assert old.returncode == 1
    assert b"older vulnpipe schema" in old.stderr and b"vulnpipe db upgrade" in old.stderr
    up = run_cli("db", "upgrade", "--db", db_url)
    assert up.returncode == 0, up.stderr.decode()
    assert f"0001 -> {HEAD}".encode() in up.stderr
    scans_out = run_cli("scans", "--db", db_url, "--format", "jsonl")
    assert json.loads(scans_out.stdout)["hosts_count"] == truth["hosts"]
    tickets = run_cli("tickets", "--db", db_url, "--jsonl", "-", "--as-of", "2026-12-01")
    assert tickets.returncode == 0, tickets.stderr.decode()
    assert len(tickets.stdout.splitlines()) == len({t["host_ip"] for t in truth["l2tp"] + truth["related"]})
    status = run_cli("db", "status", "--db", db_url)
    assert b"(current)" in status.stdout
    fresh = db_url + "-fresh.db" if "://" not in db_url else None
    if fresh:
        assert run_cli("ingest", path, "--db", fresh).returncode == 0
        again = run_cli("tickets", "--db", fresh, "--jsonl", "-", "--as-of", "2026-12-01")
        assert again.stdout == tickets.stdout


def test_reading_commands_never_create_an_empty_database(tmp_path):
    for args in (("scans",), ("findings",), ("tickets", "--jsonl", "-"), ("reconcile",)):
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 1
        assert b"no database at vulnpipe.db" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_postgresql_copy_rows_hold_the_same_values_as_the_insert_rows(tmp_path):
    """COPY rows are tuples in the table's column order with JSON already encoded; they must
    say exactly what the rows inserted into SQLite say."""
    from vulnpipe.ingest.store.writer import FINDING_COPY_COLUMNS, _finding_copy_row, _finding_values

    assert FINDING_COPY_COLUMNS == tuple(c.name for c in findings.columns)
    item = nb.item(plugin_id=21156, name="Compliance check", output="out\ttab",
                   children={"cve": ["CVE-2024-1", "CVE-2024-2"], "xref": "IAVA:1",
                             "see_also": "https://a.example\nhttps://b.example",
                             "cm:compliance-result": "FAILED", "vendor_note": "x \"q\""})
    path = nb.write(tmp_path / "c.nessus", [nb.HostSpec("10.0.0.1", ip="10.0.0.1",
                                                        items=[item, nb.l2tp()])])
    reader = NessusReader(next(expand_inputs([path])), resolve_profile("all"), keep_raw=True)
    _hosts, found = reader.read_all()
    assert len(found) == 2 and found[0].compliance is not None
    for seq, f in enumerate(found):
        as_dict = dict(zip(FINDING_COPY_COLUMNS, _finding_values(7, 0, seq, f)))
        copied = dict(zip(FINDING_COPY_COLUMNS, _finding_copy_row(7, 0, seq, f)))
        for col in ("cve", "xref", "see_also", "bid", "cwe", "compliance", "extra"):
            copied[col] = None if copied[col] is None else json.loads(copied[col])
        assert copied == as_dict


# -- the stored inventory snapshot ---------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_INVENTORY_HEADER = ["Asset ID", "Hostname", "FQDN", "IP Address", "MAC Address", "Owner",
                     "Owner Email", "Team", "Criticality", "Internet Facing"]
#: Assets named several ways: second names and FQDNs, a dotted host name, an FQDN cell
#: without a dot, an address in a name cell, a name two assets share, CIDRs, MACs.
_SEVERAL_NAMES = [
    ["A1", "web01;web01-old", "web01.corp.example;www.corp.example", "10.0.0.1",
     "aa:bb:cc:dd:ee:01;AA-BB-CC-DD-EE-02", "Ann", "", "T1", "high", "yes"],
    ["A2", "DB01.corp.example.;db-legacy", "legacy", "10.0.1.0/24;10.0.0.2", "", "", "bob@x",
     "T2", "low", ""],
    ["A3", "10.0.0.9;app03", "", "", "", "", "", "T3", "", "no"],
    ["A4", "x4;shared", "x4.corp.example;shared.corp.example", "", "", "Dan", "", "T4",
     "critical", ""],
    ["A5", "y5;SHARED", "", "2001:db8::/64", "", "Eve", "", "T5", "medium", ""],
    ["A6", "", "only-fqdn.corp.example;second.other.example;bare;spaced .;x. y .", "", "", "Fay",
     "", "", "", ""],
]
_SEVERAL_NAMES_HOSTS = [
    {"host": h} for h in ("web01-old", "www.corp.example", "WWW", "db-legacy", "legacy", "app03",
                          "10.0.1.7", "shared", "shared.corp.example", "x4", "y5", "10.0.0.9",
                          "db01", "second.other.example", "second", "bare", "2001:db8::5",
                          "nowhere", "spaced .", "x. y")
] + [{"host": "zz", "mac_address": "aa:bb:cc:dd:ee:02"},
     {"host": "10.9.9.9", "host_ip": "10.9.9.9", "netbios_name": "WEB01-OLD"},
     {"host": "10.9.9.8", "host_fqdn": "www.elsewhere.example"}]


def _matched_as(inventory, frame):
    from vulnpipe.ingest.assets.matching import MATCH_COLUMNS, match_hosts

    out = match_hosts(frame, inventory, default_owner="secops")
    return out[list(MATCH_COLUMNS)].astype(object).where(out[list(MATCH_COLUMNS)].notna(), None) \
        .to_dict("records")


def _stored_and_loaded(engine, inventory):
    from vulnpipe.ingest.store.assets import load_inventory_snapshot, save_inventory

    with engine.begin() as conn:
        save_inventory(conn, inventory)
    with engine.connect() as conn:
        return load_inventory_snapshot(conn)


def _assets_frame(inventory):
    frame = inventory.assets.drop(columns=["source_row"]).sort_values("asset_id")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_the_stored_inventory_matches_every_host_as_the_inventory_did(db_url):
    """An inventory rebuilt from the stored snapshot (a run without --inventory) matches
    every host exactly as the inventory itself: same asset, owner, team, criticality and
    match method, also through an asset's second name or FQDN (it kept the first only)."""
    import pandas as pd

    from vulnpipe.ingest.assets.inventory import inventory_from_rows
    from vulnpipe.ingest.store.schema import assets

    inventory = inventory_from_rows([_INVENTORY_HEADER, *_SEVERAL_NAMES], source="inv.csv")
    engine = open_store(db_url)
    try:
        loaded = _stored_and_loaded(engine, inventory)
        with engine.connect() as conn:
            stored = conn.execute(select(assets).order_by(assets.c.asset_id)).all()
        again = _stored_and_loaded(engine, loaded)        # (what an import stores again)
        with engine.connect() as conn:
            assert conn.execute(select(assets).order_by(assets.c.asset_id)).all() == stored
    finally:
        engine.dispose()
    frame = pd.DataFrame(_SEVERAL_NAMES_HOSTS)
    assert _matched_as(again, frame) == _matched_as(inventory, frame)
    assert _matched_as(loaded, frame) == _matched_as(inventory, frame)
    assert _assets_frame(loaded) == _assets_frame(inventory)
    for kind in ("ip", "fqdn", "short", "mac", "cidr"):
        ours, theirs = (inv.lookups[kind].sort_values(list(inv.lookups[kind].columns))
                        .reset_index(drop=True) for inv in (inventory, loaded))
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


_NAME_TOKENS = st.one_of(
    st.sampled_from(["web01", "WEB01.corp.example.", "web01-old", "db.corp.example", "db",
                     "shared", "10.0.0.9", "10.0.0.9.", "::1.example", "1.2.3.4.example",
                     "legacy", "x.y.z", "fe80::1", "2001:DB8::7", "..", "a b.example"]),
    st.text(alphabet="abAB01.:-[]% ", min_size=1, max_size=8))
_ADDRESS_TOKENS = st.sampled_from(["10.0.0.1", "10.0.0.9", "10.0.0.0/24", "10.0.0.0/16",
                                   "2001:db8::1", "2001:db8::/64", "10.0.0.5/32", "junk"])
_MAC_TOKENS = st.sampled_from(["aa:bb:cc:dd:ee:01", "AA-BB-CC-DD-EE-02", "aabb.ccdd.ee03"])
_HOST_NAMES = st.none() | _NAME_TOKENS


def test_property_the_stored_inventory_matches_as_the_inventory_does(tmp_path):
    """Any inventory whose assets have several names, FQDNs, addresses and MACs: rebuilt from
    the stored snapshot, it matches every host as it did (SQLite here; PostgreSQL keeps the
    same lists: the test above)."""
    import pandas as pd

    from vulnpipe.ingest.assets.inventory import inventory_from_rows
    from vulnpipe.ingest.store.assets import _rows

    engine = open_store(str(tmp_path / "s.db"))         # (one store: each example replaces it)

    @settings(max_examples=6, deadline=None)   # (few examples, many assets and hosts each)
    @given(assets=st.lists(st.tuples(st.lists(_NAME_TOKENS, max_size=3),
                                     st.lists(_NAME_TOKENS, max_size=3),
                                     st.lists(_ADDRESS_TOKENS, max_size=2),
                                     st.lists(_MAC_TOKENS, max_size=2),
                                     st.sampled_from(["", "Ann", "Bob"]),
                                     st.sampled_from(["", "high", "Tier 1"])),
                           min_size=1, max_size=12),
           scanned=st.lists(st.fixed_dictionaries({
               "host": _NAME_TOKENS, "host_ip": st.none() | _ADDRESS_TOKENS,
               "host_fqdn": _HOST_NAMES, "hostname": _HOST_NAMES, "netbios_name": _HOST_NAMES,
               "mac_address": st.none() | _MAC_TOKENS}), min_size=1, max_size=24))
    def check(assets, scanned):
        rows = [[f"A{i}", ";".join(names), ";".join(fqdns), ";".join(ips), ";".join(macs),
                 owner, "", f"T{i}", crit, ""]
                for i, (names, fqdns, ips, macs, owner, crit) in enumerate(assets)]
        inventory = inventory_from_rows([_INVENTORY_HEADER, *rows], source="inv.csv")
        loaded = _stored_and_loaded(engine, inventory)
        frame = pd.DataFrame(scanned)
        assert _matched_as(loaded, frame) == _matched_as(inventory, frame)
        assert _assets_frame(loaded) == _assets_frame(inventory)
        assert sorted(_rows(loaded), key=str) == sorted(_rows(inventory), key=str)  # (stored again)

    try:
        check()
    finally:
        engine.dispose()


def _several_names_inventory(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(
        "Asset ID,Hostname,FQDN,IP Address,Owner,Team,Criticality\n"
        'A1,"web01;web01-old","web01.corp.example;www.corp.example",,Ann,Web,high\n'
        "A2,db01,db01.corp.example,10.0.0.2,Bob,Data,low\n", "utf-8")
    return path


def _week_scan(tmp_path, name, when, hosts):
    from datetime import timedelta

    specs = [nb.HostSpec(ip, ip=ip, items=[nb.l2tp()], start=when + timedelta(minutes=i),
                         end=when + timedelta(minutes=i + 5), **names)
             for i, (ip, names) in enumerate(hosts)]
    return nb.write(tmp_path / name, specs, report_name=name)


def _owners(db, *extra) -> dict:
    r = run_cli("tickets", "--db", db, "--jsonl", "-", "--as-of", "2026-12-01", *extra)
    assert r.returncode == 0, r.stderr.decode()
    return {t["key"]: (t["asset_id"], t["owner"], t["team"], t["criticality"], t["match_method"])
            for t in map(json.loads, r.stdout.decode().splitlines())}


def test_a_run_without_inventory_matches_new_hosts_by_every_name_of_the_stored_one(tmp_path):
    """`tickets --inventory X`, then a new scan whose hosts are named by an asset's second
    host name or FQDN: `tickets` without --inventory gives them the owner --inventory gives
    (the stored inventory kept each asset's first name only: they were unmatched)."""
    from datetime import datetime, timezone

    from tests.conftest import copy_store

    inventory = _several_names_inventory(tmp_path)
    monday = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    first = _week_scan(tmp_path, "w1.nessus", monday, [("10.0.0.1", {"netbios": "WEB01"})])
    later = _week_scan(tmp_path, "w2.nessus", monday.replace(day=9),
                       [("10.0.0.7", {"netbios": "WEB01-OLD"}),
                        ("10.0.0.8", {"fqdn": "www.corp.example"}),
                        ("10.0.0.9", {"fqdn": "db01.elsewhere.example"})])
    db = tmp_path / "s.db"
    assert run_cli("ingest", first, "--db", db).returncode == 0
    _owners(db, "--inventory", inventory)                  # stores the inventory
    assert run_cli("ingest", later, "--db", db).returncode == 0
    given = _owners(copy_store(db, tmp_path / "given.db"), "--inventory", inventory)
    assert sorted(given.values()) == [("A1", "Ann", "Web", "high", "hostname"),
                                      ("A2", "Bob", "Data", "low", "hostname")]
    assert _owners(db) == given                   # (one ticket per asset: all three hosts)


def _digest_before_0006(inventory) -> str:
    """The inventory digest as vulnpipe wrote it before schema 0006."""
    import hashlib

    import orjson

    digest = hashlib.sha256(str(inventory.source).encode("utf-8"))
    for col in sorted(inventory.assets.columns):
        digest.update(orjson.dumps([col, inventory.assets[col].astype(object).tolist()],
                                   default=str, option=orjson.OPT_SERIALIZE_NUMPY))
    return digest.hexdigest()


def _stored_with_inventory(tmp_path, later_netbios: str):
    """A store of week 1's scan (host WEB01) built with :func:`_several_names_inventory`
    given, and week 2's scan (one host named ``later_netbios``), not yet ingested."""
    from datetime import datetime, timezone

    inventory = _several_names_inventory(tmp_path)
    monday = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    first = _week_scan(tmp_path, "w1.nessus", monday, [("10.0.0.1", {"netbios": "WEB01"})])
    later = _week_scan(tmp_path, "w2.nessus", monday.replace(day=9),
                       [("10.0.0.7", {"netbios": later_netbios})])
    db = tmp_path / "s.db"
    assert run_cli("ingest", first, "--db", db).returncode == 0
    _owners(db, "--inventory", inventory)
    return db, inventory, later


def test_a_snapshot_stored_before_0006_matches_as_before_until_the_inventory_is_given(tmp_path):
    """A store upgraded from 0005 keeps its snapshot (first name and FQDN only): a run without
    an inventory matches as before; the next run given the inventory, even the same file,
    stores every name, and runs without it match like it from then on."""
    from vulnpipe.ingest.assets.inventory import load_inventory
    from vulnpipe.ingest.store.schema import assets, store_meta

    db, inventory, later = _stored_with_inventory(tmp_path, "WEB01-OLD")
    engine = open_store(str(db))
    with engine.begin() as conn:                          # as vulnpipe 0005 left it
        conn.execute(assets.update().values(fqdns=None, names=None))
        conn.execute(store_meta.update().where(store_meta.c.key == "inventory")
                     .values(value=_digest_before_0006(load_inventory(inventory))))
    assert run_cli("ingest", later, "--db", db).returncode == 0
    before = _owners(db)
    assert sorted(before.values(), key=str) == [("A1", "Ann", "Web", "high", "hostname"),
                                                (None, None, None, None, "unmatched")]
    given = _owners(db, "--inventory", inventory)
    assert list(given.values()) == [("A1", "Ann", "Web", "high", "hostname")]
    with engine.connect() as conn:
        stored = dict(conn.execute(select(assets.c.asset_id, assets.c.names)).all())
    engine.dispose()
    assert stored == {"A1": ["web01", "web01-old", "www"], "A2": ["db01"]}
    assert _owners(db) == given


def test_an_inventory_whose_second_name_alone_changed_is_stored_again(tmp_path):
    """The same file with only an asset's second host name changed is a new inventory: the
    next run given it stores the new name, so runs without it match hosts by that name."""
    db, inventory, later = _stored_with_inventory(tmp_path, "WEB02-NEW")
    inventory.write_text(inventory.read_text("utf-8").replace("web01-old", "web02-new"), "utf-8")
    _owners(db, "--inventory", inventory)                  # the same path, one name changed
    assert run_cli("ingest", later, "--db", db).returncode == 0
    assert list(_owners(db).values()) == [("A1", "Ann", "Web", "high", "hostname")]
