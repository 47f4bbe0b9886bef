"""``vulnpipe parse``: findings of a profile from .nessus exports, as JSONL/CSV/XLSX/Parquet."""
from __future__ import annotations

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
    StrictOpt,
    load_config,
    notify,
    pick_profile,
    pick_strict,
)


class Format(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"
    parquet = "parquet"


def parse(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    fmt: Optional[Format] = typer.Option(None, "--format", "-f", help="Output format "
                                         "(default: from the --out name, else jsonl)."),
    out: str = typer.Option("-", "--out", "-o", metavar="PATH",
                            help="Output file, or - for standard output."),
    config: Optional[Path] = ConfigOpt,
    strict: Optional[bool] = StrictOpt,
) -> None:
    """Read exports and write one record per selected finding.


    Example: vulnpipe parse scans/ --profile l2tp --format csv --out l2tp.csv
    """
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    with console.progress() as bar:
        done = workflows.write_findings(inputs, out, profile=prof, fmt=fmt and fmt.value,
                                        strict=pick_strict(strict, cfg), notify=notify,
                                        progress=bar)
    for exc in done.errors:
        console.error(str(exc))
    if done.note:
        console.advice(done.note)
    console.info(f"{done.count} finding(s) from {len(done.files)} file(s), profile '{prof.name}'"
                 + (f", {len(done.errors)} file(s) refused" if done.errors else ""))
    if done.errors:
        raise typer.Exit(1)
