"""``make demo``: the whole pipeline on ``sample_data/``, writing everything into ``out/``.

Runs the real ``vulnpipe`` program step by step, as a user would, and ends with a summary of
what was written where. Safe to run again: ``out/`` is rebuilt from scratch.
``python -m vulnpipe.demo --out DIR`` writes into ``DIR`` instead (the tests use this).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SCANS = SAMPLE / "scans"
OUT = ROOT / "out"
DB = OUT / "vulnpipe.db"
INVENTORY = SAMPLE / "inventory.csv"
W48 = SCANS / "2026-W48-weekly.nessus"
RESCANS = sorted(SCANS.glob("2026-W48-rescan-*.nessus"))
AS_OF = "2026-11-27"   # the sample company's "today": Friday of 2026-W48


def step(title: str, *args: str) -> None:
    """Run ``vulnpipe ARGS`` and print its title and output; stop the demo if it fails."""
    if title:
        print(f"\n== {title}")
    print(f"$ vulnpipe {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "vulnpipe", *args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"demo step failed: {title} (exit {result.returncode})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the whole pipeline on sample_data/.")
    ap.add_argument("--out", type=Path, default=OUT, help="output directory (default: out/)")
    out_dir = ap.parse_args(argv).out.resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    rel = lambda p: str(Path(p).relative_to(ROOT))  # noqa: E731
    o = rel(out_dir) if out_dir.is_relative_to(ROOT) else str(out_dir)
    step("What is in this week's scan?", "inspect", rel(W48))
    step("The L2TP findings (plugin 11387) and related VPN exposures, as JSONL and Excel",
         "parse", rel(SCANS), "--profile", "l2tp", "--out", f"{o}/l2tp-findings.jsonl")
    step("", "parse", rel(W48), "--format", "xlsx", "--out", f"{o}/l2tp-findings.xlsx")
    step("Who owns each exposed host? (inventory join)", "join", rel(W48),
         "--inventory", rel(INVENTORY), "--format", "xlsx", "--out", f"{o}/joined.xlsx")
    step("Ingest five weeks of scans, a DMZ scan and three rescans into the history database",
         "ingest", rel(SCANS), "--db", f"{o}/vulnpipe.db")
    step("Stored scans", "scans", "--db", f"{o}/vulnpipe.db")
    step("Per-host tickets in every format", "tickets", "--db", f"{o}/vulnpipe.db",
         "--inventory", rel(INVENTORY), "--as-of", AS_OF,
         "--xlsx", f"{o}/tickets.xlsx", "--jira-csv", f"{o}/tickets-jira.csv",
         "--jsonl", f"{o}/tickets.jsonl", "--markdown", f"{o}/tickets")
    step("Reconcile this week's scan against the three rescans", "reconcile",
         "--baseline", rel(W48), *[a for r in RESCANS for a in ("--rescan", rel(r))],
         "--inventory", rel(INVENTORY), "--format", "xlsx", "--out", f"{o}/reconcile.xlsx",
         "--targets-out", f"{o}/rescan-targets.txt")
    step("", "reconcile", "--baseline", rel(W48), *[a for r in RESCANS for a in ("--rescan", rel(r))],
         "--format", "json", "--out", f"{o}/reconcile.json")
    step("Update ticket states from the history (verified fixes, resurfaced)", "reconcile",
         "--db", f"{o}/vulnpipe.db", "--as-of", AS_OF)
    written = ["l2tp-findings.jsonl", "l2tp-findings.xlsx", "joined.xlsx", "vulnpipe.db",
               "tickets.xlsx", "tickets-jira.csv", "tickets.jsonl", "tickets/",
               "reconcile.xlsx", "reconcile.json", "rescan-targets.txt"]
    step("The weekly report for 2026-W48", "report", "weekly", "--db", f"{o}/vulnpipe.db",
         "--week", "2026-W48", "--html", f"{o}/weekly-2026-W48.html",
         "--xlsx", f"{o}/weekly-2026-W48.xlsx", "--markdown", f"{o}/weekly-2026-W48.md",
         "--json", f"{o}/weekly-2026-W48.json")
    written += ["weekly-2026-W48.html", "weekly-2026-W48.xlsx", "weekly-2026-W48.md",
                "weekly-2026-W48.json"]
    step("An auditor evidence pack for 2026-Q4, then its verification", "evidence", "build",
         "--db", f"{o}/vulnpipe.db", "--quarter", "2026-Q4", "--include-raw",
         "--raw-dir", rel(SCANS), "--out", f"{o}/evidence-2026-Q4.zip")
    step("", "evidence", "verify", f"{o}/evidence-2026-Q4.zip")
    written.append("evidence-2026-Q4.zip")
    print(f"\n== Written to {o}/")
    for name in written:
        path = out_dir / name
        size = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir()
                else path.stat().st_size if path.exists() else 0)
        print(f"  {o}/{name:<28} {size:>10,} bytes")
    print(f"\nOpen {o}/tickets.xlsx or {o}/weekly-2026-W48.html to look around.")


if __name__ == "__main__":
    main()
