"""Ingest benchmark: ``vulnpipe ingest`` of a ~200 MB export into SQLite and PostgreSQL,
with profiles ``l2tp`` and ``all``, against ``vulnpipe parse`` of the same file in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--runs 3] [--size 200MB|1GB] [--profiles l2tp,all]
        [--pg postgresql://postgres@127.0.0.1:5432/test]

Each ingest goes into an empty store whose schema was created beforehand (a new SQLite
file; a new PostgreSQL database created next to the --pg URL, or VULNPIPE_TEST_PG_URL), as
in the weekly job, which adds to an existing store; creating the schema is not timed.
Prints a table with the ratio to ``parse`` and findings per second. Timings are reported,
never asserted.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PY, ROOT, ensure_input, measure  # noqa: E402


def _pg_db(base: str) -> tuple[str, str]:
    import psycopg

    name = f"vp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, base.rsplit("/", 1)[0] + "/" + name


def _drop(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _findings(path: Path, profile: str) -> int:
    sys.path.insert(0, str(ROOT))
    from vulnpipe.ingest import resolve_profile
    from vulnpipe.ingest.nessus.readers import open_reader
    from vulnpipe.ingest.nessus.sources import expand_inputs

    reader = open_reader(next(expand_inputs([path])), resolve_profile(profile))
    return sum(len(items) for _h, items in reader.hosts())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("VULNPIPE_TEST_PG_URL"))
    ap.add_argument("--size", choices=["200MB", "1GB"], default="200MB")
    ap.add_argument("--profiles", default="l2tp,all", help="comma-separated (default l2tp,all)")
    ap.add_argument("--out", help="also append the table to this Markdown file")
    args = ap.parse_args()
    path = ensure_input(args.size)
    rows = []
    for profile in args.profiles.split(","):
        n = _findings(path, profile)
        parse = [measure([PY, "-m", "vulnpipe", "parse", str(path), "--profile", profile,
                          "--out", "/dev/null"]) for _ in range(args.runs)]
        base = statistics.median(w for w, _r, _s in parse)
        rows.append((f"parse --profile {profile}", base, max(r for _w, r, _s in parse), 1.0, n / base))
        for engine in ("sqlite", "postgresql"):
            if engine == "postgresql" and not args.pg:
                continue
            walls, rss = [], []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    if engine == "sqlite":
                        url, name = str(Path(tmp) / "b.db"), None
                    else:
                        name, url = _pg_db(args.pg)
                    try:
                        subprocess.run([PY, "-m", "vulnpipe", "-q", "db", "upgrade", "--db", url],
                                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
                        wall, peak, status = measure([PY, "-m", "vulnpipe", "ingest", str(path),
                                                      "--db", url, "--profile", profile])
                    finally:
                        if name:
                            _drop(args.pg, name)
                    if status != 0:
                        sys.exit(f"ingest into {engine} failed (exit {status})")
                    walls.append(wall)
                    rss.append(peak)
            med = statistics.median(walls)
            rows.append((f"ingest --profile {profile} -> {engine}", med, max(rss), med / base, n / med))
    lines = [f"### {path.name} ({path.stat().st_size / 1e6:.0f} MB), median of {args.runs} runs, "
             f"{_dt.date.today().isoformat()}", "",
             "| case | seconds | peak RSS MB | x parse | findings/s |", "|---|---:|---:|---:|---:|"]
    for label, sec, mb, ratio, rate in rows:
        lines.append(f"| {label} | {sec:.2f} | {mb:.0f} | {ratio:.2f} | {rate:,.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        if not Path(args.out).exists():
            Path(args.out).write_text(
                "# Ingest benchmark results\n\nMade by `benchmarks/bench_ingest.py`; each "
                "ingest goes into a store whose schema was made beforehand. The machine is the "
                "one of RESULTS.md's latest run.\n", encoding="utf-8")
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
