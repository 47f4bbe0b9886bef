"""Store commands: ``vulnpipe ingest``, ``vulnpipe scans``, ``vulnpipe findings``, ``vulnpipe db``."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    CampaignsOpt,
    ConfigOpt,
    DbOpt,
    ExcludeOpt,
    PluginOpt,
    ProfilesFileOpt,
    QuarantineOpt,
    StrictOpt,
    load_config,
    notify,
    pick_campaigns,
    pick_db,
    pick_profile,
    pick_strict,
)
from vulnpipe.config import Config
from vulnpipe.ingest.errors import BadValue

db_app = typer.Typer(help="Manage the history database (schema upgrades).", no_args_is_help=True)


def ingest(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    db: Optional[str] = DbOpt,
    profile: Optional[List[str]] = CampaignsOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    config: Optional[Path] = ConfigOpt,
    strict: Optional[bool] = StrictOpt,
    add: Optional[str] = typer.Option(
        None, "--add-campaign", metavar="NAME",
        help="Add this campaign to scans already stored: each file is matched to its stored "
             "scan by SHA-256 (a file that matches none is refused) and read again, and the "
             "campaign's findings are added to that scan, so its tickets have their history "
             "from the first scan."),
    exclude: Optional[List[str]] = ExcludeOpt,
    quarantine: Optional[Path] = QuarantineOpt,
) -> None:
    """Store scans in the history database: every host, and the findings of the profile (or
    of every campaign: --profile repeated, or [profiles] campaigns in vulnpipe.toml).

    One transaction per file; a file already stored (same SHA-256) is skipped; a bad file is
    refused while the good ones are kept.


    Example: vulnpipe ingest sample_data/scans/ --db vulnpipe.db
    """
    cfg = load_config(config)
    if add is not None:
        if exclude or quarantine is not None:
            raise BadValue("--add-campaign reads scans already stored: give no --exclude or "
                           "--quarantine", hint="vulnpipe ingest --add-campaign pptp SCAN...")
        _add_campaign(add, inputs, db, profile, plugin, profiles_file, cfg)
        return
    prof = pick_campaigns(profile, plugin, profiles_file, cfg)
    with console.progress() as bar:
        done = workflows.ingest_scans(pick_db(db, cfg), inputs, prof,
                                      strict=pick_strict(strict, cfg), exclude=exclude or (),
                                      quarantine=quarantine, notify=notify, progress=bar)
    stored = done.by_status("stored")
    console.info(
        f"{len(stored)} file(s) stored ({sum(r.hosts for r in stored)} hosts, "
        f"{sum(r.findings for r in stored)} findings, profile '{prof.name}'), "
        f"{len(done.by_status('skipped'))} skipped, {done.refused} refused"
        f"{f', {len(done.excluded)} left out (--exclude)' if done.excluded else ''} -> "
        f"{done.database or 'no database opened (no input found)'}")
    if done.note:
        console.advice(done.note)
    if done.refused:
        raise typer.Exit(1)


def _add_campaign(name: str, inputs: List[Path], db: Optional[str], profile: Optional[List[str]],
                  plugin: Optional[List[int]], profiles_file: Optional[List[Path]],
                  cfg: Config) -> None:
    """``ingest --add-campaign NAME FILES...``."""
    if profile or plugin:
        raise BadValue("--add-campaign names the campaign to add: give no --profile or --plugin",
                       hint="vulnpipe ingest --add-campaign pptp SCAN...")
    prof = pick_profile(name, None, profiles_file, cfg)
    with console.progress() as bar:
        done = workflows.add_campaign(pick_db(db, cfg), inputs, prof, notify=notify,
                                      progress=bar)
    added = done.by_status("stored")
    console.info(f"campaign '{prof.name}' added to {len(added)} stored scan(s) "
                 f"({sum(r.findings for r in added)} findings), "
                 f"{len(done.by_status('skipped'))} skipped, {done.refused} refused -> "
                 f"{done.database or 'no database opened (no input found)'}")
    if done.refused:
        raise typer.Exit(1)


class ScanFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


def list_scans(
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    fmt: ScanFormat = typer.Option(ScanFormat.table, "--format", "-f", help="table or jsonl."),
) -> None:
    """List the scans in the history database, oldest first.


    Example: vulnpipe scans --db vulnpipe.db
    """
    from vulnpipe.ingest.records import iso

    engine = workflows.open_store(pick_db(db, load_config(config)), create=False)
    try:
        rows = workflows.stored_scans(engine)
    finally:
        engine.dispose()
    if fmt is ScanFormat.jsonl:
        for r in rows:
            print(json.dumps({k: iso(v) if hasattr(v, "strftime") else v for k, v in r.items()}))
        return
    header = (f"{'id':>4}  {'scan time (UTC)':<17}  {'hosts':>6}  {'findings':>8}  "
              f"{'profile':<8}  file / policy")
    console.out(header)
    for r in rows:
        when = r["first_host_start"].strftime("%Y-%m-%d %H:%M") if r["first_host_start"] else "-"
        console.out(f"{r['id']:>4}  {when:<17}  {r['hosts_count']:>6}  {r['findings_count']:>8}  "
              f"{r['profile']:<8}  {r['file_name']} / {r['policy_name'] or '(no policy)'}")


class FindingsFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"


def stored_findings(
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    scan: str = typer.Option("all", "--scan", metavar="ID", help="A scan id, 'latest', or 'all'."),
    fmt: Optional[FindingsFormat] = typer.Option(
        None, "--format", "-f",
        help="Output format (default: from the --out name; table on standard output)."),
    out: str = typer.Option("-", "--out", "-o", metavar="PATH",
                            help="Output file, or - for standard output."),
) -> None:
    """Read stored findings back (the same record fields as `vulnpipe parse`).


    Example: vulnpipe findings --scan latest --format csv --out latest.csv
    """
    if fmt is None and out == "-":
        fmt = FindingsFormat.table
    form = None if fmt is FindingsFormat.table else workflows.output_format(
        out, fmt and fmt.value, [f.value for f in FindingsFormat if f is not FindingsFormat.table])
    engine = workflows.open_store(pick_db(db, load_config(config)), create=False)
    try:
        if form is None:
            console.out(f"{'host':<28} {'plugin':>7} {'port':>11}  {'role':<8} name")
            for r in workflows.stored_findings(engine, scan):
                port = f"{r['port']}/{r['protocol']}"
                console.out(f"{str(r['host'])[:28]:<28} {r['plugin_id']!s:>7} {port:>11}  "
                      f"{r.get('profile_role') or '':<8} {r['plugin_name']}")
            return
        count = workflows.write_stored_findings(engine, scan, out, form)
    finally:
        engine.dispose()
    console.info(f"{count} finding(s)")


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = DbOpt, config: Optional[Path] = ConfigOpt) -> None:
    """Upgrade the database schema to this version of vulnpipe (back it up first).


    Example: vulnpipe db upgrade --db postgresql://vulnpipe@db.example/vulnpipe
    """
    before, after = workflows.upgrade_schema(pick_db(db, load_config(config)))
    console.info(f"{after.database}: schema {before.revision or 'empty'} -> {after.revision}")


@db_app.command("status")
def db_status(db: Optional[str] = DbOpt, config: Optional[Path] = ConfigOpt) -> None:
    """Show the database URL and its schema revision. Exits 1 when the schema is not this
    vulnpipe's (empty, older: run `vulnpipe db upgrade`; newer: upgrade vulnpipe).


    Example: vulnpipe db status
    """
    status = workflows.schema_status(pick_db(db, load_config(config)))
    console.out(f"{status.database}: schema {status.revision or '-'} ({status.state})")
    if not status.current:
        raise typer.Exit(1)
