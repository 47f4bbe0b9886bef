"""``vulnpipe reconcile``: prove which fixes are real, from files or from the history store."""
from __future__ import annotations

from enum import Enum
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
    parse_when,
    pick_db,
    pick_profile,
)
from vulnpipe.ingest.errors import InputError


class ReconcileFormat(str, Enum):
    json = "json"
    xlsx = "xlsx"
    csv = "csv"


def reconcile(
    baseline: Optional[List[Path]] = typer.Option(
        None, "--baseline", help="Baseline scan file(s) (stateless mode; repeatable)."),
    rescan: Optional[List[Path]] = typer.Option(
        None, "--rescan", help="Rescan file(s) (stateless mode; repeatable)."),
    db: Optional[str] = DbOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    fmt: Optional[ReconcileFormat] = typer.Option(
        None, "--format", "-f",
        help="Output format (stateless mode; default: from the --out name, else json)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="PATH",
                                      help="Output file (- for standard output)."),
    targets_out: Optional[Path] = typer.Option(
        None, "--targets-out", help="Write the addresses that still need a covering rescan "
                                    "(not_rescanned, not_covered, still_open), one per line."),
    as_of: Optional[str] = AsOfOpt,
) -> None:
    """Compare findings with rescans: still_open, fixed (only when a rescan covered the
    finding and it is gone), not_rescanned, not_covered (with the reason), new.

    With --baseline/--rescan it works on files alone. Without them it updates the tickets
    in the history database from every scan ingested and prints what changed.


    Example: vulnpipe reconcile --baseline w48.nessus --rescan r.nessus --format xlsx --out r.xlsx
    """
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    if baseline or rescan:
        if not (baseline and rescan):
            raise InputError("stateless reconcile needs both --baseline and --rescan",
                             hint="or give neither to reconcile the history database")
        form = workflows.output_format(out or "-", fmt and fmt.value,
                                       [f.value for f in ReconcileFormat])
        if form == "xlsx" and (out or "-") == "-":
            raise InputError("--format xlsx needs a file: give --out PATH")
        if inv is None:
            inv = workflows.stored_inventory(pick_db(db, cfg))
            if inv is not None:
                console.info(f"inventory {inv.source}: as stored in the database by the last "
                             "ticket build (--inventory gives another)")
        result = workflows.reconcile_scans(baseline, rescan, prof, inventory=inv)
        result.write(form, out or "-")
        if targets_out:
            workflows.write_lines(result.targets(), targets_out)
        console.info("reconciled: " + ", ".join(f"{n} {s}" for s, n in result.summary.items()))
        return
    if out is not None or fmt is not None:
        raise InputError("--out and --format apply to stateless reconcile (--baseline/--rescan)",
                         hint="with the database, export with `vulnpipe tickets` or use --targets-out")
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    try:
        done = workflows.reconcile_store(engine, prof, inventory=inv,
                                         settings=workflows.ticket_settings(cfg),
                                         as_of=parse_when(as_of, what="--as-of"))
    finally:
        engine.dispose()
    for c in done.changes:
        console.out(f"{c.key}  {c.host}: {c.before or 'new'} -> {c.after}")
    console.info(f"{len(done.changes)} ticket(s) changed; now "
                 f"{workflows.states_text(done.states())}")
    if targets_out:
        workflows.write_lines(done.targets(), targets_out)
