"""vulnpipe's readers: Nessus exports, profiles, coverage, inventories, the history store.

The notebook-friendly entry points::

    import ingest
    for finding in ingest.iter_findings(["scan.nessus"], profile="l2tp"):
        print(finding.host.address, finding.plugin_id, finding.port)
    hosts, findings = ingest.read_frames(["scan.nessus"])   # pandas DataFrames
"""
from __future__ import annotations

from .api import iter_findings, iter_scan, read_frames
from .errors import InputError, ParseError, VulnpipeError
from .nessus import NessusReader, ParseStats
from .profiles import Profile, resolve_profile
from .records import FINDING_FIELDS, Finding, Host, Policy, Report
from .sources import Source, expand_inputs

__all__ = [
    "FINDING_FIELDS", "Finding", "Host", "InputError", "NessusReader", "ParseError",
    "ParseStats", "Policy", "Profile", "Report", "Source", "VulnpipeError", "expand_inputs",
    "iter_findings", "iter_scan", "read_frames", "resolve_profile",
]
