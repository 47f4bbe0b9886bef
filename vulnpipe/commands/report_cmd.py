"""``vulnpipe report weekly``: the weekly report (HTML page, Excel twin, Markdown, JSON)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import typer

from vulnpipe import console
from vulnpipe.commands.common import (ConfigOpt, DbOpt, InventoryOpt, PluginOpt, ProfileOpt, ProfilesFileOpt,
                     SheetOpt, parse_when, pick_db, pick_profile)

report_app = typer.Typer(help="Reports built from the history store.", no_args_is_help=True)


def choose_week(conn, week: Optional[str], as_of: Optional[str]):
    """The report's week: ``--week``, else the week of ``--as-of`` cut off there, else the
    ISO week of the newest stored scan."""
    from datetime import timedelta

    from vulnpipe.ingest.errors import InputError
    from vulnpipe.reports.weekly import cut_week, newest_scan_week, parse_week

    if week and as_of:
        raise InputError("give --week or --as-of, not both",
                         hint="--week 2026-W48 reports on the whole week")
    if week:
        return parse_week(week)
    if as_of:
        text = as_of.strip()
        when = parse_when(text, end_of_day=len(text) == 10, what="--as-of")
        return cut_week(when - timedelta(microseconds=1) if len(text) == 10 else when)
    return newest_scan_week(conn)


@report_app.command("weekly")
def weekly(
    db: Optional[str] = DbOpt,
    week: Optional[str] = typer.Option(
        None, "--week", help="ISO week to report on, e.g. 2026-W48 (default: the week of the "
                             "newest stored scan)."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", help="Report on the week holding this date (ISO 8601, UTC), counting "
                              "nothing after it (a bare date counts that whole day)."),
    weeks: Optional[int] = typer.Option(
        None, "--weeks", min=1, max=260,
        help="Weeks in the trend (default: [report] weeks in vulnpipe.toml, else 12)."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    team: Optional[str] = typer.Option(None, "--team", help="Only this team's assets."),
    split_by: Optional[Tuple[str, Path]] = typer.Option(
        None, "--split-by", metavar="team|business_unit DIR",
        help="Write one report (HTML, Excel, Markdown, JSON) per team or business unit "
             "into DIR, with index.json."),
    html: Optional[Path] = typer.Option(None, "--html", help="HTML page to write."),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="Excel workbook to write."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Markdown summary to write."),
    json_out: Optional[str] = typer.Option(None, "--json",
                                           help="JSON figures to write (- for stdout)."),
) -> None:
    """The weekly L2TP exposure report: headline figures, a trend (weeks without scans are
    gaps), aging, breakdowns, oldest tickets, data quality and the open tickets per host.


    Example: vulnpipe report weekly --week 2026-W48 --html weekly.html --xlsx weekly.xlsx
    """
    from vulnpipe.ingest.errors import InputError
    from vulnpipe.ingest.store import open_store
    from vulnpipe.reports.weekly import (ALL, Slice, build_report, check_slice, load_history, write_html,
                                write_json, write_markdown, write_split, write_xlsx)

    from vulnpipe.workflows import load_config, load_inventory_option, ticket_settings

    if not any((html, xlsx, markdown, json_out, split_by)):
        raise InputError("nothing to write",
                         hint="give --html, --xlsx, --markdown, --json and/or --split-by")
    if team is not None and split_by:
        raise InputError("give --team or --split-by, not both",
                         hint="--split-by team DIR already writes one report per team")
    if split_by and split_by[0] not in ("team", "business_unit"):
        raise InputError(f"--split-by {split_by[0]!r} is not team or business_unit",
                         hint="e.g. --split-by team out/teams")
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = load_inventory_option(cfg, inventory, sheet)
    engine = open_store(pick_db(db, cfg), create=False)
    try:
        with engine.connect() as conn:
            chosen = choose_week(conn, week, as_of)
            history = load_history(conn, prof, chosen, weeks=weeks or cfg.report.weeks,
                                   inventory=inv,
                                   settings=ticket_settings(cfg))
    finally:
        engine.dispose()
    sl = ALL if team is None else Slice("team", team)
    check_slice(history, sl)
    report = build_report(history, sl)
    written = []
    for path, writer in ((html, write_html), (xlsx, write_xlsx), (markdown, write_markdown),
                         (json_out, write_json)):
        if path:
            writer(report, path)
            written.append(str(path))
    if split_by:
        index = write_split(history, split_by[0], split_by[1])
        written.append(f"{split_by[1]}/ ({len(index)} {split_by[0].replace('_', ' ')} reports)")
    f = report.figures
    console.info(f"{report.week.label} ({report.slice.label}): {f.open_tickets} open, {f.new} new, "
                 f"{f.fixed_verified} fixed, {f.resurfaced} resurfaced, {f.overdue} overdue, "
                 f"{len(report.scans)} scan(s) this week; wrote {', '.join(written)}")
