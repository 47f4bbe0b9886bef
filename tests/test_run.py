"""The weekly job in one command, and the configuration it reads."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_cli

SCANS = ROOT / "sample_data" / "scans"
INVENTORY = ROOT / "sample_data" / "inventory.csv"


def _config(tmp_path, extra=""):
    cfg = tmp_path / "vulnpipe.toml"
    cfg.write_text(f'[inventory]\npath = "{INVENTORY}"\n[owners]\ndefault_owner = "SecOps"\n'
                   f'[store]\nurl = "history.db"\n[run]\nout_dir = "weekly"\n{extra}')
    return cfg


def test_run_does_the_weekly_job_and_summarises_it(tmp_path):
    _config(tmp_path)
    r = run_cli("run", SCANS, "--summary-json", "summary.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is True and len(summary["scans"]["stored"]) == 9
    assert summary["tickets"]["total"] == 23 and summary["report"]["week"] == "2026-W48"
    assert (tmp_path / "history.db").exists()
    written = sorted(p.name for p in (tmp_path / "weekly").iterdir())
    assert written == ["tickets", "tickets-jira.csv", "tickets.jsonl", "tickets.xlsx",
                       "weekly-2026-W48.html", "weekly-2026-W48.json", "weekly-2026-W48.md",
                       "weekly-2026-W48.xlsx"]
    # the same scans again: nothing new, nothing changed, still success
    again = run_cli("run", SCANS, "--summary-json", "-", cwd=tmp_path)
    assert again.returncode == 0
    second = json.loads(again.stdout)
    assert len(second["scans"]["skipped"]) == 9 and second["changes"] == []


def test_run_exits_non_zero_when_a_scan_is_refused_but_does_the_rest(tmp_path):
    _config(tmp_path)
    bad = tmp_path / "broken.nessus"
    bad.write_bytes((SCANS / "2026-W48-weekly.nessus").read_bytes()[:5000])
    r = run_cli("run", SCANS / "2026-W48-weekly.nessus", bad, "--summary-json", "-", cwd=tmp_path)
    assert r.returncode == 1
    summary = json.loads(r.stdout)
    assert summary["ok"] is False and summary["scans"]["stored"] == ["2026-W48-weekly.nessus"]
    assert "broken.nessus" in summary["scans"]["refused"][0]
    assert (tmp_path / "weekly" / "tickets.xlsx").exists()


def test_config_check_reports_settings_and_names_unknown_keys(tmp_path):
    _config(tmp_path)
    ok = run_cli("config", "check", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr.decode()
    assert b"233 assets" in ok.stdout
    assert f"sqlite:///{tmp_path / 'history.db'}".encode() in ok.stdout   # next to the config
    assert not (tmp_path / "history.db").exists(), "checking must not create the database"
    _config(tmp_path, "[report]\nweekz = 3\n")
    bad = run_cli("config", "check", cwd=tmp_path)
    assert bad.returncode == 1
    assert b"unknown key 'weekz' in [report]" in bad.stderr and b"Traceback" not in bad.stderr
    _config(tmp_path, "[report]\nweeks = \"twelve\"\n")
    typed = run_cli("config", "check", cwd=tmp_path)
    assert typed.returncode == 1 and b"[report] weeks must be a whole number" in typed.stderr


def test_profiles_defined_in_the_config_are_usable(tmp_path):
    _config(tmp_path, '[profiles]\ndefault = "pptp"\n[profiles.pptp]\nprimary_plugins = [10622]\n')
    def roles(*args):
        r = run_cli("parse", SCANS / "2026-W48-weekly.nessus", *args, "--out", "-", cwd=tmp_path)
        assert r.returncode == 0, r.stderr.decode()
        return {(f["plugin_id"], f["profile_role"]) for f in map(json.loads, r.stdout.decode().splitlines())}

    # --profile on the command line wins over the config's default ...
    assert (11387, "primary") in roles("--profile", "l2tp") and (10622, "related") in roles("--profile", "l2tp")
    # ... which selects the config's own profile otherwise
    assert roles() == {(10622, "primary")}
    r = run_cli("ingest", SCANS / "2026-W48-weekly.nessus", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert b"profile 'pptp'" in r.stderr
    t = run_cli("tickets", "--jsonl", "-", cwd=tmp_path)
    assert t.returncode == 0, t.stderr.decode()
    tickets = [json.loads(line) for line in t.stdout.decode().splitlines()]
    assert len(tickets) == 2 and {f["plugin_id"] for x in tickets for f in x["findings"]} == {10622}


def _ticket_rows(db):
    import sqlite3

    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT key, state, last_seen FROM tickets ORDER BY key").fetchall(),
                conn.execute("SELECT count(*) FROM ticket_events").fetchone()[0])


#: A process that imports vulnpipe once, runs ``vulnpipe reconcile --db DB`` for each DB named
#: on its stdin in a child forked for it (a real process, killed with SIGKILL from outside),
#: prints the child's pid, and reaps it when told (so that pid is never reused before that).
_RECONCILER = r"""
import os, sys
from vulnpipe import cli

def reconcile(db):
    sys.argv = ["vulnpipe", "reconcile", "--db", db]
    try:
        cli.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0

null = os.open(os.devnull, os.O_WRONLY)
out = os.fdopen(os.dup(1), "w")
os.dup2(null, 1)
os.dup2(null, 2)
print("ready", reconcile(sys.argv[1]), file=out, flush=True)   # the whole run, once
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os._exit(reconcile(line.strip()))
    print(pid, file=out, flush=True)
    sys.stdin.readline()                                          # killed: reap it
    print(os.waitpid(pid, 0)[1], file=out, flush=True)
"""


@pytest.mark.slow
def test_sigkill_during_reconcile_leaves_old_or_new_state(tmp_path):
    db = tmp_path / "s.db"
    assert run_cli("ingest", *sorted(SCANS.glob("2026-W4[4-7]-weekly.nessus")), "--db", db).returncode == 0
    assert run_cli("reconcile", "--db", db, "--inventory", INVENTORY).returncode == 0
    assert run_cli("ingest", SCANS / "2026-W48-weekly.nessus", "--db", db).returncode == 0
    old = _ticket_rows(db)
    done = tmp_path / "done.db"
    shutil.copy(db, done)
    # the reconciles run in processes forked from one that has imported vulnpipe and run one
    # reconcile to the end (of `done`), so the kills land in the reconcile's own work (about
    # 0.3 s on an idle machine), not in the interpreter's start
    server = subprocess.Popen([sys.executable, "-c", _RECONCILER, str(done)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().split() == ["ready", "0"]
        new = _ticket_rows(done)
        assert old != new
        killed = 0
        for delay in (0.05, 0.1, 0.2, 0.3, 0.5):
            snapshot = tmp_path / f"copy-{delay}.db"
            shutil.copy(db, snapshot)
            server.stdin.write(f"{snapshot}\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)          # (not reaped yet: still this child's pid)
            server.stdin.write("reap\n")
            server.stdin.flush()
            status = int(server.stdout.readline())
            killed += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            assert _ticket_rows(snapshot) in (old, new)
            assert run_cli("reconcile", "--db", snapshot).returncode == 0
            assert _ticket_rows(snapshot) == new
        assert killed, "no reconcile was killed before it ended"
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def test_parse_strict_in_the_config_applies_to_run_ingest_and_parse(tmp_path):
    """[parse] strict = true: a defect inside an item the profile drops is refused, as with
    --strict; --no-strict on the command line wins over the file."""
    from tests.test_fastpath import DROPPED_DEFECTS

    scan = tmp_path / "dropped-defect.nessus"
    scan.write_bytes(DROPPED_DEFECTS["undeclared entity in a dropped item"])
    _config(tmp_path, "[parse]\nstrict = true\n")
    check = run_cli("config", "check", cwd=tmp_path)
    assert check.returncode == 0 and b"strict: libxml2 checks every byte" in check.stdout
    refused = run_cli("run", scan, "--summary-json", "-", cwd=tmp_path)
    assert refused.returncode == 1
    summary = json.loads(refused.stdout)
    assert summary["scans"]["stored"] == [] and "dropped-defect.nessus" in \
        summary["scans"]["refused"][0] and "bad" in summary["scans"]["refused"][0]
    parsed = run_cli("parse", scan, "--out", tmp_path / "p.jsonl", cwd=tmp_path)
    assert parsed.returncode == 1 and b"Traceback" not in parsed.stderr
    lenient = run_cli("parse", scan, "--no-strict", "--out", tmp_path / "p.jsonl", cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stderr
    stored = run_cli("ingest", scan, "--no-strict", cwd=tmp_path)
    assert stored.returncode == 0 and b"1 file(s) stored" in stored.stderr, stored.stderr
    _config(tmp_path, "[parse]\nstrict = \"yes\"\n")
    typed = run_cli("config", "check", cwd=tmp_path)
    assert typed.returncode == 1 and b"[parse] strict must be true or false" in typed.stderr
