"""``vulnpipe inspect``: a human summary per scan file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from vulnpipe import console


def inspect(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of text."),
) -> None:
    """Summarise each scan: scanner, policy, hosts, findings by severity, whether the
    policy could detect L2TP (plugin 11387), and the L2TP findings found.


    Example: vulnpipe inspect sample_data/scans/2026-W48-weekly.nessus
    """
    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.ingest.nessus.inspect import render_text, summarize
    from vulnpipe.ingest.nessus.sources import iter_sources

    errors: list[VulnpipeError] = []
    for source in iter_sources(inputs, errors):
        try:
            summary = summarize(source)
        except VulnpipeError as exc:
            errors.append(exc)
            continue
        if as_json:
            print(json.dumps(summary.as_dict(), sort_keys=True))
        else:
            print(render_text(summary))
    for exc in errors:
        console.error(str(exc))
    if errors:
        raise typer.Exit(1)
