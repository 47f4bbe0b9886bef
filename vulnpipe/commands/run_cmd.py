"""``vulnpipe run``: the weekly job in one command (ingest, reconcile, tickets, report)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console, workflows
from vulnpipe.commands.common import (
    CampaignsOpt,
    ConfigOpt,
    DbOpt,
    ExcludeOpt,
    InventoryOpt,
    QuarantineOpt,
    SheetOpt,
    StrictOpt,
    load_config,
    notify,
    parse_when,
    pick_campaigns,
    pick_strict,
)
from vulnpipe.ingest.errors import InputError


def run(
    scans: List[Path] = typer.Argument(..., help="This week's scans: files, directories, .zip, .gz."),
    config: Optional[Path] = ConfigOpt,
    db: Optional[str] = DbOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    profile: Optional[List[str]] = CampaignsOpt,
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Output folder (default: [run] out_dir, else out/)."),
    summary_json: Optional[str] = typer.Option(
        None, "--summary-json", metavar="PATH", help="Write a machine-readable summary here (- for stdout)."),
    strict: Optional[bool] = StrictOpt,
    fail_on: List[str] = typer.Option(
        [], "--fail-on", metavar="overdue|new|resurfaced|no-new-scans",
        help="Exit 3 (after doing everything) when tickets became overdue in the last 7 days "
             "(overdue), were opened (new) or resurfaced by this run, or the run stored no new "
             "scan (no-new-scans); repeat for several."),
    week: Optional[str] = typer.Option(
        None, "--week", metavar="WEEK",
        help="Report on this ISO week, e.g. 2026-W48, judging tickets at its end (default: the "
             "week of the newest stored scan, up to now)."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", metavar="DATE",
        help="Report on the week holding this date (ISO 8601, UTC) and judge tickets then, "
             "counting nothing after it (a bare date counts that whole day)."),
    exclude: Optional[List[str]] = ExcludeOpt,
    quarantine: Optional[Path] = QuarantineOpt,
) -> None:
    """Ingest the scans, update ticket states from every rescan, export the tickets and write
    the weekly report, for cron or CI. Exits non-zero only when something really failed (a
    scan refused, the database unreachable); everything else still runs. The summary says
    "ok": false whenever the run failed. With --fail-on, exit 3 when one of those lists is
    not empty (and nothing failed), so cron or CI can alert. With several campaigns
    ([profiles] campaigns, or --profile repeated) each campaign's tickets go into OUT/NAME/
    and the report is the programme report; alerts, summary, Jira and e-mail cover them all.


    Example: vulnpipe run --config vulnpipe.toml exports/ --summary-json run.json --fail-on overdue
    """
    try:
        if week and as_of:
            raise InputError("give --week or --as-of, not both",
                             hint="--week 2026-W48 reports on the whole week")
        day = as_of is not None and len(as_of.strip()) == 10
        when = parse_when(as_of.strip() if as_of else None, end_of_day=day, what="--as-of")
        wanted = workflows.parse_week(week) if week else None
        cfg = load_config(config)
        prof = pick_campaigns(profile, None, None, cfg)
        inv = workflows.load_inventory_for(cfg, inventory, sheet, notify=notify)
        with console.progress() as bar:
            summary = workflows.run_week(cfg, scans, db=db, profile=prof, inventory=inv,
                                         out_dir=out, strict=pick_strict(strict, cfg),
                                         week=wanted, as_of=when, as_of_is_day=day,
                                         exclude=exclude or (), quarantine=quarantine,
                                         notify=notify, progress=bar, fail_on=fail_on)
    except (Exception, KeyboardInterrupt) as exc:
        if summary_json:   # never leave last week's "ok": true behind
            _write_summary(workflows.RunSummary(
                database=None, profile="+".join(profile) if profile else None,
                error=console.error_text(exc)), summary_json)
        raise
    campaign = summary.campaign_of()
    for c in summary.changes:
        console.info(f"{c.key}  {c.host}: {c.before or 'new'} -> {c.after}"
                     + (f" ({campaign[c.key]})" if campaign else ""))
    if summary_json:
        _write_summary(summary, summary_json)
    console.info(f"{len(summary.stored)} scan(s) stored, {len(summary.skipped)} skipped, "
                 f"{len(summary.refused)} refused; {summary.tickets_text()}, "
                 f"{len(summary.changes)} changed; wrote {', '.join(summary.outputs)}")
    if not summary.ok:
        raise typer.Exit(1)
    if summary.triggered:
        console.info(f"alert: {summary.alert_text()}")
        raise typer.Exit(workflows.ALERT_EXIT)


def _write_summary(summary: workflows.RunSummary, path: str) -> None:
    workflows.write_lines([json.dumps(summary.as_dict(), indent=1, ensure_ascii=False)], path)
