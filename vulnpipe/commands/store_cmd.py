"""Store commands: ``vulnpipe ingest``, ``vulnpipe scans``, ``vulnpipe findings``, ``vulnpipe db``."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import (ConfigOpt, DbOpt, PluginOpt, ProfileOpt, ProfilesFileOpt, StrictOpt, pick_db,
                     pick_profile, pick_strict)

db_app = typer.Typer(help="Manage the history database (schema upgrades).", no_args_is_help=True)


def ingest_inputs(engine, inputs, prof, *, strict: bool = False):
    """Ingest every scan named by ``inputs`` (one transaction each), reporting as it goes.

    Returns ``(results, input_errors)``; a bad file never stops the others."""
    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.ingest.nessus.sources import iter_sources
    from vulnpipe.ingest.store import ingest_source
    from vulnpipe.ingest.store.writer import FAILED, SKIPPED

    errors: list[VulnpipeError] = []
    sources = list(iter_sources(inputs, errors))
    for exc in errors:
        console.error(str(exc))
    results = []
    with console.progress() as bar:
        task = bar.add_task("ingesting", total=len(sources))
        for source in sources:
            bar.update(task, description=f"ingesting {source.name}")
            result = ingest_source(engine, source, prof, keep_raw=not prof.select_all,
                                   strict=strict)
            results.append(result)
            if result.status == FAILED:
                console.error(result.detail)
            elif result.status == SKIPPED:
                console.info(f"skipped {source.name}: {result.detail}")
            bar.advance(task)
    return results, errors


def ingest(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    db: Optional[str] = DbOpt,
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    config: Optional[Path] = ConfigOpt,
    strict: Optional[bool] = StrictOpt,
) -> None:
    """Store scans in the history database: every host, and the profile's findings.

    One transaction per file; a file already stored (same SHA-256) is skipped; a bad file is
    refused while the good ones are kept.


    Example: vulnpipe ingest sample_data/scans/ --db vulnpipe.db
    """
    from vulnpipe.ingest.notes import plugin_68453_note
    from vulnpipe.ingest.store import display_url, open_store
    from vulnpipe.ingest.store.writer import FAILED, SKIPPED, STORED

    from vulnpipe.config import load_config

    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    engine = open_store(pick_db(db, cfg))
    results, errors = ingest_inputs(engine, inputs, prof, strict=pick_strict(strict, cfg))
    stored = [r for r in results if r.status == STORED]
    console.info(
        f"{len(stored)} file(s) stored ({sum(r.hosts for r in stored)} hosts, "
        f"{sum(r.findings for r in stored)} findings, profile '{prof.name}'), "
        f"{sum(r.status == SKIPPED for r in results)} skipped, "
        f"{sum(r.status == FAILED for r in results) + len(errors)} refused "
        f"-> {display_url(str(engine.url.render_as_string(hide_password=False)))}")
    note = plugin_68453_note(prof, [(r.file, r.stats) for r in stored if r.stats])
    if note:
        console.note(note)
    if errors or any(r.status == FAILED for r in results):
        raise typer.Exit(1)


class ScanFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


def list_scans(
    db: Optional[str] = DbOpt,
    fmt: ScanFormat = typer.Option(ScanFormat.table, "--format", "-f", help="table or jsonl."),
) -> None:
    """List the scans in the history database, oldest first.


    Example: vulnpipe scans --db vulnpipe.db
    """
    from vulnpipe.ingest.records import iso
    from vulnpipe.ingest.store import open_store
    from vulnpipe.ingest.store.read import list_scans as _list

    engine = open_store(pick_db(db), create=False)
    with engine.connect() as conn:
        rows = _list(conn)
    if fmt is ScanFormat.jsonl:
        for r in rows:
            print(json.dumps({k: iso(v) if hasattr(v, "strftime") else v for k, v in r.items()}))
        return
    if not rows:
        console.info("no scans stored yet: run `vulnpipe ingest SCAN...`")
        return
    header = f"{'id':>4}  {'scan time (UTC)':<17}  {'hosts':>6}  {'findings':>8}  {'profile':<8}  file / policy"
    print(header)
    for r in rows:
        when = r["first_host_start"].strftime("%Y-%m-%d %H:%M") if r["first_host_start"] else "-"
        print(f"{r['id']:>4}  {when:<17}  {r['hosts_count']:>6}  {r['findings_count']:>8}  "
              f"{r['profile']:<8}  {r['file_name']} / {r['policy_name'] or '(no policy)'}")


class FindingsFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"


def stored_findings(
    db: Optional[str] = DbOpt,
    scan: str = typer.Option("all", "--scan", help="A scan id, 'latest', or 'all'."),
    fmt: FindingsFormat = typer.Option(FindingsFormat.table, "--format", "-f"),
    out: str = typer.Option("-", "--out", "-o", help="Output file, or - for standard output."),
) -> None:
    """Read stored findings back (the same record fields as `vulnpipe parse`).


    Example: vulnpipe findings --scan latest --format csv --out latest.csv
    """
    from vulnpipe.ingest.store import open_store
    from vulnpipe.ingest.store.read import iter_finding_records, resolve_scan
    from vulnpipe.reports.writers.findings import make_writer

    engine = open_store(pick_db(db), create=False)
    with engine.connect() as conn:
        scan_id = resolve_scan(conn, scan)
        records = iter_finding_records(conn, scan_id)
        if fmt is FindingsFormat.table:
            print(f"{'host':<28} {'plugin':>7} {'port':>11}  {'role':<8} name")
            for r in records:
                port = f"{r['port']}/{r['protocol']}"
                print(f"{str(r['host'])[:28]:<28} {r['plugin_id']!s:>7} {port:>11}  "
                      f"{r.get('profile_role') or '':<8} {r['plugin_name']}")
            return
        writer = make_writer(fmt.value, out)
        ok = False
        try:
            writer.begin_file()
            for r in records:
                writer.add(r)
            writer.commit_file()
            ok = True
        finally:
            writer.close(ok=ok)
    console.info(f"{writer.count} finding(s)")


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = DbOpt) -> None:
    """Upgrade the database schema to this version of vulnpipe (back it up first).


    Example: vulnpipe db upgrade --db postgresql://vulnpipe@db.example/vulnpipe
    """
    from vulnpipe.ingest.store import display_url, make_engine, upgrade
    from vulnpipe.ingest.store.engine import connect_error, schema_revision
    from vulnpipe.ingest.store.schema import HEAD

    engine = make_engine(pick_db(db))
    url = engine.url.render_as_string(hide_password=False)
    try:
        before = schema_revision(engine)
        upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one clear line
        from vulnpipe.ingest.errors import VulnpipeError
        if isinstance(exc, VulnpipeError):
            raise
        raise connect_error(exc, url) from None
    console.info(f"{display_url(url)}: schema {before or 'empty'} -> {HEAD}")


@db_app.command("status")
def db_status(db: Optional[str] = DbOpt) -> None:
    """Show the database URL and its schema revision.


    Example: vulnpipe db status
    """
    from vulnpipe.ingest.store import display_url, make_engine
    from vulnpipe.ingest.store.engine import connect_error, schema_revision
    from vulnpipe.ingest.store.schema import HEAD

    engine = make_engine(pick_db(db))
    url = engine.url.render_as_string(hide_password=False)
    try:
        current = schema_revision(engine)
    except Exception as exc:  # noqa: BLE001
        raise connect_error(exc, url) from None
    state = "current" if current == HEAD else ("empty" if current is None else f"needs upgrade to {HEAD}")
    print(f"{display_url(url)}: schema {current or '-'} ({state})")
