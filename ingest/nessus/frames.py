"""Records as pandas DataFrames with explicit, stable dtypes."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from vulnpipe.ingest.records import FINDING_FIELDS, Finding, Host

HOST_DTYPES: dict[str, str] = {
    "scan_file": "string", "report_name": "string", "host": "string", "host_ip": "string",
    "host_fqdn": "string", "hostname": "string", "netbios_name": "string",
    "mac_address": "string", "os": "string", "credentialed": "boolean",
    "host_start": "datetime64[us, UTC]", "host_end": "datetime64[us, UTC]",
}

FINDING_DTYPES: dict[str, str] = {
    "scan_file": "string", "report_name": "string", "host": "string", "host_ip": "string",
    "host_fqdn": "string", "netbios_name": "string", "mac_address": "string", "os": "string",
    "credentialed": "boolean", "host_start": "datetime64[us, UTC]",
    "host_end": "datetime64[us, UTC]", "plugin_id": "Int64", "plugin_name": "string",
    "plugin_family": "string", "severity": "Int64", "risk_factor": "string", "port": "Int64",
    "protocol": "string", "svc_name": "string", "synopsis": "string", "solution": "string",
    "plugin_output": "string", "cve": "object", "cvss3_base_score": "Float64",
    "profile_role": "string",
}
assert tuple(FINDING_DTYPES) == FINDING_FIELDS

#: The findings frame: the record fields and the host's ``hostname`` tag (which the
#: inventory join matches on, like ``vulnpipe join``).
FRAME_DTYPES: dict[str, str] = {**FINDING_DTYPES, "hostname": "string"}


def _typed(rows: list[dict], dtypes: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(dtypes))
    for col, dtype in dtypes.items():
        if dtype.startswith("datetime64"):
            frame[col] = pd.to_datetime(frame[col], utc=True).astype(dtype)
        elif dtype != "object":
            frame[col] = frame[col].astype(dtype)
    return frame


def hosts_frame(hosts: Iterable[Host]) -> pd.DataFrame:
    rows = [{
        "scan_file": h.scan_file, "report_name": h.report_name, "host": h.name,
        "host_ip": h.host_ip, "host_fqdn": h.host_fqdn, "hostname": h.hostname,
        "netbios_name": h.netbios_name, "mac_address": h.mac_address, "os": h.os,
        "credentialed": h.credentialed, "host_start": h.host_start, "host_end": h.host_end,
    } for h in hosts]
    return _typed(rows, HOST_DTYPES)


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    rows = []
    for f in findings:
        rec = f.record()
        rec["host_start"], rec["host_end"] = f.host.host_start, f.host.host_end
        rec.setdefault("profile_role", None)
        rec["hostname"] = f.host.hostname
        rows.append(rec)
    return _typed(rows, FRAME_DTYPES)
