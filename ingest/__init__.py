"""vulnpipe's readers: Nessus exports, profiles, coverage, inventories, the history store.

The notebook-friendly entry points::

    from vulnpipe import ingest
    for finding in ingest.iter_findings(["scan.nessus"], profile="l2tp"):
        print(finding.host.address, finding.plugin_id, finding.port)
    hosts, findings = ingest.read_frames(["scan.nessus"])   # pandas DataFrames
"""
from __future__ import annotations

from vulnpipe.ingest.errors import InputError, ParseError, VulnpipeError
from vulnpipe.ingest.nessus.build import ParseStats
from vulnpipe.ingest.nessus.read import iter_findings, iter_scan, read_frames
from vulnpipe.ingest.nessus.reader import NessusReader
from vulnpipe.ingest.nessus.sources import Source, expand_inputs
from vulnpipe.ingest.profiles import Profile, resolve_profile
from vulnpipe.ingest.records import FINDING_FIELDS, Finding, Host, Policy, Report


def __getattr__(name: str):
    """Inventory and matching load pandas: import them only when asked for."""
    if name in ("load_inventory", "Inventory"):
        from vulnpipe.ingest.assets import inventory
        return getattr(inventory, name)
    if name in ("match_hosts", "join_findings"):
        from vulnpipe.ingest.assets import matching
        return getattr(matching, name)
    raise AttributeError(name)


__all__ = [
    "Inventory", "join_findings", "load_inventory", "match_hosts",
    "FINDING_FIELDS", "Finding", "Host", "InputError", "NessusReader", "ParseError",
    "ParseStats", "Policy", "Profile", "Report", "Source", "VulnpipeError", "expand_inputs",
    "iter_findings", "iter_scan", "read_frames", "resolve_profile",
]
