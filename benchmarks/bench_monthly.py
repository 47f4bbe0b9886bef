#!/usr/bin/env python3
"""Does reading a month's or a quarter's figures cost more than the weekly report? (#23.6)

    .venv/bin/python benchmarks/bench_monthly.py --data $VULNPIPE_BENCH_CACHE/history-2000h-26w \
        --out benchmarks/RESULTS-history.md

The history is a ../shared/bench/gen_history.py output (default: 2,000 hosts, 26 weeks, seed
1, generated once into the cache folder as bench_history.py does). For each engine the whole
history is ingested, the ticket state brought up to date (``tickets --jsonl``, the first read
after an ingest), then ``report weekly --week LAST`` and ``report monthly`` for the last
complete month and quarter (each writing JSON, HTML and the workbook, each with its default
trend: 12 weeks, 2 periods) run ``--repeat`` times in turn, each a whole ``vulnpipe`` process.
The table gives the median of the wall seconds, CPU seconds (user + system) and peak RSS.
With ``--out``, the table replaces the "Monthly report" section of that Markdown file (or is
appended to it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_history import ROOT, drop_pg_database, history, measure, new_pg_database, vp  # noqa: E402

HEADING = "## Monthly report"


def periods(last_week: str) -> tuple[str, str]:
    """The last complete month and quarter before the week ``last_week`` (``2026-W17``)."""
    monday = dt.date.fromisocalendar(int(last_week[:4]), int(last_week[6:8]), 1)
    month_start = monday.replace(day=1) - dt.timedelta(days=1)
    q = (monday.month - 1) // 3
    year, quarter = (monday.year, q) if q else (monday.year - 1, 4)
    return f"{month_start.year}-{month_start.month:02d}", f"{year}-Q{quarter}"


def bench(engine: str, data: Path, work: Path, repeat: int) -> list[tuple]:
    scans = sorted((data / "scans").glob("*.nessus"))
    last = max(p.name.split("-full")[0].split("-rescan")[0] for p in scans)
    month, quarter = periods(last)
    inventory = str(data / "inventory.csv")
    db = str(work / "history.db") if engine == "sqlite" else new_pg_database("vp_bench_monthly")
    try:
        measure(vp("ingest", str(data / "scans"), "--db", db))
        measure(vp("tickets", "--db", db, "--inventory", inventory, "--jsonl", os.devnull))
        runs = {f"report weekly --week {last}": ("weekly", "--week", last),
                f"report monthly --month {month}": ("monthly", "--month", month),
                f"report monthly --quarter {quarter}": ("monthly", "--quarter", quarter)}
        got: dict[str, list[tuple]] = {k: [] for k in runs}
        for _ in range(repeat):
            for what, args in runs.items():
                out = work / args[0]
                r = measure(vp("report", *args, "--db", db, "--inventory", inventory,
                               "--json", str(out) + ".json", "--html", str(out) + ".html",
                               "--xlsx", str(out) + ".xlsx"))
                if r[3] != 0:
                    sys.exit(f"{what} failed (exit {r[3]})")
                got[what].append(r)
    finally:
        if engine != "sqlite":
            drop_pg_database("vp_bench_monthly")
    rows = []
    for what, results in got.items():
        wall, rss, cpu = (statistics.median(r[i] for r in results) for i in (0, 1, 2))
        rows.append((engine, what, wall, cpu, rss))
    return rows


def table(rows: list[tuple]) -> list[str]:
    lines = ["| database | what (json, html, xlsx) | seconds | CPU seconds | peak RSS MB | CPU vs weekly |",
             "|---|---|---:|---:|---:|---:|"]
    for engine, what, wall, cpu, rss in rows:
        weekly = next(r for r in rows if r[0] == engine and r[1].startswith("report weekly"))
        lines.append(f"| {engine} | {what} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {cpu / weekly[3]:.2f}x |")
    return lines


def write_section(path: Path, text: list[str]) -> None:
    old = path.read_text() if path.exists() else ""
    head, _, rest = old.partition(HEADING + "\n")
    tail = ""
    if rest and "\n## " in rest:
        tail = rest[rest.index("\n## ") + 1:]
    body = "\n".join([HEADING, "", *text, ""]) + "\n"
    path.write_text(head.rstrip("\n") + "\n\n" + body + tail if head else body + tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="an existing gen_history.py output folder")
    ap.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, help="write the section into this Markdown file")
    a = ap.parse_args()
    cache = Path(os.environ.get("VULNPIPE_BENCH_CACHE", ROOT / "benchmarks" / ".cache"))
    cache.mkdir(parents=True, exist_ok=True)
    data = a.data or history(2000, 26, cache)
    load_start = os.getloadavg()
    rows = []
    for engine in a.engines:
        with tempfile.TemporaryDirectory(prefix="vp-bench-monthly-", dir=cache) as tmp:
            rows += bench(engine, data, Path(tmp), a.repeat)
    lines = table(rows)
    print("\n".join(lines))
    if a.out:
        hosts = sum(1 for _ in open(data / "inventory.csv")) - 1
        weeks = len({p.name.split("-full")[0].split("-rescan")[0] for p in (data / "scans").glob("*.nessus")})
        load = ", ".join(f"{x:.1f}" for x in load_start), ", ".join(f"{x:.1f}" for x in os.getloadavg())
        write_section(a.out, [
            f"Does reading a period's figures cost more than the weekly report (#23.6)? History: "
            f"`{data.name}` ({hosts} inventory rows, {weeks} weeks). Command: "
            f"`{' '.join(sys.argv)}`. Medians of {a.repeat} runs, each a whole process; every report "
            "writes JSON, HTML and the workbook with its default trend (12 weeks; 2 periods). Load "
            f"average at the start {load[0]}, at the end {load[1]} (the cores were shared: CPU "
            "seconds are the figure to compare).", "", *lines])


if __name__ == "__main__":
    main()
