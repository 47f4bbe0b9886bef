"""``vulnpipe tickets``, ``accept``, ``false-positive``, ``reopen``: per-host remediation tickets."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    AsOfOpt,
    ConfigOpt,
    DbOpt,
    InventoryOpt,
    PluginOpt,
    ProfileOpt,
    ProfilesFileOpt,
    SheetOpt,
    load_config,
    notify,
    parse_days_or_all,
    parse_when,
    pick_db,
    pick_profile,
)
from vulnpipe.ingest.errors import InputError


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
    jsonl: Optional[str] = typer.Option(None, "--jsonl", metavar="PATH",
                                        help="JSONL file (one ticket a line; - for stdout)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Folder for one KEY.md per ticket."),
    knowledge: Optional[List[Path]] = typer.Option(
        None, "--knowledge", help="Folder of extra/overriding remediation TOML files (repeatable)."),
    as_of: Optional[str] = AsOfOpt,
    fixed_within: Optional[str] = typer.Option(
        None, "--fixed-within", metavar="DAYS|all",
        help="Keep fixed tickets in the exports for DAYS days after they became fixed, "
             "counted back from the profile's newest scan, not the clock (default: [tickets] "
             "fixed_within_days, else 30); 'all' exports every ticket ever raised."),
) -> None:
    """Build one ticket per exposed host (grouping the L2TP finding and related VPN
    findings), keyed stably week over week, and export them: every live ticket (open,
    resurfaced, risk-accepted, false positive) and those fixed lately (--fixed-within).


    Example: vulnpipe tickets --inventory assets.csv --xlsx tickets.xlsx --jira-csv jira.csv
    """
    outputs = workflows.TicketOutputs(xlsx=xlsx, jira_csv=jira_csv, jsonl=jsonl, markdown=markdown)
    if not outputs.any():
        raise InputError("nothing to write", hint="give --xlsx, --jira-csv, --jsonl and/or --markdown")
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    settings = workflows.ticket_settings(cfg)
    when = parse_when(as_of, what="--as-of")
    window = workflows.fixed_within_of(parse_days_or_all(fixed_within, "--fixed-within")
                                       if fixed_within is not None
                                       else cfg.tickets.fixed_within_days)
    dirs = [*cfg.tickets.knowledge_dirs, *(knowledge or ())]
    if scan:
        try:
            done = workflows.tickets_from_scans(scan, prof, outputs, inventory=inv,
                                                settings=settings, as_of=when,
                                                knowledge_dirs=dirs, notify=notify,
                                                fixed_within=window)
        except workflows.ScansRefused:
            raise typer.Exit(1) from None
    else:
        engine = workflows.open_store(pick_db(db, cfg), create=False)
        try:
            done = workflows.export_tickets(engine, prof, outputs, inventory=inv,
                                            settings=settings, as_of=when, knowledge_dirs=dirs,
                                            fixed_within=window)
        finally:
            engine.dispose()
    left_out = done.left_out_text()
    console.info(f"{len(done.views)} ticket(s): {done.states_text()}"
                 f"{f' ({left_out}: --fixed-within all exports them)' if left_out else ''}; "
                 f"profile '{prof.name}'; wrote {', '.join(done.written)}")


def _decide(db: Optional[str], config: Optional[Path], key: str, kind: str, reason: str,
            approver: Optional[str], until: Optional[datetime], at: Optional[datetime],
            rating: Optional[str] = None) -> None:
    engine = workflows.open_store(pick_db(db, load_config(config)), create=False)
    try:
        key, _at = workflows.record_decision(engine, key, kind, reason, approver=approver,
                                             until=until, at=at, rating=rating)
    finally:
        engine.dispose()
    console.info(f"{key}: {kind.replace('_', ' ')} recorded; run `vulnpipe tickets` or "
                 "`vulnpipe reconcile` to update exports")


def accept(
    key: str = typer.Argument(..., help="Ticket key, e.g. VP-3F9A1C27B0 (any case)."),
    until: str = typer.Option(..., "--until", metavar="DATE", help="Last day the acceptance "
                              "holds (YYYY-MM-DD): the day it is decided or later."),
    reason: str = typer.Option(..., "--reason", help="Why the risk is accepted."),
    approver: str = typer.Option(..., "--approver", help="Who approved it."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    at: Optional[str] = typer.Option(None, "--at", metavar="DATE",
                                     help="When it was decided (default: now)."),
) -> None:
    """Record a risk acceptance; when it expires the ticket opens again.


    Example: vulnpipe accept VP-3F9A1C27B0 --until 2026-12-31 --reason "cutover" --approver CISO
    """
    _decide(db, config, key, "risk_accepted", reason, approver,
            parse_when(until, end_of_day=True, what="--until"),
            parse_when(at, what="--at"))


def adjust(
    key: str = typer.Argument(..., help="Ticket key, e.g. VP-3F9A1C27B0 (any case)."),
    rating: str = typer.Option(..., "--rating", metavar="LOW|MODERATE|HIGH",
                               help="The adjusted risk rating: its priority and SLA apply from "
                                    "now on (HIGH P2 30 days, MODERATE P3 90, LOW P4 180)."),
    reason: str = typer.Option(..., "--reason", help="Why the risk is rated so (the POA&M's "
                                                     "Risk Adjustment justification)."),
    approver: str = typer.Option(..., "--approver", help="Who approved it."),
    until: Optional[str] = typer.Option(None, "--until", metavar="DATE",
                                        help="Last day the adjustment holds (default: until "
                                             "another adjustment)."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    at: Optional[str] = typer.Option(None, "--at", metavar="DATE",
                                     help="When it was decided (default: now)."),
) -> None:
    """Record a risk adjustment (an adjusted risk rating): the ticket keeps its state, and
    from then on takes the rating's priority and SLA; the POA&M shows it in Adjusted Risk
    Rating and Risk Adjustment.


    Example: vulnpipe adjust VP-3F9A1C27B0 --rating LOW --reason "port closed at the edge" --approver CISO
    """
    _decide(db, config, key, "risk_adjusted", reason, approver,
            parse_when(until, end_of_day=True, what="--until") if until else None,
            parse_when(at, what="--at"), rating=rating)


def false_positive(
    key: str = typer.Argument(..., help="Ticket key."),
    reason: str = typer.Option(..., "--reason", help="Why the finding is not real."),
    approver: Optional[str] = typer.Option(None, "--approver", help="Who confirmed it."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    at: Optional[str] = typer.Option(None, "--at", metavar="DATE",
                                     help="When it was decided (default: now)."),
) -> None:
    """Mark a ticket as a false positive (it stays closed while the scanner keeps reporting it).


    Example: vulnpipe false-positive VP-3F9A1C27B0 --reason "NAT-T test responder"
    """
    _decide(db, config, key, "false_positive", reason, approver, None, parse_when(at, what="--at"))


def reopen(
    key: str = typer.Argument(..., help="Ticket key."),
    reason: str = typer.Option(..., "--reason", help="Why the decision is withdrawn."),
    db: Optional[str] = DbOpt,
    config: Optional[Path] = ConfigOpt,
    at: Optional[str] = typer.Option(None, "--at", metavar="DATE",
                                     help="When it was decided (default: now)."),
) -> None:
    """Withdraw the risk acceptance or false-positive decision in force (refused when
    there is none).


    Example: vulnpipe reopen VP-3F9A1C27B0 --reason "partner cutover done early"
    """
    _decide(db, config, key, "revoked", reason, None, None, parse_when(at, what="--at"))
