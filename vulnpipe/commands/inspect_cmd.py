"""``vulnpipe inspect``: a human summary per scan file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from vulnpipe import console, workflows


def inspect(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of text."),
) -> None:
    """Summarise each scan: scanner, policy, hosts, findings by severity, whether the
    policy could detect L2TP (plugin 11387), and the L2TP findings found.


    Example: vulnpipe inspect sample_data/scans/2026-W48-weekly.nessus
    """
    done = workflows.inspect_scans(inputs)
    for summary in done.summaries:
        print(json.dumps(summary.as_dict(), sort_keys=True) if as_json
              else workflows.inspection_text(summary))
    for exc in done.errors:
        console.error(str(exc))
    if done.errors:
        raise typer.Exit(1)
