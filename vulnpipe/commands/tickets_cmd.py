"""``vulnpipe tickets``, ``accept``, ``false-positive``, ``reopen``: per-host remediation tickets."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import (AsOfOpt, ConfigOpt, DbOpt, InventoryOpt, PluginOpt, ProfileOpt,
                     ProfilesFileOpt, SheetOpt, parse_when, pick_db, pick_profile)


def build_and_export(engine, prof, *, inventory, settings, as_of, xlsx, jira_csv, jsonl, markdown,
                     knowledge_dirs=()):
    """Rebuild the profile's tickets in the store and write the asked-for exports."""
    from datetime import datetime, timezone

    from vulnpipe.reports.remediation.knowledge import load_knowledge
    from vulnpipe.reports.tickets.build import rebuild_tickets
    from vulnpipe.reports.tickets.export import (write_jira_csv, write_jsonl, write_markdown,
                                        write_xlsx_tickets)
    from vulnpipe.reports.tickets.view import data_quality_rows, ticket_views

    as_of = as_of or datetime.now(timezone.utc)
    built, changes = rebuild_tickets(engine, prof, inventory=inventory, settings=settings,
                                     as_of=as_of)
    views = ticket_views(built, load_knowledge(knowledge_dirs), as_of=as_of)
    written = []
    if jsonl:
        write_jsonl(views, jsonl)
        written.append(str(jsonl))
    if jira_csv:
        write_jira_csv(views, jira_csv)
        written.append(str(jira_csv))
    if xlsx:
        write_xlsx_tickets(views, xlsx, data_quality_rows(built))
        written.append(str(xlsx))
    if markdown:
        write_markdown(views, markdown)
        written.append(f"{markdown}/ ({len(views)} files)")
    return built, views, changes, written


def tickets(
    scan: Optional[List[Path]] = typer.Option(
        None, "--scan", help="Work from these scan files alone, without a database (repeatable)."),
    db: Optional[str] = DbOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="Excel workbook to write."),
    jira_csv: Optional[Path] = typer.Option(None, "--jira-csv", help="Jira CSV import file to write."),
    jsonl: Optional[str] = typer.Option(None, "--jsonl", help="JSONL file (one ticket a line; - for stdout)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Folder for one KEY.md per ticket."),
    knowledge: Optional[List[Path]] = typer.Option(
        None, "--knowledge", help="Folder of extra/overriding remediation TOML files (repeatable)."),
    as_of: Optional[str] = AsOfOpt,
) -> None:
    """Build one ticket per exposed host (grouping the L2TP finding and related VPN
    findings), keyed stably week over week, and export them.


    Example: vulnpipe tickets --inventory assets.csv --xlsx tickets.xlsx --jira-csv jira.csv
    """
    import tempfile

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.store import ingest_source, open_store
    from vulnpipe.ingest.nessus.sources import iter_sources

    from vulnpipe.workflows import load_config, load_inventory_option, ticket_settings

    if not any((xlsx, jira_csv, jsonl, markdown)):
        raise InputError("nothing to write", hint="give --xlsx, --jira-csv, --jsonl and/or --markdown")
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = load_inventory_option(cfg, inventory, sheet)
    when = parse_when(as_of)
    tmp = None
    if scan:
        tmp = tempfile.TemporaryDirectory(prefix="vulnpipe-")
        engine = open_store(str(Path(tmp.name) / "stateless.db"))
        errors: list = []
        for source in iter_sources(scan, errors):
            result = ingest_source(engine, source, prof)
            if result.status == "failed":
                console.error(result.detail)
                errors.append(result)
        for e in errors:
            if not hasattr(e, "status"):
                console.error(str(e))
        if errors:
            raise typer.Exit(1)
    else:
        engine = open_store(pick_db(db, cfg), create=False)
    try:
        built, views, changes, written = build_and_export(
            engine, prof, inventory=inv, settings=ticket_settings(cfg), as_of=when, xlsx=xlsx,
            jira_csv=jira_csv, jsonl=jsonl, markdown=markdown,
            knowledge_dirs=[*cfg.tickets.knowledge_dirs, *(knowledge or ())])
    finally:
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()
    open_count = sum(1 for v in views if v["state"] in ("open", "resurfaced"))
    console.info(f"{len(views)} ticket(s), {open_count} open, profile '{prof.name}'; "
                 f"wrote {', '.join(written)}")


def _decide(db, key: str, kind: str, reason: str, approver: Optional[str], until, at) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.store import open_store
    from vulnpipe.ingest.store.schema import decisions, tickets
    from vulnpipe.ingest.store.read import stored as _naive

    if not reason.strip():
        raise InputError("--reason must not be empty", hint="say why, for the audit trail")
    engine = open_store(pick_db(db), create=False)
    with engine.begin() as conn:
        row = conn.execute(select(tickets.c.key, tickets.c.state).where(tickets.c.key == key)).first()
        if row is None:
            raise InputError(f"no ticket {key}", hint="see `vulnpipe tickets --jsonl -` for keys")
        when = at or datetime.now(timezone.utc)
        conn.execute(insert(decisions).values(ticket_key=key, kind=kind, at=_naive(when),
                                              reason=reason.strip(), approver=approver,
                                              until=_naive(until)))
    engine.dispose()
    console.info(f"{key}: {kind.replace('_', ' ')} recorded; run `vulnpipe tickets` or "
                 "`vulnpipe reconcile` to update exports")


def accept(
    key: str = typer.Argument(..., help="Ticket key, e.g. VP-3F9A1C27B0."),
    until: str = typer.Option(..., "--until", help="Last day the acceptance holds (YYYY-MM-DD)."),
    reason: str = typer.Option(..., "--reason", help="Why the risk is accepted."),
    approver: str = typer.Option(..., "--approver", help="Who approved it."),
    db: Optional[str] = DbOpt,
    at: Optional[str] = typer.Option(None, "--at", help="When it was decided (default: now)."),
) -> None:
    """Record a risk acceptance; when it expires the ticket opens again.


    Example: vulnpipe accept VP-3F9A1C27B0 --until 2026-12-31 --reason "cutover" --approver CISO
    """
    _decide(db, key, "risk_accepted", reason, approver, parse_when(until, end_of_day=True, what="--until"),
            parse_when(at, what="--at"))


def false_positive(
    key: str = typer.Argument(..., help="Ticket key."),
    reason: str = typer.Option(..., "--reason", help="Why the finding is not real."),
    approver: Optional[str] = typer.Option(None, "--approver", help="Who confirmed it."),
    db: Optional[str] = DbOpt,
    at: Optional[str] = typer.Option(None, "--at", help="When it was decided (default: now)."),
) -> None:
    """Mark a ticket as a false positive (it stays closed while the scanner keeps reporting it).


    Example: vulnpipe false-positive VP-3F9A1C27B0 --reason "NAT-T test responder"
    """
    _decide(db, key, "false_positive", reason, approver, None, parse_when(at, what="--at"))


def reopen(
    key: str = typer.Argument(..., help="Ticket key."),
    reason: str = typer.Option(..., "--reason", help="Why the decision is withdrawn."),
    db: Optional[str] = DbOpt,
    at: Optional[str] = typer.Option(None, "--at", help="When it was decided (default: now)."),
) -> None:
    """Withdraw a risk acceptance or false-positive decision.


    Example: vulnpipe reopen VP-3F9A1C27B0 --reason "partner cutover done early"
    """
    _decide(db, key, "revoked", reason, None, None, parse_when(at, what="--at"))
