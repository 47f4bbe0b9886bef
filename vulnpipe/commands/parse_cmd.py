"""``vulnpipe parse``: findings of a profile from .nessus exports, as JSONL/CSV/XLSX/Parquet."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .. import console
from ..cli import app
from .common import ConfigOpt, PluginOpt, ProfileOpt, ProfilesFileOpt, StrictOpt, pick_profile


class Format(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"
    parquet = "parquet"


@app.command("parse")
def parse(
    inputs: List[Path] = typer.Argument(..., metavar="SCAN", help=".nessus files, directories, .zip or .gz."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    fmt: Format = typer.Option(Format.jsonl, "--format", "-f", help="Output format."),
    out: str = typer.Option("-", "--out", "-o", help="Output file, or - for standard output."),
    config: Optional[Path] = ConfigOpt,
    strict: bool = StrictOpt,
) -> None:
    """Read exports and write one record per selected finding.


    Example: vulnpipe parse scans/ --profile l2tp --format csv --out l2tp.csv
    """
    from ingest.errors import VulnpipeError
    from ingest.parallel import iter_encoded, open_reader
    from ingest.notes import plugin_68453_note
    from ingest.sources import iter_sources
    from reports.findings_out import make_writer

    from ..config import load_config

    prof = pick_profile(profile, plugin, profiles_file, load_config(config))
    errors: list[VulnpipeError] = []
    stats = []
    writer = make_writer(fmt.value, out)
    encode = writer.encoder()          # text formats: records are encoded where they are read
    ok = False
    try:
        with console.progress() as bar:
            task = bar.add_task("parsing", total=None)
            for source in iter_sources(inputs, errors):
                reader = open_reader(source, prof, strict=strict, digest=False,
                                     encoded=encode is not None)
                writer.begin_file()
                try:
                    if encode is not None:
                        for data, records in iter_encoded(reader, encode):
                            writer.add_encoded(data, records)
                    else:
                        for _host, findings in reader.hosts():
                            for finding in findings:
                                writer.add(finding.record())
                except VulnpipeError as exc:
                    writer.rollback_file()
                    errors.append(exc)
                    continue
                writer.commit_file()
                console.verbose(f"{source.name}: {reader.stats.selected} finding(s), "
                                f"read by the {reader.path_used} reader")
                stats.append((source.name, reader.stats))
                bar.advance(task)
        ok = True
    finally:
        writer.close(ok=ok)
    for exc in errors:
        console.error(str(exc))
    message = plugin_68453_note(prof, stats)
    if message:
        console.note(message)
    console.info(f"{writer.count} finding(s) from {len(stats)} file(s), profile '{prof.name}'"
                 + (f", {len(errors)} file(s) refused" if errors else ""))
    if errors:
        raise typer.Exit(1)
