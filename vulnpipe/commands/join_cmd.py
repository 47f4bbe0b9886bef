"""``vulnpipe join``: selected findings with their asset, owner, priority and due date."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import PluginOpt, ProfileOpt, ProfilesFileOpt, pick_profile

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
    sheet: Optional[str] = typer.Option(None, "--sheet", help="XLSX sheet (default: the first)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Config file (default: ./vulnpipe.toml when present)."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    default_owner: Optional[str] = typer.Option(
        None, "--default-owner", help="Owner of unmatched hosts (overrides [owners])."),
    fmt: JoinFormat = typer.Option(JoinFormat.jsonl, "--format", "-f", help="Output format."),
    out: str = typer.Option("-", "--out", "-o", help="Output file, or - for standard output."),
) -> None:
    """Match each scanned host to the asset inventory (IP, FQDN, host name, MAC, then the
    narrowest CIDR range) and write the selected findings with asset id, owner, team,
    criticality, match method, priority (P1-P4) and due date.


    Example: vulnpipe join scans/ --inventory assets.xlsx --format xlsx --out joined.xlsx
    """
    import pandas as pd

    from vulnpipe.ingest.errors import InputError, VulnpipeError
    from vulnpipe.ingest.nessus.frames import findings_frame
    from vulnpipe.ingest.assets.inventory import load_inventory
    from vulnpipe.ingest.assets.matching import join_findings, match_summary
    from vulnpipe.ingest.nessus.readers import open_reader
    from vulnpipe.ingest.notes import plugin_68453_note
    from vulnpipe.ingest.nessus.sources import iter_sources
    from vulnpipe.reports.writers.joined import write_joined

    from vulnpipe.config import load_config

    cfg = load_config(config)
    inv_path = inventory or cfg.inventory.path
    if inv_path is None:
        raise InputError("no inventory given",
                         hint="use --inventory FILE, or set path under [inventory] in "
                              "vulnpipe.toml")
    inv = load_inventory(inv_path, sheet=sheet if sheet is not None else cfg.inventory.sheet,
                         columns=cfg.inventory.columns)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    if fmt.value == "xlsx" and out == "-":
        raise InputError("--format xlsx needs a file: give --out PATH")

    errors: list[VulnpipeError] = []
    stats = []
    findings = []
    with console.progress() as bar:
        task = bar.add_task("reading scans", total=None)
        for source in iter_sources(inputs, errors):
            reader = open_reader(source, prof, digest=False)
            kept = []
            try:
                for _host, items in reader.hosts():
                    kept.extend(items)
            except VulnpipeError as exc:
                errors.append(exc)
                continue
            findings.extend(kept)
            stats.append((source.name, reader.stats))
            bar.advance(task)

    frame = findings_frame(findings)
    frame["hostname"] = pd.array([f.host.hostname for f in findings], dtype="string")
    owner = default_owner if default_owner is not None else cfg.owners.default_owner
    joined = join_findings(frame, inv, cfg.priority.rules, owner,
                           default_owner_email=cfg.owners.default_owner_email,
                           fallback=cfg.priority.fallback)
    count = write_joined(joined, fmt.value, out)

    for exc in errors:
        console.error(str(exc))
    message = plugin_68453_note(prof, stats)
    if message:
        console.note(message)
    console.info(_summary(count, len(stats), prof.name, match_summary(joined), owner,
                          len(inv.assets), inv.source, len(inv.issues)))
    for issue in inv.issues[:MAX_ISSUE_LINES]:
        console.note(f"inventory {inv.source} {issue.line()}")
    if len(inv.issues) > MAX_ISSUE_LINES:
        console.note(f"inventory {inv.source}: {len(inv.issues) - MAX_ISSUE_LINES} more "
                     "data-quality issue(s) not shown")
    if errors:
        raise typer.Exit(1)


def _summary(count: int, files: int, profile: str, s: dict[str, int], owner: str | None,
             assets: int, inventory: str, issues: int) -> str:
    methods = ", ".join(f"{m} {s[m]}" for m in ("ip", "fqdn", "hostname", "mac", "cidr"))
    who = f"default owner {owner!r}" if owner else "no default owner: set [owners] default_owner"
    return (f"{count} finding(s) from {files} file(s), profile '{profile}', on {s['hosts']} "
            f"host(s): {s['matched']} matched ({methods}), {s['ambiguous']} ambiguous, "
            f"{s['unmatched']} unmatched; {s['unowned']} unowned ({who}); inventory "
            f"{inventory}: {assets} asset(s), {issues} data-quality issue(s)")
