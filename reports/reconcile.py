"""Reconciling a baseline against rescans: which fixes are proved, and which are not.

Nessus omits what it did not see, so a finding absent from a rescan is ``fixed`` only when
the host was in a rescan whose coverage says it could have reported the finding. Otherwise
it is ``not_rescanned`` (the host is in no rescan) or ``not_covered`` (every rescan holding
the host could not have seen it; the reason says why).

    from vulnpipe.reports.reconcile import load_scans, reconcile
    result = reconcile(load_scans(["w48.nessus"], "l2tp"), load_scans(["rescan.nessus"], "l2tp"))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

from vulnpipe.ingest.coverage import COVERED, coverage
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import expand_inputs
from vulnpipe.ingest.profiles import Profile, resolve_profile
from vulnpipe.ingest.records import Finding, Host, Policy, iso
from vulnpipe.reports.hosts import host_name

STILL_OPEN, FIXED, NOT_RESCANNED, NOT_COVERED, NEW = (
    "still_open", "fixed", "not_rescanned", "not_covered", "new")
STATUSES = (STILL_OPEN, FIXED, NOT_RESCANNED, NOT_COVERED, NEW)
#: Statuses whose hosts still need a rescan that covers them (``--targets-out``).
NEEDS_RESCAN = (NOT_RESCANNED, NOT_COVERED, STILL_OPEN)
RESULT_FIELDS = ("host", "host_ip", "asset_id", "plugin_id", "plugin_name", "port", "protocol",
                 "status", "reason", "baseline_scan", "rescan_scan", "baseline_seen",
                 "rescan_seen")


@dataclass
class ScanData:
    """One scan file, read whole: its policy, every host, the profile's findings."""

    name: str
    policy: Policy | None
    hosts: list[Host]
    findings: list[Finding]
    start: datetime | None = None


def load_scans(inputs: Iterable[str | Path], profile: Profile | str = "l2tp") -> list[ScanData]:
    """Read scan files (files, directories, zips) into :class:`ScanData`, in input order."""
    prof = profile if isinstance(profile, Profile) else resolve_profile(profile)
    out = []
    for source in expand_inputs(inputs):
        reader = open_reader(source, prof, digest=False)
        hosts, findings = reader.read_all()
        starts = [h.host_start for h in hosts if h.host_start]
        out.append(ScanData(source.name, reader.policy, hosts, findings,
                            min(starts) if starts else None))
    return out


@dataclass(frozen=True)
class Row:
    host: str
    host_ip: str | None
    asset_id: str | None
    plugin_id: int
    plugin_name: str | None
    port: int
    protocol: str
    status: str
    reason: str
    baseline_scan: str | None
    rescan_scan: str | None
    baseline_seen: str | None
    rescan_seen: str | None
    name: str | None = None     # how people know the host (not in RESULT_FIELDS): FQDN, ...

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in RESULT_FIELDS}


@dataclass
class ReconcileResult:
    rows: list[Row] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for r in self.rows:
            counts[r.status] += 1
        return counts

    def as_json(self) -> dict:
        return {"summary": self.summary, "findings": [r.as_dict() for r in self.rows]}

    def targets(self) -> list[str]:
        """Addresses that still need a covering rescan, sorted, unique."""
        return sorted({r.host_ip or r.host for r in self.rows if r.status in NEEDS_RESCAN},
                      key=address_order)

    def write(self, fmt: str, out: str | Path) -> None:
        """Write the result as json, csv or xlsx (see :func:`write_outputs`)."""
        write_outputs(self, fmt, out)


def address_order(text: str):
    import ipaddress

    try:
        ip = ipaddress.ip_address(text)
        return (0, ip.version, int(ip), "")
    except ValueError:
        return (1, 0, 0, text)


AssetOf = Callable[[Host], tuple[str, str | None]]   # host -> (identity key, asset id or None)


def by_address(host: Host) -> tuple[str, str | None]:
    """Hosts are the same when their normalised address is (``host-ip``, not the name)."""
    return host.address, None


def _name(host: Host) -> str | None:
    return host_name(host.host_fqdn, host.netbios_name, host.name, host.address)


def _key(f: Finding) -> tuple[int, int, str]:
    return (f.plugin_id or 0, f.port or 0, (f.protocol or "").lower())


def reconcile(baseline: Sequence[ScanData], rescans: Sequence[ScanData],
              asset_of: AssetOf = by_address) -> ReconcileResult:
    """Judge every finding key (asset or host, plugin, port, protocol) of the baseline and
    the rescans. Several rescan files are allowed: the host is judged by every rescan that
    holds it, and one covering rescan is enough to prove a fix."""
    base: dict[tuple, tuple[Finding, ScanData, str | None]] = {}
    for scan in baseline:
        for f in scan.findings:
            ident, asset_id = asset_of(f.host)
            base.setdefault((ident, *_key(f)), (f, scan, asset_id))
    seen: dict[tuple, tuple[Finding, ScanData, str | None]] = {}
    held: dict[str, list[tuple[ScanData, Host]]] = {}
    ordered = sorted(rescans, key=lambda s: (s.start is None, s.start or datetime.min, s.name))
    for scan in ordered:
        for h in scan.hosts:
            held.setdefault(asset_of(h)[0], []).append((scan, h))
        for f in scan.findings:
            ident, asset_id = asset_of(f.host)
            seen.setdefault((ident, *_key(f)), (f, scan, asset_id))
    rows = []
    for k, (f, scan, asset_id) in base.items():
        ident = k[0]
        common = dict(host=f.host.name, host_ip=f.host.host_ip, asset_id=asset_id,
                      plugin_id=f.plugin_id or 0, plugin_name=f.plugin_name, port=k[2],
                      protocol=k[3], baseline_scan=scan.name,
                      baseline_seen=iso(f.host.host_start), name=_name(f.host))
        if k in seen:
            rf, rscan, _ = seen[k]
            rows.append(Row(**common, status=STILL_OPEN, reason="reported again by the rescan",
                            rescan_scan=rscan.name, rescan_seen=iso(rf.host.host_start)))
            continue
        holders = held.get(ident, [])
        if not holders:
            rows.append(Row(**common, status=NOT_RESCANNED, reason="host in no rescan",
                            rescan_scan=None, rescan_seen=None))
            continue
        reasons = []
        decided = None
        for rscan, h in holders:
            cov = coverage(rscan.policy, h, plugin_id=f.plugin_id, family=f.plugin_family,
                           port=f.port, protocol=f.protocol, plugin_type=f.plugin_type)
            if cov.status == COVERED:
                decided = (rscan, h)
                break
            reasons.append(f"{cov.reason} ({rscan.name})")
        if decided:
            rscan, h = decided
            rows.append(Row(**common, status=FIXED,
                            reason="absent from a rescan that covered it (plugin enabled, "
                                   "port in range, host scanned)",
                            rescan_scan=rscan.name, rescan_seen=iso(h.host_start)))
        else:
            rows.append(Row(**common, status=NOT_COVERED, reason="; ".join(reasons),
                            rescan_scan=None, rescan_seen=None))
    for k, (f, rscan, asset_id) in seen.items():
        if k in base:
            continue
        rows.append(Row(host=f.host.name, host_ip=f.host.host_ip, asset_id=asset_id,
                        plugin_id=f.plugin_id or 0, plugin_name=f.plugin_name, port=k[2],
                        protocol=k[3], status=NEW, reason="absent from the baseline",
                        baseline_scan=None, rescan_scan=rscan.name, baseline_seen=None,
                        rescan_seen=iso(f.host.host_start), name=_name(f.host)))
    rows.sort(key=lambda r: (address_order(r.host_ip or r.host), r.plugin_id, r.port, r.protocol))
    return ReconcileResult(rows)


def inventory_asset_of(hosts: Sequence[Host], inventory) -> AssetOf:
    """Match hosts to the inventory once; hosts of one asset share its identity (so a host
    that changed address keeps its history). Unmatched hosts keep their address."""
    import pandas as pd

    from vulnpipe.ingest.assets.matching import match_hosts
    from vulnpipe.ingest.nessus.frames import hosts_frame

    unique: dict[tuple, Host] = {}
    for h in hosts:
        unique.setdefault((h.name, h.host_ip, h.host_fqdn, h.hostname, h.netbios_name,
                           h.mac_address), h)
    frame = hosts_frame(unique.values())
    matched = match_hosts(frame, inventory)
    table = {}
    for ident, key in zip(matched["asset_id"].tolist(), unique):
        table[key] = None if ident is None or ident is pd.NA else str(ident)

    def asset_of(host: Host) -> tuple[str, str | None]:
        asset_id = table.get((host.name, host.host_ip, host.host_fqdn, host.hostname,
                              host.netbios_name, host.mac_address))
        return (f"asset:{asset_id}", asset_id) if asset_id else (host.address, None)

    return asset_of


def write_outputs(result: ReconcileResult, fmt: str, out: str | Path) -> None:
    """JSON (summary + findings), CSV or XLSX (findings + a summary sheet), atomically."""
    import csv
    import io
    import json

    from vulnpipe.reports.writers.cells import csv_text
    from vulnpipe.reports.writers.output import open_output

    if fmt == "json":
        with open_output(out) as fh:
            fh.write((json.dumps(result.as_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(RESULT_FIELDS)
        for r in result.rows:
            w.writerow([csv_text(v) for v in r.as_dict().values()])
        with open_output(out) as fh:
            fh.write(buf.getvalue().encode("utf-8"))
    else:
        write_xlsx_result(result, out)


def _dt(text: str | None):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") if text else None


def write_xlsx_result(result: ReconcileResult, out: str | Path) -> None:
    from vulnpipe.reports.writers.xlsx import Sheet, write_xlsx

    rows = [[r.name, r.host_ip or r.host, r.asset_id, r.plugin_id, r.plugin_name, r.port,
             r.protocol, r.status, r.reason, r.baseline_scan, _dt(r.baseline_seen), r.rescan_scan,
             _dt(r.rescan_seen)] for r in result.rows]
    cols = ("Host", "Address", "Asset ID", "Plugin ID", "Plugin name", "Port", "Protocol",
            "Status", "Reason", "Baseline scan", "Baseline seen", "Rescan scan", "Rescan seen")
    summary = [(s, n) for s, n in result.summary.items()]
    write_xlsx(out, [Sheet("Reconciliation", cols, rows, wrap=frozenset({"Plugin name", "Reason"}),
                           choices={"Status": STATUSES}),
                     Sheet("Summary", ("Status", "Findings"), summary)])
