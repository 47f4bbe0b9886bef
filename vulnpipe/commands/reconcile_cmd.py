"""``vulnpipe reconcile``: prove which fixes are real, from files or from the history store."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import (AsOfOpt, ConfigOpt, DbOpt, InventoryOpt, PluginOpt, ProfileOpt,
                     ProfilesFileOpt, SheetOpt, parse_when, pick_db, pick_profile)


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
    fmt: ReconcileFormat = typer.Option(ReconcileFormat.json, "--format", "-f",
                                        help="Output format (stateless mode)."),
    out: Optional[str] = typer.Option(None, "--out", "-o",
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
    from vulnpipe.ingest.errors import InputError

    from vulnpipe.workflows import load_config, load_inventory_option, ticket_settings

    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = load_inventory_option(cfg, inventory, sheet)
    if baseline or rescan:
        if not (baseline and rescan):
            raise InputError("stateless reconcile needs both --baseline and --rescan",
                             hint="or give neither to reconcile the history database")
        _stateless(baseline, rescan, prof, inv, fmt.value, out or "-", targets_out)
        return
    if out is not None or fmt is not ReconcileFormat.json:
        raise InputError("--out and --format apply to stateless reconcile (--baseline/--rescan)",
                         hint="with the database, export with `vulnpipe tickets` or use --targets-out")
    from vulnpipe.ingest.store import open_store
    from vulnpipe.reports.tickets.build import rebuild_tickets

    engine = open_store(pick_db(db, cfg), create=False)
    built, changes = rebuild_tickets(engine, prof, inventory=inv, settings=ticket_settings(cfg),
                                     as_of=parse_when(as_of))
    engine.dispose()
    for c in changes:
        print(f"{c.key}  {c.host}: {c.before or 'new'} -> {c.after}")
    states = {}
    for t in built.tickets.values():
        states[t.state] = states.get(t.state, 0) + 1
    console.info(f"{len(changes)} ticket(s) changed; now " +
                 ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    if targets_out:
        _targets_from_tickets(built, targets_out)


def _stateless(baseline, rescan, prof, inv, fmt, out, targets_out) -> None:
    from vulnpipe.reports.writers.output import open_output
    from vulnpipe.reports.reconcile import (by_address, inventory_asset_of, load_scans, reconcile,
                                   write_outputs)

    base = load_scans(baseline, prof)
    again = load_scans(rescan, prof)
    asset_of = by_address
    if inv is not None:
        asset_of = inventory_asset_of([h for s in base + again for h in s.hosts], inv)
    result = reconcile(base, again, asset_of)
    if fmt == "xlsx" and out == "-":
        from vulnpipe.ingest.errors import InputError
        raise InputError("--format xlsx needs a file: give --out PATH")
    write_outputs(result, fmt, out)
    if targets_out:
        with open_output(targets_out) as fh:
            fh.write("".join(t + "\n" for t in result.targets()).encode("utf-8"))
    console.info("reconciled: " + ", ".join(f"{n} {s}" for s, n in result.summary.items()))


def _targets_from_tickets(built, path) -> None:
    """Open tickets whose latest check did not prove anything, or that are still reported."""
    from vulnpipe.reports.writers.output import open_output
    from vulnpipe.reports.reconcile import address_order
    from vulnpipe.reports.tickets.model import OPEN_STATES

    targets = sorted({t.address for t in built.tickets.values() if t.state in OPEN_STATES},
                     key=address_order)
    with open_output(path) as fh:
        fh.write("".join(t + "\n" for t in targets).encode("utf-8"))
