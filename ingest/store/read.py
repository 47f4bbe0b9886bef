"""Reading the store back: scans, coverage (as :class:`~ingest.records.Policy`), hosts, findings."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator, overload

from sqlalchemy import select
from sqlalchemy.engine import Connection

from vulnpipe.ingest.errors import InputError
from vulnpipe.ingest.records import FINDING_FIELDS, Host, Policy, iso
from vulnpipe.ingest.store.schema import findings, hosts, scan_coverage, scans

SCAN_FIELDS = ("id", "file_name", "sha256", "size", "report_name", "policy_name",
               "scanner_kind", "profile", "first_host_start", "last_host_end", "hosts_count",
               "items_count", "findings_count", "ingested_at")


@overload
def utc(dt: datetime) -> datetime: ...
@overload
def utc(dt: None) -> None: ...
def utc(dt: datetime | None) -> datetime | None:
    """A stored (naive UTC) datetime as an aware UTC datetime."""
    return dt.replace(tzinfo=timezone.utc) if dt is not None else None


@overload
def stored(dt: datetime) -> datetime: ...
@overload
def stored(dt: None) -> None: ...
def stored(dt: datetime | None) -> datetime | None:
    """An aware datetime as the store keeps it: naive, in UTC (the inverse of :func:`utc`)."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt is not None else None


def list_scans(conn: Connection) -> list[dict[str, Any]]:
    """Every stored scan, oldest scan time first."""
    rows = conn.execute(select(*[scans.c[f] for f in SCAN_FIELDS])
                        .order_by(scans.c.first_host_start, scans.c.id)).mappings()
    return [dict(r) for r in rows]


def has_scans(conn: Connection) -> bool:
    return conn.execute(select(scans.c.id).limit(1)).first() is not None


def resolve_scan(conn: Connection, which: str | int | None) -> int | None:
    """``latest`` (newest scan time), a scan id, or None for every scan."""
    if which is None or which == "all":
        return None
    if str(which) == "latest":
        scan_id = conn.execute(select(scans.c.id).order_by(
            scans.c.first_host_start.desc(), scans.c.id.desc()).limit(1)).scalar()
        if scan_id is None:
            raise InputError("the store holds no scans", hint="run `vulnpipe ingest SCAN...` first")
        return int(scan_id)
    try:
        scan_id = int(which)
    except ValueError:
        raise InputError(f"--scan {which!r} is not a scan id or 'latest'",
                         hint="see `vulnpipe scans`") from None
    if conn.execute(select(scans.c.id).where(scans.c.id == scan_id)).scalar() is None:
        raise InputError(f"no scan with id {scan_id}", hint="see `vulnpipe scans`")
    return scan_id


def load_policy(conn: Connection, scan_id: int) -> Policy | None:
    """The scan's policy facts as a :class:`Policy` (None when the file had no policy)."""
    row = conn.execute(select(scan_coverage, scans.c.policy_name, scans.c.scanner_kind)
                       .join(scans, scans.c.id == scan_coverage.c.scan_id)
                       .where(scan_coverage.c.scan_id == scan_id)).mappings().first()
    if row is None or not row["has_policy"]:
        return None
    return Policy(
        name=row["policy_name"],
        plugin_set=frozenset(row["plugin_set"]) if row["plugin_set"] is not None else None,
        port_range=row["port_range"], targets=row["targets"],
        scanner_kind=row["scanner_kind"] or "nessus",
        families=tuple(tuple(x) for x in row["families"]),
        plugins=tuple((int(p), f, s) for p, f, s in row["plugins"]),
        preferences=tuple(tuple(x) for x in row["preferences"]),
    )


def host_from_row(row: Any, scan_file: str) -> Host:
    macs = tuple((row["mac_address"] or "").split(";")) if row["mac_address"] else ()
    return Host(scan_file=scan_file, report_name=row["report_name"], name=row["name"],
                host_ip=row["host_ip"], host_fqdn=row["host_fqdn"], hostname=row["hostname"],
                netbios_name=row["netbios_name"], mac_addresses=macs, os=row["os"],
                credentialed=row["credentialed"], host_start=utc(row["host_start"]),
                host_end=utc(row["host_end"]))


def iter_finding_records(conn: Connection, scan_id: int | None = None) -> Iterator[dict[str, Any]]:
    """Stored findings as records with :data:`~ingest.records.FINDING_FIELDS`, in scan,
    host and item order (the same fields ``vulnpipe parse`` writes)."""
    q = (select(scans.c.file_name, hosts, findings)
         .join(hosts, (hosts.c.scan_id == findings.c.scan_id) & (hosts.c.host_seq == findings.c.host_seq))
         .join(scans, scans.c.id == findings.c.scan_id)
         .order_by(findings.c.scan_id, findings.c.host_seq, findings.c.item_seq))
    if scan_id is not None:
        q = q.where(findings.c.scan_id == scan_id)
    for row in conn.execution_options(yield_per=2000).execute(q).mappings():
        rec = {
            "scan_file": row["file_name"], "report_name": row["report_name"], "host": row["name"],
            "host_ip": row["host_ip"], "host_fqdn": row["host_fqdn"],
            "netbios_name": row["netbios_name"], "mac_address": row["mac_address"],
            "os": row["os"], "credentialed": row["credentialed"],
            "host_start": iso(row["host_start"]), "host_end": iso(row["host_end"]),
            "plugin_id": row["plugin_id"], "plugin_name": row["plugin_name"],
            "plugin_family": row["plugin_family"], "severity": row["severity"],
            "risk_factor": row["risk_factor"], "port": row["port"], "protocol": row["protocol"],
            "svc_name": row["svc_name"], "synopsis": row["synopsis"], "solution": row["solution"],
            "plugin_output": row["plugin_output"], "cve": list(row["cve"] or []),
            "cvss3_base_score": row["cvss3_base_score"],
        }
        if row["profile_role"]:
            rec["profile_role"] = row["profile_role"]
        yield {k: rec[k] for k in FINDING_FIELDS if k in rec}
