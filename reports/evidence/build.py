"""Building an evidence pack: collect, render, hash, sign, zip (atomically).

    from vulnpipe.reports.evidence import PackOptions, build_pack
    with engine.connect() as conn:
        summary = build_pack(conn, "evidence.zip", PackOptions(profile=resolve_profile("l2tp")))
"""
from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.engine import Connection

from vulnpipe.ingest.errors import InputError, VulnpipeError, mask_secrets
from vulnpipe.ingest.profiles import Profile
from vulnpipe.ingest.records import iso
from vulnpipe.reports.evidence import names
from vulnpipe.reports.evidence.collect import Evidence, collect
from vulnpipe.reports.evidence.manifest import FileEntry, manifest_bytes
from vulnpipe.reports.evidence.packzip import Content, stream_sha256, write_zip
from vulnpipe.reports.evidence.period import Period
from vulnpipe.reports.evidence.poam import PoamHeader
from vulnpipe.reports.evidence.render import json_bytes, render_index, render_readme, render_ticket_md
from vulnpipe.reports.tickets.build import TicketSettings
from vulnpipe.reports.tickets.model import priority_rank
from vulnpipe.reports.writers.output import atomic_path

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory


@dataclass(frozen=True)
class PackOptions:
    """What to put in a pack. ``raw_dir`` set means: include the original scan files found
    there (matched by SHA-256). ``database`` is recorded with every password masked."""

    profile: Profile
    period: Period = Period()
    tickets: tuple[str, ...] = ()
    generated_at: datetime | None = None
    raw_dir: Path | None = None
    sign_key: Path | None = None
    inventory: "Inventory | None" = None
    settings: TicketSettings = TicketSettings()
    knowledge_dirs: tuple[Path, ...] = ()
    database: str = ""
    version: str = ""
    #: ``notify(level, line)``: what was skipped on the way (a damaged file in ``raw_dir``)
    notify: Callable[[str, str], None] | None = None
    poam: PoamHeader = PoamHeader()


@dataclass(frozen=True)
class PackSummary:
    """What was written."""

    path: Path
    files: int
    size: int
    tickets: int
    scans: int
    originals: int
    signed: bool
    states: dict[str, int]
    manifest_sha256: str = ""          # the pack's fingerprint, for the auditor to record


def find_originals(raw_dir: Path, wanted: dict[int, tuple[str, int, str]],
                   notify: Callable[[str, str], None] | None = None) -> dict[int, Content]:
    """The original file of each wanted scan (id -> (sha256, size, file name)) found under
    ``raw_dir`` (``.nessus``, ``.nessus.gz``, ``.zip`` members), matched by SHA-256 of the
    document. A file there that cannot be read (a damaged archive) is skipped and reported
    through ``notify`` (``("note", line)``). Refuses, naming every scan, when one is missing."""
    from vulnpipe.ingest.nessus.sources import iter_sources

    by_sha = {sha: sid for sid, (sha, _size, _name) in wanted.items()}
    sizes = {size for _sha, size, _name in wanted.values()}
    found: dict[int, Content] = {}
    errors: list[VulnpipeError] = []
    if not raw_dir.exists():
        raise InputError("--raw-dir: no such folder", path=raw_dir, hint="check the path")
    for source in iter_sources([raw_dir], errors):
        plain = source.name == source.path.name and not source.path.name.lower().endswith(".gz")
        if plain and source.path.stat().st_size not in sizes:
            continue
        try:
            sha, _size = stream_sha256(source)
        except VulnpipeError as exc:        # a damaged archive: the other files are searched
            errors.append(exc)
            continue
        sid = by_sha.get(sha)
        if sid is not None and sid not in found:
            found[sid] = source
    for skipped in errors:
        if notify is not None:
            notify("note", f"skipped in --raw-dir: {skipped}")
    missing = sorted(set(wanted) - set(found))
    if missing:
        listed = ", ".join(f"scan {sid} ({wanted[sid][2]}, sha256 {wanted[sid][0][:12]}…)" for sid in missing)
        unread = f"; {len(errors)} file(s) there could not be read" if errors else ""
        raise InputError(f"--raw-dir holds no original for {listed}{unread}", path=raw_dir,
                         hint="put the original .nessus files there, or build without --include-raw")
    return found


def _scan_covered(doc: dict) -> str:
    parts = []
    for p in doc["profile_plugins"]:
        word = {True: "yes", False: "no", None: "unknown"}[p["covered"]]
        parts.append(f"{p['plugin_id']}: {word}")
    return ", ".join(parts) or "-"


def _scan_detects(doc: dict) -> str:
    d = doc["detection"]
    word = {True: "yes", False: "no", None: "unknown"}[d["detectable"]]
    return word + (f": {d['reason']}" if d["reason"] else "")


def _period_text(period: Period) -> str:
    if not period.bounded:
        return period.label
    return (f"{period.label} ({iso(period.start) if period.start else 'the beginning'} to "
            f"{iso(period.end) if period.end else 'the latest scan'}, end exclusive)")


def _pack_context(ev: Evidence, opts: PackOptions, raw: dict[int, str]) -> dict[str, Any]:
    states = Counter(d["state"] for d in ev.tickets.values())
    return {
        "profile": ev.profile, "period": _period_text(ev.period), "bounded": ev.period.bounded,
        "as_of": iso(ev.as_of), "requested_tickets": list(ev.requested_tickets),
        "database": mask_secrets(opts.database), "version": opts.version,
        "generated_at": iso(opts.generated_at) if opts.generated_at else None,
        "states": sorted(states.items()),
        "tickets": sorted(ev.tickets.values(),       # what matters first: priority, then age
                          key=lambda d: (priority_rank(d["priority"]), d["first_seen"], d["key"])),
        "scans": [{**{k: s.doc[k] for k in ("scan_id", "file_name", "policy_name",
                                            "first_host_start", "hosts_count", "sha256")},
                   "covered": _scan_covered(s.doc), "detects": _scan_detects(s.doc),
                   "raw": raw.get(sid)}
                  for sid, s in sorted(ev.scans.items())],
        "campaign": opts.profile.campaign,
        "signed": opts.sign_key is not None, "raw": bool(raw),
    }


def poam_workbook_sheets(conn: Connection, ev: Evidence, views: list[dict],
                         header: PoamHeader) -> list[Any]:
    """The POA&M's sheets, each item's Scheduled Completion Date frozen in the store the first
    time a POA&M carries it."""
    from vulnpipe.ingest.store.history import frozen_completion_dates
    from vulnpipe.reports.evidence.poam import poam_items, poam_sheets

    scheduled = frozen_completion_dates(conn, poam_items(ev.tickets, views), ev.as_of)
    return poam_sheets(ev.tickets, views, header, scheduled, ev.as_of.date())


def _workbooks(ev: Evidence, views: list[dict], poam: list[Any]) -> dict[str, bytes]:
    from vulnpipe.reports.reconcile import ReconcileResult, write_xlsx_result
    from vulnpipe.reports.tickets.export import write_xlsx_tickets
    from vulnpipe.reports.tickets.view import data_quality_rows
    from vulnpipe.reports.writers.xlsx import write_xlsx

    out = {}
    with tempfile.TemporaryDirectory(prefix="vulnpipe-evidence-") as tmp:
        d = Path(tmp)
        write_xlsx(d / names.POAM, poam)
        write_xlsx_tickets(views, d / names.TICKETS_XLSX, data_quality_rows(ev.built))
        write_xlsx_result(ReconcileResult(list(ev.reconcile_rows)), d / names.RECONCILIATION_XLSX)
        for name in (names.POAM, names.TICKETS_XLSX, names.RECONCILIATION_XLSX):
            out[name] = (d / name).read_bytes()
    return out


def pack_entries(conn: Connection, opts: PackOptions) -> tuple[dict[str, Content], Evidence]:
    """Every member of the pack (name -> bytes, or a source streamed at write time)."""
    if opts.sign_key is not None:
        from vulnpipe.reports.evidence.signing import load_private_key

        load_private_key(opts.sign_key)          # a bad key fails before any work
    ev, views = collect(conn, opts.profile, period=opts.period, ticket_keys=opts.tickets,
                        generated_at=opts.generated_at, inventory=opts.inventory,
                        settings=opts.settings, knowledge_dirs=opts.knowledge_dirs)
    entries: dict[str, Content] = {}
    originals: dict[int, Content] = {}
    if opts.raw_dir is not None:
        originals = find_originals(Path(opts.raw_dir), {sid: (s.sha256, s.size, s.file_name)
                                                        for sid, s in ev.scans.items()},
                                   opts.notify)
    raw_names = {sid: names.scan_entry(sid, "nessus") for sid in originals}
    for sid, s in ev.scans.items():
        doc = dict(s.doc, original_file=raw_names.get(sid))
        entries[names.scan_entry(sid, "json")] = json_bytes(doc)
    for sid, src in originals.items():
        entries[raw_names[sid]] = src
    for key, doc in ev.tickets.items():
        entries[names.ticket_entry(key, "json")] = json_bytes(doc)
        entries[names.ticket_entry(key, "md")] = render_ticket_md(doc)
    entries.update(_workbooks(ev, views, poam_workbook_sheets(conn, ev, views, opts.poam)))
    context = _pack_context(ev, opts, raw_names)
    entries[names.INDEX] = render_index(context)
    entries[names.README] = render_readme(context)
    files = []
    for name, content in entries.items():
        if isinstance(content, bytes):
            files.append(FileEntry.of(name, content))
        else:       # an original: its hash and size were checked against the store
            s = ev.scans[int(name.split("/")[1].split(".")[0])]
            files.append(FileEntry(name, s.sha256, s.size))
    about: dict[str, Any] = {"vulnpipe_version": opts.version}
    if opts.generated_at is not None:
        about["generated_at"] = iso(opts.generated_at)
    about.update({
        "database": mask_secrets(opts.database), "profile": ev.profile,
        "scope": {"period": ev.period.label,
                  "from": iso(ev.period.start) if ev.period.start else None,
                  "to": iso(ev.period.end) if ev.period.end else None,
                  "tickets": list(ev.requested_tickets) or None,
                  "judged_as_of": iso(ev.as_of)},
        "counts": {"tickets": len(ev.tickets), "scans": len(ev.scans),
                   "originals": len(originals)},
        "scans_used": [{"scan_id": sid, "file_name": s.file_name, "sha256": s.sha256,
                        "size": s.size, "original_file": raw_names.get(sid)}
                       for sid, s in sorted(ev.scans.items())],
    })
    manifest = manifest_bytes(about, files)
    entries[names.MANIFEST] = manifest
    if opts.sign_key is not None:
        from vulnpipe.reports.evidence.signing import sign

        entries[names.SIGNATURE] = sign(manifest, opts.sign_key)
    for name in entries:
        if names.unsafe_reason(name) or not names.SAFE_NAME.match(name):
            raise InputError(f"refusing to write the pack entry {name!r}")   # never reached by design
    return entries, ev


def build_pack(conn: Connection, out: str | Path, opts: PackOptions) -> PackSummary:
    """Write the pack to ``out`` atomically (the old file stays until the new one is whole)."""
    entries, ev = pack_entries(conn, opts)
    out = Path(out)
    with atomic_path(out) as tmp:
        write_zip(tmp, entries)
    states = Counter(d["state"] for d in ev.tickets.values())
    manifest = entries[names.MANIFEST]
    assert isinstance(manifest, bytes)          # made in memory, never a file on disk
    return PackSummary(path=out, files=len(entries), size=out.stat().st_size,
                       tickets=len(ev.tickets), scans=len(ev.scans),
                       originals=sum(1 for c in entries.values() if not isinstance(c, bytes)),
                       signed=names.SIGNATURE in entries, states=dict(sorted(states.items())),
                       manifest_sha256=hashlib.sha256(manifest).hexdigest())
