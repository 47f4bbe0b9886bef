"""Benchmark: load a 100,000-asset CSV inventory and join 100,000 findings with it.

    .venv/bin/python benchmarks/bench_join.py [--assets N] [--findings N] [--seed S]

Prints the time of each step; the join itself should take seconds. The hosts are a mix:
matched by IP, FQDN, NetBIOS name, MAC and CIDR range, some ambiguous, some unmatched.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from vulnpipe.ingest.assets.inventory import load_inventory  # noqa: E402
from vulnpipe.ingest.assets.matching import join_findings, match_summary  # noqa: E402
from vulnpipe.ingest.assets.priority import DEFAULT_RULES  # noqa: E402

HEADER = ["Asset ID", "Hostname", "FQDN", "IP Address", "MAC Address", "Owner", "Owner Email",
          "Team", "Business Unit", "Environment", "Criticality", "Internet Facing", "OS",
          "Location"]


def ip_of(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def mac_of(i: int) -> str:
    return ":".join(f"{b:02x}" for b in (0x02, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255, 1))


def write_inventory(path: Path, n: int, rng: random.Random) -> None:
    crit = ["critical", "high", "medium", "low", ""]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n - 100):
            ips = ip_of(i) if i % 50 else f"{ip_of(i)}; 2001:db8::{i >> 16:x}:{i & 0xffff:x}"
            if i % 1000 == 999:      # a stale CMDB row: the previous asset's IP as well
                ips += f"; {ip_of(i - 1)}"
            w.writerow([f"A{i:06d}", f"host{i}", f"host{i}.corp.example", ips, mac_of(i),
                        f"owner{i % 300}", f"owner{i % 300}@corp.example", f"team{i % 40}",
                        f"bu{i % 7}", rng.choice(["prod", "test", "dev"]), rng.choice(crit),
                        rng.choice(["yes", "no", ""]), "Linux", "Paris"])
        for j in range(100):   # network rows: /16 and /24 ranges outside the host space
            w.writerow([f"NET{j:03d}", "", "", f"172.{16 + j % 16}.{j}.0/24", "", f"net{j}",
                        "", "Network", "IT", "", "low", "", "", ""])
        w.writerow(["NETWIDE", "", "", "172.16.0.0/12", "", "netops", "", "Network", "IT", "",
                    "medium", "", "", ""])


def make_findings(n_findings: int, n_assets: int, rng: random.Random) -> pd.DataFrame:
    start = datetime(2024, 3, 4, tzinfo=timezone.utc)
    rows = []
    for k in range(n_findings):
        i = rng.randrange(n_assets - 100)
        kind = rng.random()
        host_ip = ip_of(i)
        fqdn = netbios = mac = None
        if kind < 0.10:                       # scanned by another address, known by FQDN
            host_ip, fqdn = f"192.168.{k >> 8 & 255}.{k & 255}", f"host{i}.corp.example"
        elif kind < 0.20:                     # known by NetBIOS name
            host_ip, netbios = f"192.168.{k >> 8 & 255}.{k & 255}", f"HOST{i}"
        elif kind < 0.25:                     # known by MAC
            host_ip, mac = f"192.168.{k >> 8 & 255}.{k & 255}", mac_of(i)
        elif kind < 0.35:                     # only a CIDR range owns it
            host_ip = f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif kind < 0.40:                     # nobody knows it
            host_ip = f"198.51.{k >> 8 & 255}.{k & 255}"
        rows.append({"scan_file": "bench.nessus", "report_name": "bench", "host": host_ip,
                     "host_ip": host_ip, "host_fqdn": fqdn, "netbios_name": netbios,
                     "mac_address": mac, "plugin_id": 11387 if k % 3 else 10622,
                     "port": 1701 if k % 3 else 1723, "protocol": "udp" if k % 3 else "tcp",
                     "severity": 0, "profile_role": "primary" if k % 3 else "related",
                     "host_start": start - timedelta(days=7 * (k % 4))})
    frame = pd.DataFrame(rows)
    frame["host_start"] = pd.to_datetime(frame["host_start"], utc=True)
    return frame


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=100_000)
    p.add_argument("--findings", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as d:
        inv_path = Path(d) / "inventory.csv"
        write_inventory(inv_path, args.assets, rng)
        findings = make_findings(args.findings, args.assets, rng)
        t0, c0 = time.perf_counter(), time.process_time()
        inventory = load_inventory(inv_path)
        t1, c1 = time.perf_counter(), time.process_time()
        joined = join_findings(findings, inventory, DEFAULT_RULES, "secops")
        t2, c2 = time.perf_counter(), time.process_time()
    s = match_summary(joined)
    print(f"load inventory: {len(inventory.assets):,} assets in {t1 - t0:.2f} s "
          f"(CPU {c1 - c0:.2f} s; {len(inventory.issues)} data-quality issue(s))")
    print(f"join: {len(joined):,} findings on {s['hosts']:,} hosts in {t2 - t1:.2f} s "
          f"(CPU {c2 - c1:.2f} s)")
    print(f"matched by ip {s['ip']:,}, fqdn {s['fqdn']:,}, hostname {s['hostname']:,}, "
          f"mac {s['mac']:,}, cidr {s['cidr']:,}; ambiguous {s['ambiguous']:,}, "
          f"unmatched {s['unmatched']:,}")
    print(f"priorities: {joined['priority'].value_counts().sort_index().to_dict()}")


if __name__ == "__main__":
    main()
