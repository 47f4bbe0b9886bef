"""``vulnpipe jira sync``: one Jira issue per ticket, kept true week after week."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, delivery, workflows
from vulnpipe.commands.common import (
    AsOfOpt,
    ConfigOpt,
    DbOpt,
    InventoryOpt,
    ProfileOpt,
    ProfilesFileOpt,
    SheetOpt,
    load_config,
    notify,
    parse_when,
    pick_db,
    pick_profile,
)
from vulnpipe.ingest.errors import InputError

jira_app = typer.Typer(help="Jira issues kept in sync with the tickets (REST API).",
                       no_args_is_help=True)


@jira_app.command("sync")
def sync(
    plan: bool = typer.Option(False, "--plan",
                              help="Print what would be done (create, update, transition, "
                                   "comment per ticket key) and change nothing."),
    offline: bool = typer.Option(False, "--offline",
                                 help="With --plan: do not contact Jira; plan as if no issue "
                                      "existed yet (a preview of the first sync)."),
    config: Optional[Path] = ConfigOpt,
    db: Optional[str] = DbOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    profile: Optional[str] = ProfileOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    knowledge: Optional[List[Path]] = typer.Option(
        None, "--knowledge", help="Folder of extra/overriding remediation TOML files (repeatable)."),
    as_of: Optional[str] = AsOfOpt,
) -> None:
    """Keep one Jira issue per ticket: create the missing ones, update summary, description,
    priority, due date, assignee and labels, move fixed tickets to the done status with a
    comment quoting the covering rescan, reopen resurfaced ones, comment on risk acceptance
    and false positive. Settings come from [jira] in vulnpipe.toml; the token from the
    environment variable [jira] token_env (default VULNPIPE_JIRA_TOKEN) or [jira] token_file.
    A second run right after the first does nothing. Exits 1 when any issue failed.


    Example: vulnpipe jira sync --plan; vulnpipe jira sync
    """
    if offline and not plan:
        raise InputError("--offline plans without Jira and changes nothing: give it with --plan")
    cfg = load_config(config)
    prof = pick_profile(profile, None, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet)
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    try:
        # every ticket, however long ago it was fixed: an issue left open while syncs were
        # paused must still learn of its fix ([tickets] fixed_within_days is for the files)
        done = workflows.export_tickets(engine, prof, workflows.TicketOutputs(), inventory=inv,
                                        settings=workflows.ticket_settings(cfg),
                                        as_of=parse_when(as_of),
                                        knowledge_dirs=[*cfg.tickets.knowledge_dirs, *(knowledge or ())],
                                        fixed_within=None)
    finally:
        engine.dispose()
    result = delivery.sync_jira(cfg, done.views, apply=not plan, offline=offline,
                                line=lambda text: print(console.safe(text), flush=True), notify=notify)
    console.info(("plan: " if plan else "") + result.summary())
    if not result.ok:
        raise typer.Exit(1)
