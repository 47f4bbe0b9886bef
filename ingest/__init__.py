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

def __getattr__(name: str):
    """Inventory and matching load pandas: import them only when asked for."""
    if name in ("load_inventory", "Inventory"):
        from . import inventory
        return getattr(inventory, name)
    if name in ("match_hosts", "join_findings"):
        from . import matching
        return getattr(matching, name)
    raise AttributeError(name)


__all__ = [
    "Inventory", "join_findings", "load_inventory", "match_hosts",
    "FINDING_FIELDS", "Finding", "Host", "InputError", "NessusReader", "ParseError",
    "ParseStats", "Policy", "Profile", "Report", "Source", "VulnpipeError", "expand_inputs",
    "iter_findings", "iter_scan", "read_frames", "resolve_profile",
]
