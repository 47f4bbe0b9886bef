"""vulnpipe: Nessus exports in, owned and verified remediation out.

The library entry point. Everything the ``vulnpipe`` command does is a call here first::

    import vulnpipe

    # read exports (files, folders, .zip, .gz), any size, streaming
    for finding in vulnpipe.iter_findings(["scans/"], profile="l2tp"):
        print(finding.host.address, finding.plugin_id, finding.port)
    hosts, findings = vulnpipe.read_frames(["scans/2026-W48.nessus"])    # pandas DataFrames
    vulnpipe.write_findings(["scans/"], "l2tp.csv", fmt="csv",
                            profile=vulnpipe.resolve_profile("l2tp"))   # = `vulnpipe parse`

    # owners from the asset inventory
    inventory = vulnpipe.load_inventory("cmdb.csv")
    joined = vulnpipe.join_scans(["scans/"], inventory, profile=vulnpipe.resolve_profile("l2tp"))

    # the history store, tickets, the weekly report
    engine = vulnpipe.open_store("vulnpipe.db")               # or "postgresql://..."
    vulnpipe.ingest_scans(engine, ["scans/"], vulnpipe.resolve_profile("l2tp"))
    done = vulnpipe.export_tickets(engine, vulnpipe.resolve_profile("l2tp"),
                                   vulnpipe.TicketOutputs(xlsx=Path("tickets.xlsx")),
                                   inventory=inventory)

Defaults are the command line's: profile ``l2tp`` (L2TP Network Server Detection is Tenable
plugin 11387; plugin 68453 is an unrelated Oracle Linux advisory and never counts as L2TP).
The workflows are in :mod:`vulnpipe.workflows`; the records, readers and store they use are
in :mod:`vulnpipe.ingest`, the tickets, reports and evidence packs in :mod:`vulnpipe.reports`.
Names are imported when first used, so ``import vulnpipe`` is cheap.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_API: dict[str, str] = {
    # reading exports
    "iter_findings": "vulnpipe.ingest.nessus.read",
    "iter_scan": "vulnpipe.ingest.nessus.read",
    "read_frames": "vulnpipe.ingest.nessus.read",
    "expand_inputs": "vulnpipe.ingest.nessus.sources",
    "open_reader": "vulnpipe.ingest.nessus.readers",
    "ScanReader": "vulnpipe.ingest.nessus.readers",
    "NessusReader": "vulnpipe.ingest.nessus.reader",
    "ParseStats": "vulnpipe.ingest.nessus.build",
    "resolve_profile": "vulnpipe.ingest.profiles",
    "Profile": "vulnpipe.ingest.profiles",
    "coverage": "vulnpipe.ingest.coverage",
    # records and errors
    "Finding": "vulnpipe.ingest.records",
    "Host": "vulnpipe.ingest.records",
    "Policy": "vulnpipe.ingest.records",
    "Report": "vulnpipe.ingest.records",
    "FINDING_FIELDS": "vulnpipe.ingest.records",
    "iso": "vulnpipe.ingest.records",
    "VulnpipeError": "vulnpipe.ingest.errors",
    "InputError": "vulnpipe.ingest.errors",
    "ParseError": "vulnpipe.ingest.errors",
    # inventory and matching
    "load_inventory": "vulnpipe.ingest.assets.inventory",
    "Inventory": "vulnpipe.ingest.assets.inventory",
    "match_hosts": "vulnpipe.ingest.assets.matching",
    "join_findings": "vulnpipe.ingest.assets.matching",
    # configuration
    "load_config": "vulnpipe.config",
    "Config": "vulnpipe.config",
}
_WORKFLOWS = (
    "FindingsWritten", "Ingested", "Joined", "Reconciled", "ReportOutputs", "RunSummary",
    "TicketOutputs", "TicketsExported", "WeeklyBuilt", "build_evidence", "check_config",
    "choose_week", "evidence_period", "export_history", "export_tickets", "import_history",
    "ingest_scans", "inspect_scans",
    "join_scans", "load_inventory_for", "open_store", "reconcile_scans", "reconcile_store",
    "record_decision", "resolve_profile_for", "run_week", "schema_status", "stored_findings",
    "stored_scans", "ticket_settings", "tickets_from_scans", "upgrade_schema", "verify_evidence",
    "weekly_report", "write_findings", "write_joined", "write_weekly",
)
_API.update({name: "vulnpipe.workflows" for name in _WORKFLOWS})

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'vulnpipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from vulnpipe.config import Config, load_config
    from vulnpipe.ingest.assets.inventory import Inventory, load_inventory
    from vulnpipe.ingest.assets.matching import join_findings, match_hosts
    from vulnpipe.ingest.errors import InputError, ParseError, VulnpipeError
    from vulnpipe.ingest.nessus.build import ParseStats
    from vulnpipe.ingest.nessus.read import iter_findings, iter_scan, read_frames
    from vulnpipe.ingest.nessus.reader import NessusReader
    from vulnpipe.ingest.nessus.readers import ScanReader, open_reader
    from vulnpipe.ingest.nessus.sources import expand_inputs
    from vulnpipe.ingest.profiles import Profile, resolve_profile
    from vulnpipe.ingest.records import FINDING_FIELDS, Finding, Host, Policy, Report, iso
    from vulnpipe.workflows import (
        FindingsWritten,
        Ingested,
        Joined,
        Reconciled,
        ReportOutputs,
        RunSummary,
        TicketOutputs,
        TicketsExported,
        WeeklyBuilt,
        build_evidence,
        check_config,
        choose_week,
        evidence_period,
        export_history,
        export_tickets,
        import_history,
        ingest_scans,
        inspect_scans,
        join_scans,
        load_inventory_for,
        open_store,
        reconcile_scans,
        reconcile_store,
        record_decision,
        resolve_profile_for,
        run_week,
        schema_status,
        stored_findings,
        stored_scans,
        ticket_settings,
        tickets_from_scans,
        upgrade_schema,
        verify_evidence,
        weekly_report,
        write_findings,
        write_joined,
        write_weekly,
    )
