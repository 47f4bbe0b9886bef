"""Auditor evidence packs: reproducible, tamper-evident proof of remediation.

A pack is a zip holding ``index.html``, ``README.txt``, ``manifest.json`` (SHA-256 of every
other file), ``scans/<id>.json``, ``tickets/<KEY>.json|md``, ``poam.xlsx``, ``tickets.xlsx``
and ``reconciliation.xlsx`` (and optionally the original scans and a signature). The same
database state gives the same bytes; entry names come only from ticket keys and scan ids.

    from vulnpipe.reports.evidence import PackOptions, build_pack, verify_pack
"""
from __future__ import annotations

from vulnpipe.reports.evidence.build import PackOptions, PackSummary, build_pack, find_originals, pack_entries
from vulnpipe.reports.evidence.period import Period, between, quarter
from vulnpipe.reports.evidence.verify import Problem, VerifyResult, describe, verify_pack

__all__ = ["PackOptions", "PackSummary", "Period", "Problem", "VerifyResult", "between",
           "build_pack", "describe", "find_originals", "pack_entries", "quarter", "verify_pack"]
