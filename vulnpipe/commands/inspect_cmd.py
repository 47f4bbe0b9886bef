"""``vulnpipe inspect``: a human summary per scan file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    ConfigOpt,
    ProfileOpt,
    ProfilesFileOpt,
    load_config,
    pick_profile,
)


def inspect(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of text."),
    profile: Optional[str] = ProfileOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Summarise each scan: scanner, policy, hosts, findings by severity, whether the
    policy could find the profile's campaign (l2tp: plugin 11387 enabled, udp/1701 in the
    port range), and the profile's findings found.


    Example: vulnpipe inspect sample_data/scans/2026-W48-weekly.nessus
    """
    prof = pick_profile(profile, None, profiles_file, load_config(config))
    done = workflows.inspect_scans(inputs, prof)
    for summary in done.summaries:
        if as_json:
            print(json.dumps(summary.as_dict(), sort_keys=True))
        else:
            console.out(workflows.inspection_text(summary))
    for exc in done.errors:
        console.error(str(exc))
    if done.errors:
        raise typer.Exit(1)
