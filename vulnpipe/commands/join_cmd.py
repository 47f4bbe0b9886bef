"""``vulnpipe join``: selected findings with their asset, owner, priority and due date."""
from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    ConfigOpt,
    PluginOpt,
    ProfileOpt,
    ProfilesFileOpt,
    SheetOpt,
    load_config,
    pick_profile,
)
from vulnpipe.ingest.errors import InputError

MAX_ISSUE_LINES = 20


class JoinFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"


def join(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    inventory: Optional[Path] = typer.Option(
        None, "--inventory", "-i", help="Asset inventory (CSV or XLSX). Default: [inventory] "
                                        "path in vulnpipe.toml."),
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    default_owner: Optional[str] = typer.Option(
        None, "--default-owner", metavar="NAME", help="Owner of unmatched hosts (overrides [owners])."),
    fmt: Optional[JoinFormat] = typer.Option(None, "--format", "-f", help="Output format "
                                             "(default: from the --out name, else jsonl)."),
    out: str = typer.Option("-", "--out", "-o", metavar="PATH",
                            help="Output file, or - for standard output."),
) -> None:
    """Match each scanned host to the asset inventory (IP, FQDN, host name, MAC, then the
    narrowest CIDR range) and write the selected findings with asset id, owner, team,
    criticality, match method, priority (P1-P4) and due date.


    Example: vulnpipe join scans/ --inventory assets.xlsx --format xlsx --out joined.xlsx
    """
    cfg = load_config(config)
    inv = workflows.load_inventory_for(cfg, inventory, sheet)
    if inv is None:
        raise InputError("no inventory given",
                         hint="use --inventory FILE, or set path under [inventory] in "
                              "vulnpipe.toml")
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    form = workflows.output_format(out, fmt and fmt.value, workflows.JOINED_FORMATS)
    if form == "xlsx" and out == "-":
        raise InputError("--format xlsx needs a file: give --out PATH")
    settings = workflows.ticket_settings(cfg)
    if default_owner is not None:
        settings = replace(settings, default_owner=default_owner)
    with console.progress() as bar:
        joined = workflows.join_scans(inputs, inv, profile=prof, settings=settings, progress=bar)
    count = workflows.write_joined(joined, out, form)

    for exc in joined.errors:
        console.error(str(exc))
    if joined.note:
        console.advice(joined.note)
    console.info(_summary(count, len(joined.files), prof.name, joined.match_counts(),
                          settings.default_owner, len(inv.assets), inv.source, len(inv.issues)))
    for issue in inv.issues[:MAX_ISSUE_LINES]:
        console.note(f"inventory {inv.source} {issue.line()}")
    if len(inv.issues) > MAX_ISSUE_LINES:
        console.note(f"inventory {inv.source}: {len(inv.issues) - MAX_ISSUE_LINES} more "
                     "data-quality issue(s) not shown")
    if joined.errors:
        raise typer.Exit(1)


def _summary(count: int, files: int, profile: str, s: dict[str, int], owner: str | None,
             assets: int, inventory: str, issues: int) -> str:
    methods = ", ".join(f"{m} {s[m]}" for m in ("ip", "fqdn", "hostname", "mac", "cidr"))
    who = f"default owner {owner!r}" if owner else "no default owner: set [owners] default_owner"
    return (f"{count} finding(s) from {files} file(s), profile '{profile}', on {s['hosts']} "
            f"host(s): {s['matched']} matched ({methods}), {s['ambiguous']} ambiguous, "
            f"{s['unmatched']} unmatched; {s['unowned']} unowned ({who}); inventory "
            f"{inventory}: {assets} asset(s), {issues} data-quality issue(s)")
