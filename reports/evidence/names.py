"""Zip entry names of an evidence pack: made only from ticket keys and scan ids.

Scanner and inventory text (host names, plugin output, file names) never becomes part of an
entry name, so a ``ReportHost`` called ``../../etc/passwd`` cannot place a file anywhere.
:func:`unsafe_reason` is what ``vulnpipe evidence verify`` applies to every member of a pack
it is given (a pack from elsewhere may hold anything).
"""
from __future__ import annotations

import re

from vulnpipe.ingest.errors import VulnpipeError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
INDEX = "index.html"
README = "README.txt"
POAM = "poam.xlsx"
TICKETS_XLSX = "tickets.xlsx"
RECONCILIATION_XLSX = "reconciliation.xlsx"

_TICKET_KEY = re.compile(r"^VP-[0-9A-F]{10}$")
#: Every name vulnpipe writes matches this: lower-risk characters, at most one folder level.
SAFE_NAME = re.compile(r"^(?:(?:scans|tickets)/)?[A-Za-z0-9][A-Za-z0-9._-]*$")


def ticket_entry(key: str, suffix: str) -> str:
    """``tickets/<KEY>.<suffix>`` for a generated ticket key (``VP-`` and 10 hex digits)."""
    if not _TICKET_KEY.match(key):
        raise VulnpipeError(f"ticket key {key!r} is not a vulnpipe key (VP- and 10 hex digits)",
                            hint="rebuild the tickets with `vulnpipe tickets`")
    return f"tickets/{key}.{suffix}"


def scan_entry(scan_id: int, suffix: str) -> str:
    """``scans/<id>.<suffix>`` for a store-generated scan id."""
    if isinstance(scan_id, bool) or not isinstance(scan_id, int) or scan_id < 0:
        raise VulnpipeError(f"scan id {scan_id!r} is not a store id")
    return f"scans/{scan_id}.{suffix}"


def unsafe_reason(name: str) -> str | None:
    """Why a zip member name is unsafe to extract (absolute, ``..``, drive letter,
    backslash, control character, empty part), or None when it is a plain relative path."""
    if not name:
        return "empty name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in the name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/"):
        return "absolute path"
    if re.match(r"^[A-Za-z]:", name):
        return "drive letter"
    parts = name.split("/")
    if any(p == ".." for p in parts):
        return "'..' in the path"
    if any(p in ("", ".") for p in parts[:-1]) or parts[-1] in ("", "."):
        return "empty or '.' path part"
    return None
