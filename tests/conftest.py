from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

# Property tests: no timing deadlines (a loaded 2-core CI machine is slow), and on CI the
# same examples every run, so a submission is judged on its code, not on a lucky draw; new
# examples are explored locally and by `make fuzz`.
settings.register_profile("dev", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True,
                          print_blob=True)
# `make mutate` runs the property tests once per mutant: the same few examples every time.
settings.register_profile("mutate", parent=settings.get_profile("ci"), max_examples=20)
settings.load_profile("mutate" if os.environ.get("VULNPIPE_MUTATE") else
                      "ci" if os.environ.get("CI") else "dev")


def _shared() -> Path | None:
    for candidate in (os.environ.get("VULNPIPE_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "corpus" / "INDEX.json").exists():
            return Path(candidate)
    return None


SHARED = _shared()


@pytest.fixture(scope="session")
def shared() -> Path:
    if SHARED is None:
        pytest.skip("../shared (corpus and generator) not found; set VULNPIPE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def corpus_index(shared) -> list[dict]:
    return json.loads((shared / "corpus" / "INDEX.json").read_text())


class _Captured(__import__("io").BytesIO):
    """Captured output that stays readable when the program closes its stream."""

    def close(self) -> None:
        self.flush()


_COMMANDS: dict[int, object] = {}


def _click_command(app, build):
    """The click command Typer builds for ``app``, built once per session."""
    if id(app) not in _COMMANDS:
        _COMMANDS[id(app)] = (app, build(app))
    return _COMMANDS[id(app)][1]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the ``vulnpipe`` program in this process, as the installed ``vulnpipe ARGS`` would:
    the same ``main()`` (exit codes, one-line errors), with its own argv (help texts name the
    program ``vulnpipe``, however pytest was started), working folder, environment, stdin,
    and captured stdout/stderr bytes. ``VULNPIPE_DB`` is unset unless ``env`` sets it. Tests
    of what only a real process shows (signals, memory, concurrent writers) start
    ``python -m vulnpipe`` themselves (:func:`run_cli_process`)."""
    import io
    import signal

    import typer.main

    from vulnpipe import cli

    changes = {"COLUMNS": "80", **(env or {})}
    saved_env = {k: os.environ.get(k) for k in [*changes, "VULNPIPE_DB"]}
    if "VULNPIPE_DB" not in changes:
        os.environ.pop("VULNPIPE_DB", None)
    os.environ.update({k: str(v) for k, v in changes.items()})
    out, err = _Captured(), _Captured()
    streams = (sys.stdin, sys.stdout, sys.stderr, sys.argv)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    here = os.getcwd()
    # click names the program after argv[0] unless __main__ is a package's (`python -m
    # pytest` would make it "python -m pytest.vulnpipe")
    main_module = sys.modules["__main__"]
    main_package = getattr(main_module, "__package__", None)
    main_module.__package__ = None
    # Typer turns the app into a click command on every call (about 20 ms); a process does
    # that once, and so does this one
    build = typer.main.get_command
    typer.main.get_command = lambda app: _click_command(app, build)
    sys.stdin = io.TextIOWrapper(io.BytesIO(input or b""), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    sys.argv = ["vulnpipe", *map(str, args)]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(here)
        main_module.__package__ = main_package
        typer.main.get_command = build
        sys.stdin, sys.stdout, sys.stderr, sys.argv = streams
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(["vulnpipe", *map(str, args)], code, out.getvalue(),
                                       err.getvalue())


def run_cli_process(*args: str, cwd: Path | None = None, env: dict | None = None,
                    input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the real ``vulnpipe`` program in a process of its own (a user's view)."""
    full_env = {**os.environ, **(env or {})}
    if env is None or "VULNPIPE_DB" not in env:
        full_env.pop("VULNPIPE_DB", None)
    return subprocess.run([sys.executable, "-m", "vulnpipe", *map(str, args)], cwd=cwd,
                          env=full_env, input=input, capture_output=True, timeout=600)


_MADE: dict[str, Path] = {}      # without xdist: what made_once made in this session


def made_once(tmp_path_factory, name: str, make) -> Path:
    """The folder ``name``, filled by ``make(folder)`` once per test session and shared by
    every xdist worker: the first worker to ask makes it under a lock, the others wait and
    read it. What it holds is read-only: a test that writes copies it first (a pre-ingested
    store is copied, see :func:`copy_store`). Without xdist it is a plain session folder."""
    import fcntl
    import shutil

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        if name not in _MADE:
            folder = tmp_path_factory.mktemp(name, numbered=False)
            make(folder)
            _MADE[name] = folder
        return _MADE[name]
    root = tmp_path_factory.getbasetemp().parent / "made-once"     # this session's, shared
    root.mkdir(exist_ok=True)
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)      # a failed attempt's leftovers
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


#: coverage's variables that make every Python process a test starts measure itself
_COVERAGE_VARS = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured_env(env: dict | None = None) -> dict:
    """``os.environ`` (updated with ``env``) for a Python process that coverage should leave
    alone under ``make test``: the data generators of ../shared (no vulnpipe code to
    measure), and processes that read their own peak memory (under coverage's tracer they
    would measure the tracer as well, and run several times slower)."""
    return {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in _COVERAGE_VARS}


def generate(shared: Path, script: str, *args) -> None:
    """Run ../shared/bench/SCRIPT (gen_nessus.py, gen_history.py) with ``args``."""
    subprocess.run([sys.executable, str(shared / "bench" / script), *map(str, args)],
                   check=True, env=unmeasured_env())


@pytest.fixture(scope="session")
def generated(tmp_path_factory, shared):
    """A generated export (~300 hosts) and its ground truth, made once per session."""
    def make(d: Path) -> None:
        generate(shared, "gen_nessus.py", "--hosts", "300", "--seed", "7", "--l2tp-fraction",
                 "0.1", "--related-fraction", "0.08", "--out", d / "gen.nessus", "--truth",
                 d / "gen.truth.json")

    d = made_once(tmp_path_factory, "gen", make)
    return d / "gen.nessus", json.loads((d / "gen.truth.json").read_text())


PG_URL = os.environ.get("VULNPIPE_TEST_PG_URL")


def _new_pg_database(name: str) -> str:
    """Create a fresh PostgreSQL database next to VULNPIPE_TEST_PG_URL; return its URL."""
    import psycopg

    base = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(name: str) -> None:
    import psycopg

    base = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty store: a SQLite file, and a new database on the real PostgreSQL server
    at VULNPIPE_TEST_PG_URL (skipped only when that variable is unset; CI sets it)."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    if not PG_URL:
        pytest.skip("VULNPIPE_TEST_PG_URL is not set (CI sets it): PostgreSQL tests skipped")
    import uuid

    name = f"vp_test_{uuid.uuid4().hex[:12]}"
    url = _new_pg_database(name)
    try:
        yield url
    finally:
        _drop_pg_database(name)


def old_database(url: str, revision: str, scans) -> None:
    """Make ``url`` a database at schema ``revision`` holding ``scans`` as that release
    stored them: the scans are ingested into a store of today's schema, then their rows are
    copied into the old tables (only the columns those have)."""
    import tempfile

    from sqlalchemy import MetaData, insert, inspect, select

    from vulnpipe.ingest.nessus.sources import expand_inputs
    from vulnpipe.ingest.profiles import resolve_profile
    from vulnpipe.ingest.store import ingest_source, make_engine, open_store, upgrade

    old = make_engine(url)
    upgrade(old, revision)
    with tempfile.TemporaryDirectory() as tmp:
        new = open_store(str(Path(tmp) / "today.db"))
        for source in expand_inputs(scans):
            assert ingest_source(new, source, resolve_profile("l2tp")).status == "stored"
        today = MetaData()
        today.reflect(new)
        with new.connect() as src, old.begin() as dst:
            for name in ("scans", "scan_coverage", "hosts", "findings"):
                cols = {c["name"] for c in inspect(dst).get_columns(name)}
                table = today.tables[name]
                rows = [{k: v for k, v in r.items() if k in cols}
                        for r in src.execute(select(table)).mappings()]
                if rows:
                    dst.execute(insert(_reflect(dst, name)), rows)
        new.dispose()
    old.dispose()


def _reflect(conn, name: str):
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(), autoload_with=conn)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> Path:
    """Every output of ``make demo`` on sample_data/ (written by ``python -m vulnpipe.demo
    --out DIR``), made once per session: what a new user opens first."""
    def make(d: Path) -> None:
        r = subprocess.run([sys.executable, "-m", "vulnpipe.demo", "--out", str(d / "out")],
                           cwd=ROOT, capture_output=True, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")[-3000:]

    return made_once(tmp_path_factory, "sample-run", make) / "out"


SAMPLE_SCANS = ROOT / "sample_data" / "scans"


def ingested_store(tmp_path_factory, *profiles: str) -> Path:
    """Every sample scan ingested by ``vulnpipe ingest sample_data/scans [--profile P]...``
    into a SQLite store, once per session for each list of profiles (none: the default
    ``l2tp``). Read-only: tests take a copy (:func:`copy_store`)."""
    def make(d: Path) -> None:
        options = [x for p in profiles for x in ("--profile", p)]
        r = run_cli("ingest", SAMPLE_SCANS, "--db", "store.db", *options, cwd=d)
        assert r.returncode == 0, r.stderr.decode()
        import sqlite3

        # no write-ahead log: workers that read or copy it at once then never write to it
        # (the store sets WAL again on the copies it opens)
        with sqlite3.connect(d / "store.db") as conn:
            assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        conn.close()

    return made_once(tmp_path_factory, "store-" + ("+".join(profiles) or "default"),
                     make) / "store.db"


def copy_store(source: Path, dest: Path) -> Path:
    """A copy of the SQLite store ``source`` at ``dest`` (through SQLite's backup, so a
    write-ahead log is included); returns ``dest``."""
    import sqlite3

    dest.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return dest


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """``vulnpipe ingest sample_data/scans`` (profile l2tp) in a SQLite store, made once per
    session; copy it (:func:`copy_store`) before using it."""
    return ingested_store(tmp_path_factory)


# -- one headless Chromium for the session --
@pytest.fixture(scope="session")
def chromium_browser(tmp_path_factory):
    """One headless Chromium for the session (tests/chromium.py; started once, each page in
    a window of its own); skipped with a message when no Chromium is found."""
    from tests.chromium import Chromium, chromium_binary

    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VULNPIPE_CHROMIUM): "
                    "the live-DOM checks of the HTML pages were NOT run")
    with Chromium(binary, tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


# -- a process fed through a pipe, stopped when it has read what it was given --

def wait_until_it_waits_for_input(pid: int, timeout: float = 120) -> None:
    """Until process ``pid`` has handled what it was given through a pipe: its main thread
    waits to read more and none of its threads (a PostgreSQL copier too) has used the CPU for
    a few tenths of a second. (Instead of sleeping "long enough" before a kill.)"""
    import time

    def cpu() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])          # utime + stime, every thread

    deadline = time.monotonic() + timeout
    seen: tuple[str, int] = ("", -1)
    quiet = 0
    while time.monotonic() < deadline:
        now = (Path(f"/proc/{pid}/wchan").read_text(), cpu())
        reading = "pipe_read" in now[0] or now[0] == "pipe_wait"     # (as kernels name it)
        quiet = quiet + 1 if now == seen and reading else 0
        if quiet >= 3:
            return
        seen = now
        time.sleep(0.1)
    raise AssertionError(f"process {pid} did not come to wait for input: {seen}")
