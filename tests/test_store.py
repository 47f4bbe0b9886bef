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
from vulnpipe.ingest.store.schema import findings, hosts, scans


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
    assert b"0001 -> 0005" in up.stderr
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
