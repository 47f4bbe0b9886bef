"""``vulnpipe report weekly``: the weekly report (HTML page, Excel twin, Markdown, JSON)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    ConfigOpt,
    DbOpt,
    InventoryOpt,
    PluginOpt,
    ProfileOpt,
    ProfilesFileOpt,
    SheetOpt,
    load_config,
    notify,
    parse_when,
    pick_db,
    pick_profile,
)
from vulnpipe.ingest.errors import BadValue, InputError

report_app = typer.Typer(help="Reports built from the history store.", no_args_is_help=True)
TeamOpt = typer.Option(None, "--team", metavar="NAME", help="Only this team's assets.")


@report_app.command("weekly")
def weekly(
    db: Optional[str] = DbOpt,
    week: Optional[str] = typer.Option(
        None, "--week", metavar="WEEK", help="ISO week to report on, e.g. 2026-W48 (default: the week of the "
                             "newest stored scan)."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", metavar="DATE",
        help="Report on the week holding this date (ISO 8601, UTC), counting nothing after it "
             "(a bare date counts that whole day)."),
    weeks: Optional[int] = typer.Option(
        None, "--weeks", min=1, max=260,
        help="Weeks in the trend (default: [report] weeks in vulnpipe.toml, else 12)."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    team: Optional[str] = TeamOpt,
    split_by: Optional[Tuple[str, Path]] = typer.Option(
        None, "--split-by", metavar="team|business_unit DIR",
        help="Write one report (HTML, Excel, Markdown, JSON) per team or business unit "
             "into DIR, with index.json."),
    html: Optional[Path] = typer.Option(None, "--html", help="HTML page to write."),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="Excel workbook to write."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Markdown summary to write."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="PATH",
                                           help="JSON figures to write (- for stdout)."),
    mail: bool = typer.Option(False, "--mail",
                              help="E-mail the report (or the programme report) over SMTP ([mail] "
                                   "in vulnpipe.toml); with --split-by team each team gets its "
                                   "own as well."),
    mail_dry_run: Optional[Path] = typer.Option(
        None, "--mail-dry-run", metavar="DIR",
        help="Write the e-mails as .eml files into DIR instead of sending them."),
    mail_to: Optional[List[str]] = typer.Option(
        None, "--mail-to", metavar="ADDRESS",
        help="Recipient of the report on every asset (repeatable; default: [mail] to)."),
) -> None:
    """The weekly exposure report of a campaign: headline figures, a trend (weeks without scans
    are gaps), aging, breakdowns, oldest tickets, data quality and the open tickets per host.
    Without --profile, when [profiles] campaigns names several, the programme report: one
    headline row per campaign, then each campaign's report (--mail sends it as one message).


    Example: vulnpipe report weekly --week 2026-W48 --html weekly.html --xlsx weekly.xlsx
    """
    outputs = workflows.ReportOutputs(html=html, xlsx=xlsx, markdown=markdown, json=json_out)
    if not (outputs.any() or split_by or mail or mail_dry_run):
        raise InputError("nothing to write",
                         hint="give --html, --xlsx, --markdown, --json, --split-by and/or --mail")
    if mail and mail_dry_run:
        raise InputError("give --mail or --mail-dry-run, not both")
    if (mail or mail_dry_run) and split_by and split_by[0] != "team":
        raise InputError("e-mail goes per team, not per business unit",
                         hint="use --split-by team with --mail")
    if team is not None and split_by:
        raise InputError("give --team or --split-by, not both",
                         hint="--split-by team DIR already writes one report per team")
    if split_by and split_by[0] not in ("team", "business_unit"):
        raise BadValue(f"--split-by {split_by[0]!r} is not team or business_unit",
                       hint="e.g. --split-by team out/teams")
    cfg = load_config(config)
    programme = profile is None and not plugin and len(set(cfg.profiles.campaigns)) > 1
    if programme and (team is not None or split_by):
        raise InputError("the programme report covers every campaign; --team and --split-by "
                         "report on one", hint="give --profile NAME with them")
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    when, day = _as_of(as_of)
    wanted = workflows.parse_week(week) if week else None
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    if programme:
        made = _programme(engine, cfg, profiles_file, inv, wanted, when, day, weeks, outputs)
        if mail or mail_dry_run:
            _mail(cfg, made, False, mail_to, mail_dry_run)
        return
    try:
        chosen = workflows.choose_week(engine, wanted, when, as_of_is_day=day)
        built = workflows.weekly_report(engine, prof, chosen, weeks=weeks or cfg.report.weeks,
                                        inventory=inv, settings=workflows.ticket_settings(cfg),
                                        team=team)
    finally:
        engine.dispose()
    written = workflows.write_weekly(built, outputs, split_by)
    report = built.report
    console.info(f"{report.week.label} ({report.slice.label}): {_figures_text(report)}; wrote "
                 f"{', '.join(written) or 'no file'}")
    if mail or mail_dry_run:
        _mail(cfg, built, bool(split_by), mail_to, mail_dry_run)


def _mail(cfg, built, per_team: bool, to, dry_run) -> None:
    """E-mail the report built (a campaign's, or the programme), or write the messages."""
    from vulnpipe import delivery

    sent = delivery.mail_report(cfg, built, per_team=per_team, to=to, dry_run=dry_run,
                                notify=notify)
    for text in sent.errors:
        console.error(text)
    console.info(sent.summary())
    if not sent.ok:
        raise typer.Exit(1)


@report_app.command("monthly")
def monthly(
    db: Optional[str] = DbOpt,
    month: Optional[str] = typer.Option(
        None, "--month", metavar="MONTH",
        help="Calendar month to report on, e.g. 2026-11 (default: the month of the newest stored scan)."),
    quarter: Optional[str] = typer.Option(
        None, "--quarter", metavar="QUARTER", help="Calendar quarter to report on, e.g. 2026-Q4."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", metavar="DATE",
        help="Count nothing after this date (ISO 8601, UTC; a bare date counts that whole day); "
             "without --month or --quarter, report on the month holding it."),
    periods: int = typer.Option(
        2, "--periods", min=2, max=60,
        help="Periods in the trend, ending with the reported one (default 2: it and the one before)."),
    profile: Optional[str] = ProfileOpt,
    plugin: Optional[List[int]] = PluginOpt,
    profiles_file: Optional[List[Path]] = ProfilesFileOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    config: Optional[Path] = ConfigOpt,
    team: Optional[str] = TeamOpt,
    html: Optional[Path] = typer.Option(None, "--html", help="HTML page to write."),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="Excel workbook to write."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Markdown summary to write."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="PATH",
                                           help="JSON figures to write (- for stdout)."),
) -> None:
    """The weekly report's figures and remediation metrics over a calendar month or quarter,
    with the change against the previous one: flows (new, fixed, resurfaced, time to
    verified fix) over the period, stocks (open, overdue, coverage) at its end.


    Example: vulnpipe report monthly --quarter 2026-Q4 --html q4.html --json q4.json
    """
    outputs = workflows.ReportOutputs(html=html, xlsx=xlsx, markdown=markdown, json=json_out)
    if not outputs.any():
        raise InputError("nothing to write", hint="give --html, --xlsx, --markdown and/or --json")
    cfg = load_config(config)
    prof = pick_profile(profile, plugin, profiles_file, cfg)
    inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
    when, day = _as_of(as_of)
    engine = workflows.open_store(pick_db(db, cfg), create=False)
    try:
        chosen = workflows.choose_period(engine, month, quarter, when, as_of_is_day=day)
        built = workflows.weekly_report(engine, prof, chosen, weeks=periods, inventory=inv,
                                        settings=workflows.ticket_settings(cfg), team=team)
    finally:
        engine.dispose()
    written = workflows.write_weekly(built, outputs)
    report = built.report
    console.info(f"{report.week.label} ({report.slice.label}): {_figures_text(report)}; wrote "
                 f"{', '.join(written) or 'no file'}")


def _as_of(text: Optional[str]) -> tuple:
    """``--as-of`` as a UTC moment (a bare date: the end of that day) and whether it was a day."""
    day = text is not None and len(text.strip()) == 10
    return parse_when(text.strip() if text else None, end_of_day=day, what="--as-of"), day


def _figures_text(report) -> str:
    f = report.figures
    return (f"{f.open_tickets} open, {f.new} new, {f.fixed_verified} fixed, {f.resurfaced} "
            f"resurfaced, {f.overdue} overdue, {len(report.scans)} scan(s) this {report.week.unit}")


def _programme(engine, cfg, profiles_file, inv, wanted, when, day, weeks, outputs):
    """The programme report: every campaign of ``[profiles] campaigns``, one row each;
    returns it as built (for the e-mail)."""
    several = workflows.resolve_campaigns_for(cfg, (), (), profiles_file or ())
    try:
        chosen = workflows.choose_week(engine, wanted, when, as_of_is_day=day)
        made = workflows.build_programme(
            engine, workflows.campaign_profiles(several), chosen, weeks=weeks or cfg.report.weeks,
            inventory=inv, settings=workflows.ticket_settings(cfg))
    finally:
        engine.dispose()
    programme = made.programme
    written = workflows.write_programme(programme, outputs)
    for name, report in zip(programme.names, programme.reports):
        console.info(f"{report.week.label} {name}: {_figures_text(report)}")
    console.info(f"programme of {len(programme.names)} campaigns; wrote "
                 f"{', '.join(written) or 'no file'}")
    return made
