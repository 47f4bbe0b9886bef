"""Safe for a team (#24): concurrent writers wait their turn, the weekly job's summary can be
trusted, one config for every command, honest schema status, moving a history."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_store, run_cli

SCANS = ROOT / "sample_data" / "scans"
INVENTORY = ROOT / "sample_data" / "inventory.csv"


def _start(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """``python -m vulnpipe ARGS`` started in a process of its own (not waited for)."""
    full_env = {**os.environ, "COLUMNS": "80", **(env or {})}
    if env is None or "VULNPIPE_DB" not in env:
        full_env.pop("VULNPIPE_DB", None)
    return subprocess.Popen([sys.executable, "-m", "vulnpipe", *map(str, args)], cwd=cwd,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, (out + err).decode("utf-8", "replace")


# -- 1. two writers at once: the second waits, then does its work ------------------------------

@pytest.mark.slow
def test_two_runs_and_a_reconcile_at_once_all_succeed(tmp_path, db_url):
    """Two weekly jobs started together on one store (and an analyst's reconcile in between):
    each waits for the other's ticket rebuild and inventory save, then writes the same
    tickets; no scan is stored twice; nothing but one-line messages on stderr."""
    if "://" not in db_url:
        Path(db_url).touch()                # (an empty SQLite file: `db upgrade` makes none)
    assert run_cli("db", "upgrade", "--db", db_url, cwd=tmp_path).returncode == 0
    env = {"VULNPIPE_DB": db_url}
    first = [_start("run", SCANS, "--inventory", INVENTORY, "--out", f"out{i}",
                    "--summary-json", f"run{i}.json", cwd=tmp_path, env=env) for i in (1, 2)]
    results = [_finish(p) for p in first]
    analyst = _start("reconcile", "--inventory", INVENTORY, cwd=tmp_path, env=env)
    again = _start("run", SCANS, "--out", "out3", "--summary-json", "run3.json", cwd=tmp_path,
                   env=env)
    results += [_finish(analyst), _finish(again)]
    for code, text in results:
        assert code == 0, text[-2000:]
        assert "SQL" not in text and "parameters" not in text and "Traceback" not in text
    summaries = [json.loads((tmp_path / f"run{i}.json").read_text()) for i in (1, 2, 3)]
    assert all(s["ok"] for s in summaries)
    stored = summaries[0]["scans"]["stored"] + summaries[1]["scans"]["stored"]
    assert sorted(stored) == sorted(p.name for p in SCANS.iterdir())     # each file once
    assert [s["tickets"]["total"] for s in summaries] == [23, 23, 23]
    tickets = {(tmp_path / f"out{i}" / "tickets.jsonl").read_bytes() for i in (1, 2, 3)}
    assert len(tickets) == 1


def test_an_unexpected_database_error_prints_one_line_without_sql_or_parameters(tmp_path, monkeypatch):
    """A bug that surfaces as a database error (here a real duplicate key) is one line: the
    driver's message, never the statement or the owners' names and e-mails it carried."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    from vulnpipe import workflows

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE assets (asset_id TEXT PRIMARY KEY, owner_email TEXT)"))
        conn.execute(text("INSERT INTO assets VALUES ('AST-1', 'ana@corp.example')"))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO assets VALUES (:a, :e)"),
                         [{"a": "AST-1", "e": "lars.eriksen@corp.example"}])
    except IntegrityError as exc:
        caught = exc
    engine.dispose()

    def broken(_cfg):
        raise caught

    monkeypatch.setattr(workflows, "check_config", broken)
    r = run_cli("config", "check", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 70 and len(err.strip().splitlines()) == 1, err
    assert "UNIQUE constraint failed: assets.asset_id" in err
    assert "corp.example" not in err and "INSERT" not in err and "parameters" not in err


# -- 3. the summary never says all is well when the run failed -----------------------------------

def test_a_failed_run_replaces_last_weeks_summary_with_ok_false(tmp_path):
    """Last week's ``"ok": true`` never survives a run that fails: unreachable database,
    unusable config, or an inventory that cannot be read."""
    summary = tmp_path / "out" / "run.json"
    good = run_cli("run", SCANS / "2026-W44-weekly.nessus", "--db", "h.db", "--out", "out",
                   "--summary-json", summary, cwd=tmp_path)
    assert good.returncode == 0 and json.loads(summary.read_text())["ok"] is True
    failures = [("--db", "postgresql://vulnpipe@127.0.0.1:1/vulnpipe"),
                ("--config", "missing.toml"),
                ("--inventory", "no-such-inventory.csv")]
    for option, value in failures:
        r = run_cli("run", SCANS, "--db", "h.db", option, value, "--out", "out",
                    "--summary-json", summary, cwd=tmp_path)
        assert r.returncode == 1, r.stderr.decode()
        written = json.loads(summary.read_text())
        assert written["ok"] is False and written["error"], (option, written)
        assert written["error"] in r.stderr.decode()          # the line printed, word for word
    stdout = run_cli("run", SCANS, "--db", "postgresql://vulnpipe@127.0.0.1:1/vulnpipe",
                     "--summary-json", "-", cwd=tmp_path)
    assert stdout.returncode == 1 and json.loads(stdout.stdout)["ok"] is False


# -- 2. config check passes only a config run can use; run checks before writing -------------

def test_config_check_and_run_refuse_a_missing_path_before_writing_anything(tmp_path):
    """The how-to's ``knowledge_dirs = ["knowledge"]`` without that folder: `config check`
    names the key; `run` stops before storing a scan, so the next run still reports every
    change."""
    cfg = tmp_path / "vulnpipe.toml"
    cfg.write_text(f'[inventory]\npath = "{INVENTORY}"\n[store]\nurl = "history.db"\n'
                   '[tickets]\nknowledge_dirs = ["knowledge"]\n')
    check = run_cli("config", "check", cwd=tmp_path)
    assert check.returncode == 1
    assert (f"error: {cfg}: [tickets] knowledge_dirs[0]: {tmp_path / 'knowledge'} does not "
            "exist").encode() in check.stderr
    r = run_cli("run", SCANS, "--summary-json", "run.json", cwd=tmp_path)
    assert r.returncode == 1 and b"knowledge_dirs[0]" in r.stderr
    assert not (tmp_path / "history.db").exists() and not (tmp_path / "out").exists()
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "bad.toml").write_text("[plugins.11387\n")
    bad = run_cli("config", "check", cwd=tmp_path)
    assert bad.returncode == 1 and b"bad.toml" in bad.stderr
    assert run_cli("run", SCANS, cwd=tmp_path).returncode == 1
    assert not (tmp_path / "history.db").exists()
    (tmp_path / "knowledge" / "bad.toml").unlink()
    assert run_cli("config", "check", cwd=tmp_path).returncode == 0
    ok = run_cli("run", SCANS, "--summary-json", "run.json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr.decode()
    summary = json.loads((tmp_path / "run.json").read_text())
    assert len(summary["scans"]["stored"]) == 9 and len(summary["changes"]) == 23


def test_config_check_names_every_missing_file(tmp_path):
    for section, key, value in [("inventory", "path", '"assets.csv"'),
                                ("profiles", "files", '["campaigns.toml"]'),
                                ("jira", "token_file", '"jira.token"'),
                                ("mail", "ca_file", '"ca.pem"'),
                                ("store", "url", '"db/history.db"')]:
        (tmp_path / "vulnpipe.toml").write_text(f"[{section}]\n{key} = {value}\n")
        r = run_cli("config", "check", cwd=tmp_path)
        assert r.returncode == 1 and f"[{section}] {key}".encode() in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1 and b"Traceback" not in r.stderr
    (tmp_path / "vulnpipe.toml").write_text('[run]\nout_dir = "vulnpipe.toml"\n')
    r = run_cli("config", "check", cwd=tmp_path)
    assert r.returncode == 1 and b"[run] out_dir" in r.stderr and b"is not a folder" in r.stderr


# -- 5. one config for every command; only ingest makes a database; no silent fallback --------

def _store_with_tickets(tmp_path: Path, sample_store: Path | None = None) -> tuple[Path, str]:
    """A project folder whose vulnpipe.toml names a store (elsewhere) with the sample
    history: `vulnpipe ingest sample_data/scans --config vulnpipe.toml`, or a copy of
    ``sample_store`` (the same ingest, made once); returns (config, a ticket key)."""
    project = tmp_path / "project"
    project.mkdir()
    cfg = project / "vulnpipe.toml"
    cfg.write_text(f'[store]\nurl = "{tmp_path / "shared" / "history.db"}"\n'
                   f'[inventory]\npath = "{INVENTORY}"\n')
    (tmp_path / "shared").mkdir()
    if sample_store is not None:
        copy_store(sample_store, tmp_path / "shared" / "history.db")
    else:
        assert run_cli("ingest", SCANS, "--config", cfg, cwd=project).returncode == 0
    r = run_cli("tickets", "--config", cfg, "--jsonl", "-", cwd=project)
    key = json.loads(r.stdout.splitlines()[0])["key"]
    return cfg, key


def test_every_store_command_takes_config_and_vulnpipe_config(tmp_path):
    """From another folder, with --config or VULNPIPE_CONFIG, every command uses the config's
    store: nothing is created in the working folder."""
    cfg, key = _store_with_tickets(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    commands = [("scans",), ("findings", "--scan", "latest"), ("db", "status"), ("db", "upgrade"),
                ("accept", key, "--until", "2099-12-31", "--reason", "cutover", "--approver", "CISO"),
                ("reopen", key, "--reason", "cutover done"),
                ("false-positive", key, "--reason", "NAT-T responder"),
                ("inspect", SCANS / "2026-W48-weekly.nessus"),
                ("tickets", "--jsonl", "-"), ("reconcile",), ("report", "weekly", "--json", "-")]
    for args in commands:
        by_option = run_cli(*args, "--config", cfg, cwd=elsewhere)
        assert by_option.returncode == 0, (args, by_option.stderr.decode())
        by_env = run_cli(*args, cwd=elsewhere, env={"VULNPIPE_CONFIG": str(cfg)})
        assert by_env.returncode == 0 or args[0] in ("accept", "reopen", "false-positive"), \
            (args, by_env.stderr.decode())
        assert list(elsewhere.iterdir()) == [], args
    status = run_cli("db", "status", cwd=elsewhere, env={"VULNPIPE_CONFIG": str(cfg)})
    assert f"sqlite:///{tmp_path / 'shared' / 'history.db'}: schema ".encode() in status.stdout


def test_no_command_but_ingest_creates_a_database_and_empty_settings_are_errors(tmp_path,
                                                                              sample_store):
    """`db status`/`db upgrade` in a folder without a store say so (exit 1, no file made);
    an empty VULNPIPE_DB or VULNPIPE_CONFIG (a missing CI secret) is an error, never the
    local default or [store] url."""
    for args in (("db", "status"), ("db", "upgrade"), ("scans",),
                 ("accept", "VP-0", "--until", "2099-01-01", "--reason", "r", "--approver", "a")):
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 1 and b"no database at vulnpipe.db" in r.stderr, (args, r.stderr)
    assert list(tmp_path.iterdir()) == []
    cfg, _key = _store_with_tickets(tmp_path, sample_store)
    for env in ({"VULNPIPE_DB": ""}, {"VULNPIPE_DB": "  "}):
        for args in (("scans",), ("db", "status"), ("tickets", "--jsonl", "-"),
                     ("run", SCANS), ("ingest", SCANS)):
            r = run_cli(*args, "--config", cfg, cwd=tmp_path, env=env)
            assert r.returncode == 1 and b"VULNPIPE_DB is set but empty" in r.stderr, (args, r.stderr)
    r = run_cli("scans", cwd=cfg.parent, env={"VULNPIPE_CONFIG": ""})
    assert r.returncode == 1 and b"VULNPIPE_CONFIG is set but empty" in r.stderr
    r = run_cli("scans", "--db", "", cwd=cfg.parent)
    assert r.returncode == 1 and b"--db is empty" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "shared"]


# -- 4. db status / db upgrade tell the truth ------------------------------------------------

def test_db_status_and_upgrade_say_what_the_schema_needs(db_url, tmp_path):
    """`db status` exits 1 unless the schema is this vulnpipe's: empty, older (upgrade it),
    newer (upgrade vulnpipe, and `db upgrade` changes nothing)."""
    from sqlalchemy import text

    from tests.conftest import old_database
    from vulnpipe.ingest.store import make_engine
    from vulnpipe.ingest.store.engine import HEAD

    if "://" not in db_url:            # SQLite: an empty file is an empty database
        Path(db_url).touch()
    empty = run_cli("db", "status", "--db", db_url, cwd=tmp_path)
    assert empty.returncode == 1 and b"schema - (empty: `vulnpipe db upgrade` creates" in empty.stdout
    old_database(db_url, "0001", [SCANS / "2026-W44-weekly.nessus"])
    old = run_cli("db", "status", "--db", db_url, cwd=tmp_path)
    assert old.returncode == 1
    assert f"schema 0001 (needs upgrade to {HEAD}: back it up".encode() in old.stdout
    up = run_cli("db", "upgrade", "--db", db_url, cwd=tmp_path)
    assert up.returncode == 0 and f"schema 0001 -> {HEAD}".encode() in up.stderr
    assert run_cli("db", "status", "--db", db_url, cwd=tmp_path).returncode == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    newer = run_cli("db", "status", "--db", db_url, cwd=tmp_path)
    assert newer.returncode == 1 and b"schema 0099 (newer than this vulnpipe" in newer.stdout
    refused = run_cli("db", "upgrade", "--db", db_url, cwd=tmp_path)
    err = refused.stderr.decode()
    assert refused.returncode == 1 and "newer than this vulnpipe" in err and "upgrade vulnpipe" in err
    assert "credentials" not in err and len(err.splitlines()) == 1
    reading = run_cli("scans", "--db", db_url, cwd=tmp_path)
    assert reading.returncode == 1 and b"upgrade vulnpipe" in reading.stderr


def test_migrations_spell_out_their_own_tables():
    """Each revision creates what it created then, never from today's schema module: a 0001
    database upgrades through every later revision however the schema changes
    (test_store.py upgrades one with data to the newest revision)."""
    versions = ROOT / "ingest" / "store" / "migrations" / "versions"
    for path in sorted(versions.glob("0*.py")):
        source = path.read_text("utf-8")
        assert "store.schema" not in source and "metadata" not in source, path.name


# -- 9. reopen needs a decision to withdraw --------------------------------------------------

def test_reopen_without_a_decision_in_force_is_refused(tmp_path, sample_store):
    cfg, key = _store_with_tickets(tmp_path, sample_store)
    project = cfg.parent

    def decisions() -> int:
        import sqlite3

        with sqlite3.connect(tmp_path / "shared" / "history.db") as conn:
            return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]

    refused = run_cli("reopen", key, "--reason", "why not", cwd=project)
    assert refused.returncode == 1 and decisions() == 0
    assert f"{key} has no risk acceptance or false positive in force".encode() in refused.stderr
    assert run_cli("accept", key, "--until", "2099-12-31", "--reason", "cutover",
                   "--approver", "CISO", cwd=project).returncode == 0
    assert run_cli("reopen", key, "--reason", "done early", cwd=project).returncode == 0
    again = run_cli("reopen", key, "--reason", "twice", cwd=project)
    assert again.returncode == 1 and decisions() == 2
    assert run_cli("false-positive", key, "--reason", "NAT-T", cwd=project).returncode == 0
    assert run_cli("reopen", key, "--reason", "real after all", cwd=project).returncode == 0
    assert decisions() == 4


# -- 8. the first writers into an empty database create its tables one at a time -------------

@pytest.mark.slow
def test_parallel_first_ingests_into_an_empty_database_all_succeed(db_url, tmp_path):
    """Three workers start on an empty database at once: one creates the schema, the others
    wait for it and then store their files."""
    files = sorted(SCANS.glob("2026-W4[4-6]-weekly.nessus"))
    if "://" not in db_url:
        db_url = str(tmp_path / "new.db")           # (not even the file exists yet)
    workers = [_start("ingest", f, "--db", db_url, cwd=tmp_path) for f in files]
    for code, text in map(_finish, workers):
        assert code == 0 and "error" not in text, text[-2000:]
    r = run_cli("scans", "--format", "jsonl", "--db", db_url, cwd=tmp_path)
    assert sorted(json.loads(line)["file_name"] for line in r.stdout.splitlines()) == \
        [f.name for f in files]
    assert run_cli("db", "status", "--db", db_url, cwd=tmp_path).returncode == 0


# -- 6. weeks without new scans, an old week again, broken files -----------------------------

def test_run_says_no_new_scans_and_reports_any_week(tmp_path):
    first = run_cli("run", SCANS, "--db", "h.db", "--summary-json", "first.json", cwd=tmp_path)
    assert first.returncode == 0 and json.loads((tmp_path / "first.json").read_text())["new_scans"] == 9
    again = run_cli("run", SCANS, "--db", "h.db", "--summary-json", "-", cwd=tmp_path)
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["new_scans"] == 0
    assert summary["notes"] == ["no new scans: every input was stored by an earlier run (or none "
                                "was found); the report for 2026-W48 is written again"]
    assert b"note: no new scans" in again.stderr
    old = run_cli("run", SCANS, "--db", "h.db", "--week", "2026-W46", "--out", "w46",
                  "--summary-json", "-", cwd=tmp_path)
    w46 = json.loads(old.stdout)
    assert old.returncode == 0 and w46["report"]["week"] == "2026-W46"
    assert w46["as_of"] == w46["tickets"]["as_of"] == w46["report"]["as_of"] == "2026-11-15T23:59:59Z"
    assert (tmp_path / "w46" / "weekly-2026-W46.json").exists()
    assert w46["tickets"]["total"] < summary["tickets"]["total"]     # as the tickets stood then
    mid = run_cli("run", SCANS, "--db", "h.db", "--as-of", "2026-11-18", "--out", "mid",
                  "--summary-json", "-", cwd=tmp_path)
    assert json.loads(mid.stdout)["report"]["as_of"] == "2026-11-18T23:59:59Z"
    both = run_cli("run", SCANS, "--db", "h.db", "--week", "2026-W46", "--as-of", "2026-11-18",
                   "--summary-json", "-", cwd=tmp_path)
    assert both.returncode == 1 and json.loads(both.stdout)["ok"] is False
    bad = run_cli("run", SCANS, "--db", "h.db", "--week", "2026-48", cwd=tmp_path)
    assert bad.returncode == 2 and b"is not an ISO week" in bad.stderr


def test_a_broken_file_is_quarantined_once_or_excluded(tmp_path):
    """A truncated export in the folder fails the run that meets it; with --quarantine it is
    moved out with a note, so the next runs over the same folder succeed; --exclude skips it."""
    import shutil

    exports = tmp_path / "exports"
    shutil.copytree(SCANS, exports)
    broken = exports / "2026-W49-weekly.nessus"
    broken.write_bytes((SCANS / "2026-W48-weekly.nessus").read_bytes()[:5000])
    skip = run_cli("run", exports, "--db", "h.db", "--exclude", "*W49*", "--summary-json", "-",
                   cwd=tmp_path)
    summary = json.loads(skip.stdout)
    assert skip.returncode == 0 and summary["scans"]["excluded"] == ["2026-W49-weekly.nessus"]
    assert broken.exists() and b"2026-W49-weekly.nessus: left out (--exclude)" in skip.stderr
    caught = run_cli("run", exports, "--db", "h.db", "--quarantine", "quarantine",
                     "--summary-json", "-", cwd=tmp_path)
    summary = json.loads(caught.stdout)
    assert caught.returncode == 1 and summary["ok"] is False
    assert summary["scans"]["quarantined"] == [f"quarantine/{broken.name}"]
    assert not broken.exists() and (tmp_path / "quarantine" / broken.name).exists()
    assert b"moved to" in caught.stderr
    after = run_cli("run", exports, "--db", "h.db", "--quarantine", "quarantine",
                    "--summary-json", "-", cwd=tmp_path)
    assert after.returncode == 0 and json.loads(after.stdout)["scans"]["refused"] == []


def test_ingest_excludes_and_quarantines_as_run_does(tmp_path):
    """`ingest --exclude GLOB` leaves matching inputs out with a note each (and says how many
    in its closing line); `--quarantine DIR` moves a refused file out once, the command exits
    1 that once and the next ingest over the folder succeeds; neither goes with
    --add-campaign."""
    import shutil

    exports = tmp_path / "exports"
    shutil.copytree(SCANS, exports)
    broken = exports / "2026-W49-weekly.nessus"
    broken.write_bytes((SCANS / "2026-W48-weekly.nessus").read_bytes()[:5000])
    skip = run_cli("ingest", exports, "--db", "h.db", "--exclude", "*W49*", cwd=tmp_path)
    err = skip.stderr.decode()
    assert skip.returncode == 0 and broken.exists(), err
    assert "2026-W49-weekly.nessus: left out (--exclude)" in err
    assert "9 file(s) stored" in err and "0 refused, 1 left out (--exclude)" in err
    caught = run_cli("ingest", exports, "--db", "h.db", "--quarantine", "q", cwd=tmp_path)
    assert caught.returncode == 1 and b"moved to" in caught.stderr
    assert not broken.exists() and (tmp_path / "q" / broken.name).exists()
    again = run_cli("ingest", exports, "--db", "h.db", "--quarantine", "q", cwd=tmp_path)
    assert again.returncode == 0 and b"9 skipped, 0 refused" in again.stderr
    both = run_cli("ingest", exports, "--db", "h.db", "--add-campaign", "pptp", "--exclude", "x",
                   cwd=tmp_path)
    assert both.returncode == 2 and both.stderr.count(b"\n") == 1
    assert b"--add-campaign" in both.stderr


# -- 7. the summary's two views agree, and say their moment ----------------------------------

def test_decisions_after_the_weeks_end_are_in_both_views_or_neither(tmp_path):
    assert run_cli("run", SCANS, "--db", "h.db", cwd=tmp_path).returncode == 0
    key = json.loads((tmp_path / "out" / "tickets.jsonl").read_text().splitlines()[0])["key"]
    assert run_cli("accept", key, "--until", "2099-12-31", "--reason", "cutover",
                   "--approver", "CISO", "--db", "h.db", cwd=tmp_path).returncode == 0
    weekly = json.loads(run_cli("run", SCANS, "--db", "h.db", "--summary-json", "-",
                                cwd=tmp_path).stdout)
    assert weekly["tickets"]["as_of"] == weekly["report"]["as_of"] == "2026-11-29T23:59:59Z"
    assert weekly["tickets"].get("risk_accepted", 0) == weekly["report"]["risk_accepted"] == 0
    from datetime import datetime, timezone

    day = datetime.now(timezone.utc).date().isoformat()
    today = run_cli("run", SCANS, "--db", "h.db", "--as-of", day, "--out", "now",
                    "--summary-json", "-", cwd=tmp_path)
    now = json.loads(today.stdout)
    assert today.returncode == 0, today.stderr.decode()
    assert now["tickets"]["as_of"] == now["report"]["as_of"] == f"{day}T23:59:59Z"
    assert now["tickets"]["risk_accepted"] == now["report"]["risk_accepted"] == 1


# -- 10. moving a history: SQLite -> PostgreSQL gives the same tickets and reports ------------

@pytest.mark.slow
def test_sample_history_moves_from_sqlite_to_postgresql_unchanged(tmp_path):
    from tests.conftest import PG_URL, _drop_pg_database, _new_pg_database

    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it): PostgreSQL tests skipped")
    sqlite = str(tmp_path / "laptop.db")
    assert run_cli("run", SCANS, "--inventory", INVENTORY, "--db", sqlite,
                   cwd=tmp_path).returncode == 0
    keys = [json.loads(line)["key"]
            for line in (tmp_path / "out" / "tickets.jsonl").read_text().splitlines()]
    for args in (("accept", keys[0], "--until", "2026-12-31", "--reason", "cutover",
                  "--approver", "CISO", "--at", "2026-11-20"),
                 ("false-positive", keys[1], "--reason", "NAT-T responder", "--at", "2026-11-25"),
                 ("accept", keys[2], "--until", "2026-11-27", "--reason", "short",
                  "--approver", "CISO", "--at", "2026-11-24")):
        assert run_cli(*args, "--db", sqlite, cwd=tmp_path).returncode == 0
    exported = run_cli("export", "history.jsonl.gz", "--db", sqlite, cwd=tmp_path)
    assert exported.returncode == 0 and b"9 scan(s)" in exported.stderr
    assert b"3 decision(s), 233 inventory asset(s)" in exported.stderr
    name = f"vp_test_move_{os.getpid()}"
    pg = _new_pg_database(name)
    try:
        imported = run_cli("import", "history.jsonl.gz", "--db", pg, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr.decode()
        views = {}
        for label, url in (("sqlite", sqlite), ("postgresql", pg)):
            tickets = run_cli("tickets", "--db", url, "--jsonl", "-", "--as-of", "2026-12-01",
                              cwd=tmp_path)
            weekly = run_cli("report", "weekly", "--db", url, "--week", "2026-W48", "--json", "-",
                             cwd=tmp_path)
            assert tickets.returncode == weekly.returncode == 0
            views[label] = (tickets.stdout, weekly.stdout)
        assert views["sqlite"] == views["postgresql"]
        assert b'"risk_accepted"' in views["postgresql"][0] and b'"false_positive"' in views["postgresql"][0]
        again = run_cli("export", "again.jsonl.gz", "--db", pg, cwd=tmp_path)
        assert again.returncode == 0
        assert (tmp_path / "again.jsonl.gz").read_bytes() == (tmp_path / "history.jsonl.gz").read_bytes()
        # new scans and decisions after the move get new ids
        assert run_cli("reopen", keys[1], "--reason", "real", "--db", pg, cwd=tmp_path).returncode == 0
        twice = run_cli("import", "history.jsonl.gz", "--db", pg, cwd=tmp_path)
        assert twice.returncode == 1 and b"already holds scans" in twice.stderr
    finally:
        _drop_pg_database(name)


def test_import_is_all_or_nothing(tmp_path, sample_store):
    copy_store(sample_store, tmp_path / "a.db")             # `vulnpipe ingest` of the sample
    assert run_cli("export", "h.jsonl", "--db", "a.db", cwd=tmp_path).returncode == 0
    lines = (tmp_path / "h.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "cut.jsonl").write_bytes(b"".join(lines[: len(lines) // 2]))
    cut = run_cli("import", "cut.jsonl", "--db", "b.db", cwd=tmp_path)
    assert cut.returncode == 1 and b"cut short" in cut.stderr and len(cut.stderr.splitlines()) == 1
    assert not (tmp_path / "b.db").exists()
    (tmp_path / "junk.jsonl").write_text("hello\n")
    junk = run_cli("import", "junk.jsonl", "--db", "b.db", cwd=tmp_path)
    assert junk.returncode == 1 and b"junk.jsonl:1: not a line of a history file" in junk.stderr
    ok = run_cli("import", "h.jsonl", "--db", "b.db", cwd=tmp_path)
    assert ok.returncode == 0
    assert run_cli("export", "h2.jsonl", "--db", "b.db", cwd=tmp_path).returncode == 0
    assert (tmp_path / "h2.jsonl").read_bytes() == (tmp_path / "h.jsonl").read_bytes()


# -- acceptance: the cron/CI and PostgreSQL how-tos, followed literally ------------------------

HOWTO = ROOT / "docs" / "howto"


def _blocks(page: Path, lang: str) -> list[str]:
    """The fenced ``lang`` blocks of a page, in order."""
    import re

    return re.findall(rf"^```{lang}\n(.*?)^```", page.read_text("utf-8"), re.S | re.M)


def _replaced(text: str, table: dict[str, str]) -> str:
    for old, new in table.items():
        text = text.replace(old, new)
    return text


def _shell(lines: list[str], cwd: Path, env: dict[str, str]) -> list[tuple[str, int, str]]:
    """Run documented shell lines in one bash session: (line, exit status, output) for each
    line run in the foreground (``&`` lines run in the background until ``wait``)."""
    import shlex

    script = []
    for line in lines:
        command = line.split("  #")[0].strip()
        if not command:
            continue
        if command.endswith("&") or command == "wait":
            script.append(command)
            continue
        script.append(f"echo @@@ {shlex.quote(command)}; {{ {command} ; }} 2>&1; echo @@@ $?")
    bin_dir = str(Path(sys.executable).parent)
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COLUMNS": "80", **env}
    for name in ("VULNPIPE_DB", "VULNPIPE_CONFIG"):
        if name not in env:
            full_env.pop(name, None)
    out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=full_env,
                         capture_output=True, timeout=900).stdout.decode()
    results = []
    for chunk in out.split("@@@ ")[1:]:
        head, _, rest = chunk.partition("\n")
        if head.strip().isdigit() and results:
            line, _code, text = results[-1]
            results[-1] = (line, int(head), text)
        else:
            results.append((head, -1, rest))
    return results


def _comments(page: Path, command: str) -> list[str]:
    """The ``# ...`` comments beside ``command`` in a page's shell blocks, in order."""
    return [line.split("  #", 1)[1].strip() for block in _blocks(page, "sh")
            for line in block.splitlines() if line.startswith(command + " ") and "  #" in line]


@pytest.mark.slow
def test_the_postgresql_howto_works_as_written(tmp_path):
    """docs/howto/postgresql.md: its SQL, its ~/.pgpass and VULNPIPE_DB lines, the schema
    steps with the output it shows, parallel ingest workers and the checks, run as written
    (names of the server, role and database replaced by the test server's)."""
    import uuid

    import psycopg

    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it): PostgreSQL tests skipped")
    page = HOWTO / "postgresql.md"
    tag = uuid.uuid4().hex[:8]
    role, database = f"vp_role_{tag}", f"vp_db_{tag}"
    server = PG_URL.replace("postgresql+psycopg://", "postgresql://").split("@", 1)[1].split("/")[0]
    names = {"postgresql://vulnpipe@db.example:5432/vulnpipe": f"postgresql://{role}@{server}/{database}",
             "db.example:5432:vulnpipe:vulnpipe:": f"{server}:{database}:{role}:",
             "CREATE ROLE vulnpipe": f"CREATE ROLE {role}", "DATABASE vulnpipe OWNER vulnpipe":
             f"DATABASE {database} OWNER {role}", "/srv/": f"{tmp_path}/srv/"}
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    (sql,) = _blocks(page, "sql")
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in filter(str.strip, _replaced(sql, names).split(";")):
            conn.execute(statement)
    try:
        for i, site in enumerate(("site-a", "site-b", "rescans")):
            folder = tmp_path / "srv" / "nessus" / site
            folder.mkdir(parents=True)
            for scan in sorted(SCANS.iterdir())[i::3]:
                (folder / scan.name).write_bytes(scan.read_bytes())
        lines = [line for block in _blocks(page, "sh") for line in block.splitlines()]
        results = _shell([_replaced(line, names) for line in lines], tmp_path,
                         {"HOME": str(tmp_path)})
        outputs = {line: (code, text) for line, code, text in results}
        status = [r for r in results if r[0] == "vulnpipe db status"]
        assert [code for _line, code, _text in status] == [1, 0]    # empty, then current
        for line, code, text in results:
            assert code == 0 or (line, code, text) == status[0], (line, text)
        shown = _comments(page, "vulnpipe db status")
        for (_line, _code, text), said in zip(status, shown, strict=True):
            assert said.split(": ", 1)[1] in text
        from vulnpipe.ingest.store.engine import HEAD

        assert f"schema empty -> {HEAD}" in outputs["vulnpipe db upgrade"][1]
        assert _comments(page, "vulnpipe db upgrade")[0].endswith(f"schema empty -> {HEAD}")
        assert (tmp_path / "out" / "tickets.xlsx").exists()
        scans = outputs["vulnpipe scans"][1]
        assert sum(scan.name in scans for scan in SCANS.iterdir()) == 9
        assert role in outputs["vulnpipe config check"][1] and "choose-one" not in outputs["vulnpipe config check"][1]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.slow
def test_the_cron_ci_howto_works_as_written(tmp_path, db_url):
    """docs/howto/cron-ci.md: its config file (the optional [jira]/[mail] deliveries left
    out), `config check`, the cron line week after week, the CI job's command with its
    VULNPIPE_DB secret (set, and missing), and the jq step, run as written; the summary has
    exactly the documented shape."""
    import re

    import openpyxl

    page = HOWTO / "cron-ci.md"
    text = page.read_text("utf-8")
    places = {"/etc/vulnpipe/": f"{tmp_path}/etc/vulnpipe/", "/srv/": f"{tmp_path}/srv/",
              "/var/log/": f"{tmp_path}/var/log/",
              "postgresql://vulnpipe@db.example:5432/vulnpipe": db_url,
              ".venv/bin/vulnpipe": str(Path(sys.executable).parent / "vulnpipe")}
    (toml,) = _blocks(page, "toml")
    config = _replaced(toml.split("\n[jira]")[0], places)       # deliveries: optional, off
    etc = tmp_path / "etc" / "vulnpipe"
    etc.mkdir(parents=True)
    (etc / "vulnpipe.toml").write_text(config)
    inventory = openpyxl.load_workbook(ROOT / "sample_data" / "inventory.xlsx")
    inventory.active.title = "Servers"
    (tmp_path / "srv" / "cmdb").mkdir(parents=True)
    inventory.save(tmp_path / "srv" / "cmdb" / "assets.xlsx")
    for folder in ("srv/vulnpipe", "srv/nessus/exports", "var/log"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)

    (check,) = re.findall(r"`(vulnpipe config check --config [^`]+)`", text)
    [(_line, code, output)] = _shell([_replaced(check, places)], tmp_path, {})
    assert code == 1 and "[tickets] knowledge_dirs[0]" in output      # the folder must exist
    (etc / "knowledge").mkdir()
    [(_line, code, output)] = _shell([_replaced(check, places)], tmp_path, {})
    assert code == 0 and "configuration OK" in output and "assets.xlsx: 233 assets" in output

    (cron,) = _blocks(page, "cron")
    job = _replaced(cron.splitlines()[-1].split(None, 5)[5], places)
    exports = tmp_path / "srv" / "nessus" / "exports"
    summary_path = tmp_path / "srv" / "vulnpipe" / "out" / "run.json"
    weeks = []
    for batch in ("2026-W4[4-7]*", "2026-W48*", "2026-W48*"):
        for scan in SCANS.glob(batch):
            (exports / scan.name).write_bytes(scan.read_bytes())
        [(_line, code, _out)] = _shell([job], tmp_path, {})
        assert code == 0, (tmp_path / "var" / "log" / "vulnpipe.log").read_text()[-2000:]
        weeks.append(json.loads(summary_path.read_text()))
    assert [w["report"]["week"] for w in weeks] == ["2026-W47", "2026-W48", "2026-W48"]
    assert [w["new_scans"] for w in weeks] == [5, 4, 0] and weeks[2]["notes"]
    documented = json.loads(_blocks(page, "json")[0])
    summary = weeks[1]
    assert summary.keys() == documented.keys()
    assert summary["scans"].keys() == documented["scans"].keys()
    assert summary["report"].keys() == documented["report"].keys()
    assert {"as_of", "total"} <= summary["tickets"].keys() and summary["delivery"] == {}
    assert summary["ok"] is True and summary["error"] is None
    assert (tmp_path / "srv" / "vulnpipe" / "out" / "weekly-2026-W48.html").exists()

    (workflow,) = _blocks(page, "yaml")
    (ci_command,) = re.findall(r"run: (vulnpipe run .*)", workflow)
    ci = tmp_path / "ci"
    (ci / "exports").mkdir(parents=True)
    (ci / "vulnpipe.toml").write_text(config.replace(f'url = "{db_url}"', 'url = "laptop.db"'))
    (ci / "knowledge").mkdir()
    for scan in SCANS.iterdir():
        (ci / "exports" / scan.name).write_bytes(scan.read_bytes())
    [(_line, code, output)] = _shell([ci_command], ci, {"VULNPIPE_DB": db_url})
    assert code == 0, output
    assert json.loads((ci / "out" / "run.json").read_text())["new_scans"] == 0  # the team's store
    assert not (ci / "laptop.db").exists()
    [(_line, code, output)] = _shell([ci_command], ci, {"VULNPIPE_DB": ""})  # a missing secret
    assert code == 1 and "VULNPIPE_DB is set but empty" in output
    assert json.loads((ci / "out" / "run.json").read_text())["ok"] is False
    _shell([ci_command], ci, {"VULNPIPE_DB": db_url})
    (jq_step,) = _blocks(page, "sh")[1].splitlines()
    [(_line, code, output)] = _shell([jq_step], ci, {})
    overdue = json.loads((ci / "out" / "run.json").read_text())["report"]["overdue"]
    assert code == (0 if overdue == 0 else 1), output
