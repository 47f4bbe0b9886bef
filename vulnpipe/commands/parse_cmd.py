"""``vulnpipe parse``: findings of a profile from .nessus exports, as JSONL/CSV/XLSX/Parquet."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import (ConfigOpt, PluginOpt, ProfileOpt, ProfilesFileOpt, StrictOpt, pick_profile,
                     pick_strict)


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
    fmt: Format = typer.Option(Format.jsonl, "--format", "-f", help="Output format."),
    out: str = typer.Option("-", "--out", "-o", help="Output file, or - for standard output."),
    config: Optional[Path] = ConfigOpt,
    strict: Optional[bool] = StrictOpt,
) -> None:
    """Read exports and write one record per selected finding.


    Example: vulnpipe parse scans/ --profile l2tp --format csv --out l2tp.csv
    """
    from vulnpipe.ingest.errors import VulnpipeError
    from vulnpipe.ingest.nessus.files import iter_files_encoded
    from vulnpipe.ingest.nessus.readers import open_reader
    from vulnpipe.ingest.notes import plugin_68453_note
    from vulnpipe.ingest.nessus.sources import iter_sources
    from vulnpipe.reports.writers.findings import make_writer

    from vulnpipe.config import load_config

    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    strict = pick_strict(strict, cfg)
    errors: list[VulnpipeError] = []
    stats = []
    writer = make_writer(fmt.value, out)
    encode = writer.encoder()
    ok = False
    try:
        with console.progress() as bar:
            task = bar.add_task("parsing", total=None)
            if encode is not None:      # text formats: records are encoded where they are read
                sources = list(iter_sources(inputs, errors))
                files = ((s.name, o, o.chunks(), lambda c: writer.add_encoded(*c))
                         for s, o in iter_files_encoded(sources, prof, encode, strict=strict))
            else:
                files = ((s.name, r, (f.record() for _h, fs in r.hosts() for f in fs), writer.add)
                         for s in iter_sources(inputs, errors)
                         for r in [open_reader(s, prof, strict=strict, digest=False)])
            for name, reader, items, add in files:
                writer.begin_file()
                try:
                    for item in items:
                        add(item)
                except VulnpipeError as exc:
                    writer.rollback_file()
                    errors.append(exc)
                    continue
                writer.commit_file()
                console.verbose(f"{name}: {reader.stats.selected} finding(s), read by the "
                                f"{reader.path_used} reader")
                stats.append((name, reader.stats))
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

