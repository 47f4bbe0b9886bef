#!/usr/bin/env python3
"""A year of history, read in seconds: time every reading command on a long scan history.

    make bench-history                                   # 10,000 hosts, 26 and 52 weeks
    .venv/bin/python benchmarks/bench_history.py --hosts 2000 --weeks 13 26 --engines sqlite

The history comes from ../shared/bench/gen_history.py (a weekly full scan and a mid-week
rescan of one estate, with an inventory), generated once into the cache folder
(``VULNPIPE_BENCH_CACHE``, default benchmarks/.cache). For each database engine the store
is filled week by week; when it holds N-1 weeks (N each of ``--weeks``) the benchmark
parses and ingests week N's full scan, reconciles, and times the reading commands (each a
whole ``vulnpipe`` process, peak RSS from the OS), then ``run`` on week N's rescan. The table
goes to stdout and, with ``--out``, into a Markdown file with the machine it ran on.

``--campaigns l2tp pptp ike`` stores the three campaigns at once (``[profiles] campaigns``;
``ike`` is the how-to's example profile) and times reconcile, tickets and evidence once per
campaign (``--profile NAME``: the rows give the sum of the seconds and the largest peak
RSS) and the programme report once; the targets are then the single-campaign ones times the
number of campaigns.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHARED = Path(os.environ.get("VULNPIPE_SHARED", ROOT.parent / "shared"))
PG = os.environ.get("VULNPIPE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: Seconds per file an ingest of many files may take: 1.2 x the 0.46 s of issue #17's table.
INGEST_PER_FILE = 0.55
TARGETS = {   # what the issue asks, for the table's last column
    "reconcile after one new weekly scan": "<= 2 s + parse",
    "tickets (jsonl, xlsx, jira-csv)": "<= 5 s, 300 MB",
    "report weekly --week LAST (json, html, xlsx)": "<= 5 s, 300 MB",
    "evidence build --quarter": "<= 15 s",
    "run (one new week)": "<= 10 s + ingest",
}


def measure(argv: list[str], cwd: Path | None = None) -> tuple[float, float, float, int]:
    """(wall seconds, peak RSS MB, CPU seconds (user + system, the process and its workers),
    exit status) of one process. CPU time is what to compare when the machine is busy."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    before = os.times()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    after = os.times()
    # the process's own usage plus its children's (wait4 alone misses pool workers it reaped)
    cpu = max(usage.ru_utime + usage.ru_stime,
              (after.children_user - before.children_user)
              + (after.children_system - before.children_system))
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(argv[2:])} failed ({code}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, cpu, code


def vp(*args: str) -> list[str]:
    return [PY, "-m", "vulnpipe", "-q", *args]


def history(hosts: int, weeks: int, cache: Path) -> Path:
    out = cache / f"history-{hosts}h-{weeks}w"
    if not (out / "inventory.csv").exists():
        print(f"generating {out} ...", file=sys.stderr)
        subprocess.run([PY, str(SHARED / "bench" / "gen_history.py"), "--hosts", str(hosts),
                        "--weeks", str(weeks), "--seed", "1", "--out", str(out)], check=True)
    return out


def new_pg_database(name: str) -> str:
    import psycopg

    base = PG.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(name: str) -> None:
    import psycopg

    base = PG.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def quarter_of(label: str) -> str:
    import datetime as dt

    year, week = int(label[:4]), int(label[6:8])
    day = dt.date.fromisocalendar(year, week, 1)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


#: The how-to's IKE profile, the benchmark's third campaign.
IKE_PROFILE = "\n" + (ROOT / "examples" / "profiles" / "ike.toml").read_text()


def campaign_config(work: Path, campaigns: list[str]) -> list[str]:
    """``--config FILE`` naming ``campaigns`` (none: no option, the default profile)."""
    if not campaigns:
        return []
    cfg = work / "vulnpipe.toml"
    names = ", ".join(f'"{c}"' for c in campaigns)
    cfg.write_text(f"[profiles]\ncampaigns = [{names}]\n" + (IKE_PROFILE if "ike" in campaigns else ""))
    return ["--config", str(cfg)]


def per_campaign(campaigns: list[str], argv: list[str]) -> tuple[float, float, float, int]:
    """``argv`` once per campaign (``--profile NAME``), or once without campaigns: (summed
    wall seconds, largest peak RSS MB, summed CPU seconds, last exit status)."""
    runs = [measure([*argv, "--profile", c]) for c in campaigns] or [measure(argv)]
    return (sum(r[0] for r in runs), max(r[1] for r in runs), sum(r[2] for r in runs),
            runs[-1][3])


def bench_engine(engine: str, data: Path, targets: list[int], work: Path,
                 campaigns: list[str] | None = None) -> list[tuple]:
    campaigns = campaigns or []
    k = max(1, len(campaigns))             # the targets scale with the number of campaigns
    cfg = campaign_config(work, campaigns)
    scans = sorted((data / "scans").glob("*.nessus"))
    weeks = sorted({p.name.split("-full")[0].split("-rescan")[0] for p in scans})
    inventory = data / "inventory.csv"
    db = str(work / "history.db") if engine == "sqlite" else new_pg_database("vp_bench_history")
    rows = []
    done = 0
    try:
        for n in targets:
            wanted = set(weeks[done:n - 1])
            before = [p for p in scans if "-".join(p.name.split("-")[:2]) in wanted]
            # the weeks so far in one command, as a team back-fills a history (the issue's
            # "ingest all scans"); per file = the command's time / the number of files
            ingested = measure(vp("ingest", *map(str, before), "--db", db, *cfg)) if before \
                else (0.0, 0.0, 0.0, 0)
            per_file = ingested[0] / max(1, len(before))
            per_file_cpu = ingested[2] / max(1, len(before))
            done = n - 1
            label = weeks[n - 1]
            full, rescan = data / "scans" / f"{label}-full.nessus", data / "scans" / f"{label}-rescan.nessus"
            catch_up = per_campaign(campaigns, vp("tickets", "--db", db, "--inventory",
                                                  str(inventory), "--jsonl", os.devnull, *cfg))
            parse = measure(vp("parse", str(full), "--out", os.devnull))
            ingest = measure(vp("ingest", str(full), "--db", db, *cfg))
            recon = per_campaign(campaigns, vp("reconcile", "--db", db, "--inventory",
                                               str(inventory), *cfg))
            out = work / f"out-{engine}-{n}"
            out.mkdir(exist_ok=True)
            tickets = per_campaign(campaigns, vp(
                "tickets", "--db", db, "--inventory", str(inventory), "--jsonl", str(out / "t.jsonl"),
                "--xlsx", str(out / "t.xlsx"), "--jira-csv", str(out / "t.csv"), *cfg))
            report = measure(vp("report", "weekly", "--db", db, "--inventory", str(inventory),
                                "--week", label, "--json", str(out / "w.json"),
                                "--html", str(out / "w.html"), "--xlsx", str(out / "w.xlsx"), *cfg))
            quarter = per_campaign(campaigns, vp(
                "evidence", "build", "--db", db, "--inventory", str(inventory), "--quarter",
                quarter_of(label), "--out", str(out / "q.zip"), *cfg))
            whole = per_campaign(campaigns, vp("evidence", "build", "--db", db, "--inventory",
                                               str(inventory), "--out", str(out / "all.zip"), *cfg))
            run = measure(vp("run", str(rescan), "--db", db, "--inventory", str(inventory),
                             "--out", str(out / "run"), *cfg))
            done = n
            rows += [
                (engine, n, f"ingest of {len(before)} files in one command, per file", per_file,
                 ingested[1] or None, per_file_cpu,
                 f"{'met' if per_file <= INGEST_PER_FILE else 'NOT met'} (<= {INGEST_PER_FILE} s)"),
                (engine, n, "first read after that ingest (tickets --jsonl)", *catch_up[:3], ""),
                (engine, n, "parse of week N's full scan", *parse[:3], ""),
                (engine, n, "ingest of week N's full scan", *ingest[:3], ""),
                (engine, n, "reconcile after one new weekly scan", *recon[:3],
                 f"{'met' if recon[0] <= k * (2 + parse[0]) else 'NOT met'} "
                 f"(<= {k * (2 + parse[0]):.2f} s)"),
                (engine, n, "tickets (jsonl, xlsx, jira-csv)", *tickets[:3],
                 "met" if tickets[0] <= 5 * k and tickets[1] <= 300 else "NOT met"),
                (engine, n, "report weekly --week LAST (json, html, xlsx)", *report[:3],
                 "met" if report[0] <= 5 * k and report[1] <= 300 else "NOT met"),
                (engine, n, "evidence build --quarter", *quarter[:3],
                 "met" if quarter[0] <= 15 * k else "NOT met"),
                (engine, n, "evidence build (whole history)", *whole[:3], ""),
                (engine, n, "run (one new week)", *run[:3], "met" if run[0] <= 10 * k else "NOT met"),
            ]
            for r in rows[-10:]:
                print(_line(r), flush=True)
    finally:
        if engine != "sqlite":
            drop_pg_database("vp_bench_history")
    return rows


def _line(r: tuple) -> str:
    engine, n, what, wall, rss, cpu, verdict = r
    rss_text = f"{rss:.0f}" if rss is not None else ""
    return f"| {engine} | {n} | {what} | {wall:.2f} | {cpu:.2f} | {rss_text} | {verdict} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--weeks", type=int, nargs="+", default=[26, 52])
    ap.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--data", type=Path, help="an existing gen_history.py output folder")
    ap.add_argument("--out", type=Path, help="write the table into this Markdown file")
    ap.add_argument("--campaigns", nargs="+", default=[], metavar="NAME",
                    help="store these campaigns at once (e.g. l2tp pptp ike) and time each; "
                         "targets are multiplied by their number")
    a = ap.parse_args()
    cache = Path(os.environ.get("VULNPIPE_BENCH_CACHE", ROOT / "benchmarks" / ".cache"))
    cache.mkdir(parents=True, exist_ok=True)
    data = a.data or history(a.hosts, max(a.weeks), cache)
    header = ("| database | weeks | what | seconds | CPU seconds | peak RSS MB | target |\n"
              "|---|---:|---|---:|---:|---:|---|")
    load_start = os.getloadavg()
    print(header)
    rows = []
    for engine in a.engines:
        with tempfile.TemporaryDirectory(prefix="vp-bench-history-", dir=cache) as tmp:
            rows += bench_engine(engine, data, sorted(a.weeks), Path(tmp), a.campaigns)
    growth = []
    if len(a.weeks) >= 2:
        lo, hi = sorted(a.weeks)[0], sorted(a.weeks)[-1]
        for engine in a.engines:
            for what in TARGETS:
                r1 = next((r for r in rows if r[:3] == (engine, lo, what)), None)
                r2 = next((r for r in rows if r[:3] == (engine, hi, what)), None)
                if r1 and r2:
                    growth.append(f"| {engine} | {what} | {r2[3] / r1[3]:.2f}x | "
                                  f"{r2[5] / r1[5]:.2f}x | {r2[4] / r1[4]:.2f}x |")
    if a.out:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        load = (f"Load average (1, 5, 15 min) at the start {', '.join(f'{x:.1f}' for x in load_start)}, "
                f"at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}: above 0 means other "
                "work shared the cores, and wall seconds overstate; CPU seconds (user + system, "
                "workers included) are the steadier figure.")
        text = [f"# History benchmark ({a.hosts} hosts; {', '.join(map(str, a.weeks))} weeks)", "",
                f"Machine: {machine}. Command: `{' '.join(sys.argv)}`.", "", load, "", header,
                *[_line(r) for r in rows], ""]
        if growth:
            text += [f"Growth from {sorted(a.weeks)[0]} to {sorted(a.weeks)[-1]} weeks (target "
                     "at most 1.2x; the whole-history pack excepted):", "",
                     "| database | what | wall time | CPU time | memory |", "|---|---|---:|---:|---:|",
                     *growth, ""]
        old = a.out.read_text() if a.out.exists() else ""
        kept = old.partition("\n## Monthly report\n")     # bench_monthly.py's section stays
        a.out.write_text("\n".join(text) + ("\n## Monthly report\n" + kept[2] if kept[1] else ""))
    for g in growth:
        print(g)


if __name__ == "__main__":
    main()
