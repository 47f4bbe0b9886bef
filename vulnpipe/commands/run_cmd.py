"""``vulnpipe run``: the weekly job in one command (ingest, reconcile, tickets, report)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from vulnpipe import console
from vulnpipe.commands.common import (ConfigOpt, DbOpt, InventoryOpt, ProfileOpt, SheetOpt, StrictOpt, pick_db,
                     pick_profile, pick_strict)


def run(
    scans: List[Path] = typer.Argument(..., help="This week's scans: files, directories, .zip, .gz."),
    config: Optional[Path] = ConfigOpt,
    db: Optional[str] = DbOpt,
    inventory: Optional[Path] = InventoryOpt,
    sheet: Optional[str] = SheetOpt,
    profile: Optional[str] = ProfileOpt,
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Output folder (default: [run] out_dir, else out/)."),
    summary_json: Optional[str] = typer.Option(
        None, "--summary-json", help="Write a machine-readable summary here (- for stdout)."),
    strict: Optional[bool] = StrictOpt,
) -> None:
    """Ingest the scans, update ticket states from every rescan, export the tickets and write
    the weekly report, for cron or CI. Exits non-zero only when something really failed (a
    scan refused, the database unreachable); everything else still runs.


    Example: vulnpipe run --config vulnpipe.toml exports/ --summary-json run.json
    """
    from vulnpipe.ingest.store import display_url, open_store
    from vulnpipe.ingest.store.writer import FAILED, SKIPPED, STORED
    from vulnpipe.reports.writers.output import open_output

    from vulnpipe.workflows import load_config, load_inventory_option, ticket_settings
    from vulnpipe.commands.store_cmd import ingest_inputs
    from vulnpipe.commands.tickets_cmd import build_and_export

    cfg = load_config(config)
    prof = pick_profile(profile, None, None, cfg)
    inv = load_inventory_option(cfg, inventory, sheet)
    folder = out or cfg.run.out_dir
    folder.mkdir(parents=True, exist_ok=True)
    engine = open_store(pick_db(db, cfg))
    url = display_url(engine.url.render_as_string(hide_password=False))
    results, input_errors = ingest_inputs(engine, scans, prof, strict=pick_strict(strict, cfg))
    refused = [str(e) for e in input_errors] + [r.detail for r in results if r.status == FAILED]
    built, views, changes, written = build_and_export(
        engine, prof, inventory=inv, settings=ticket_settings(cfg), as_of=None,
        xlsx=folder / "tickets.xlsx", jira_csv=folder / "tickets-jira.csv",
        jsonl=folder / "tickets.jsonl", markdown=folder / "tickets",
        knowledge_dirs=cfg.tickets.knowledge_dirs)
    report_info = _weekly(engine, prof, inv, cfg, folder, written)
    engine.dispose()
    for c in changes:
        console.info(f"{c.key}  {c.host}: {c.before or 'new'} -> {c.after}")
    states: dict[str, int] = {}
    for v in views:
        states[v["state"]] = states.get(v["state"], 0) + 1
    summary = {
        "database": url,
        "profile": prof.name,
        "scans": {"stored": [r.file for r in results if r.status == STORED],
                  "skipped": [r.file for r in results if r.status == SKIPPED],
                  "refused": refused},
        "tickets": {"total": len(views), **dict(sorted(states.items()))},
        "changes": [{"key": c.key, "host": c.host, "before": c.before, "after": c.after}
                    for c in changes],
        "report": report_info,
        "outputs": written,
        "ok": not refused,
    }
    if summary_json:
        with open_output(summary_json) as fh:
            fh.write((json.dumps(summary, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    console.info(f"{len(summary['scans']['stored'])} scan(s) stored, "
                 f"{len(summary['scans']['skipped'])} skipped, {len(refused)} refused; "
                 f"{len(views)} ticket(s), {len(changes)} changed; wrote {', '.join(written)}")
    if refused:
        raise typer.Exit(1)


def _weekly(engine, prof, inv, cfg, folder: Path, written: list) -> dict | None:
    """The weekly report for the newest scan's ISO week, into ``folder``."""
    from vulnpipe.reports.weekly import (ALL, build_report, load_history, write_html, write_json,
                                write_markdown, write_xlsx)
    from vulnpipe.reports.weekly.history import newest_scan_week

    from vulnpipe.workflows import ticket_settings

    with engine.connect() as conn:
        try:
            week = newest_scan_week(conn)
        except Exception:  # noqa: BLE001 - an empty store has no week to report
            return None
        history = load_history(conn, prof, week, weeks=cfg.report.weeks, inventory=inv,
                               settings=ticket_settings(cfg))
    report = build_report(history, ALL)
    stem = f"weekly-{report.week.label}"
    for suffix, writer in ((".html", write_html), (".xlsx", write_xlsx), (".md", write_markdown),
                           (".json", write_json)):
        writer(report, folder / f"{stem}{suffix}")
        written.append(str(folder / f"{stem}{suffix}"))
    return {"week": report.week.label, **report.figures.as_dict()}
