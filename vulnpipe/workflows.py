"""What vulnpipe does, as library calls: each command of the CLI parses its options, calls
one function here and prints what it returns.

    import vulnpipe
    cfg = vulnpipe.load_config()                       # ./vulnpipe.toml, or defaults
    written = vulnpipe.write_findings(["scans/"], "l2tp.jsonl", profile="l2tp")
    engine = vulnpipe.open_store("vulnpipe.db")
    outcome = vulnpipe.ingest_scans(engine, ["scans/"], vulnpipe.resolve_profile("l2tp"))

Workflows report as they go through two optional hooks: ``notify(level, text)`` for a
message a person should see (``error``, ``note``, ``info``, ``verbose``) and a
:class:`Progress` for long work. Without them they run silently; everything they found is
also in what they return. Heavy libraries (pandas, openpyxl, SQLAlchemy) are imported
inside the functions, so importing this module stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from vulnpipe.config import FIXED_WITHIN_DAYS, Config, load_config
from vulnpipe.ingest.errors import BadValue, InputError, VulnpipeError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from vulnpipe.ingest.assets.inventory import Inventory
    from vulnpipe.ingest.nessus.build import ParseStats
    from vulnpipe.ingest.profiles import Profile
    from vulnpipe.ingest.store.writer import IngestResult
    from vulnpipe.reports.reconcile import ReconcileResult
    from vulnpipe.reports.tickets.build import BuiltTickets, Change, TicketSettings
    from vulnpipe.reports.weekly.report import WeeklyReport

#: ``notify(level, text)``: level is ``error``, ``note``, ``info`` or ``verbose``.
Notify = Callable[[str, str], None]
Inputs = Iterable["str | Path"]


class Progress(Protocol):
    """Long work reports here: a stage with its size (None: unknown), then each step."""

    def start(self, description: str, total: int | None = None) -> None: ...

    def advance(self, description: str | None = None) -> None: ...


def _quiet(_level: str, _text: str) -> None:
    """The default ``notify``: say nothing."""


class _NoProgress:
    def start(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, description: str | None = None) -> None:
        return None


# -- settings: options and config into library objects ---------------------------------------

def resolve_profile_for(cfg: Config | None = None, name: str | None = None,
                        plugins: Sequence[int] = (), files: Sequence[Path] = ()) -> "Profile":
    """The profile asked for: ``name``, else only ``plugins``, else the config's default
    (``l2tp``). Profiles come from the built-ins, ``[profiles]`` in vulnpipe.toml (inline
    tables and ``files``) and ``files``."""
    from vulnpipe.ingest.profiles import resolve_profile

    if name is None:
        name = "plugins" if plugins else (cfg.profiles.default if cfg else "l2tp")
    inline = dict(cfg.profiles.inline) if cfg else {}
    all_files = [*(cfg.profiles.files if cfg else ()), *files]
    return resolve_profile(name, profiles_files=all_files, extra_plugins=plugins, inline=inline)


def resolve_campaigns_for(cfg: Config | None = None, names: Sequence[str] = (),
                          plugins: Sequence[int] = (), files: Sequence[Path] = ()) -> "Profile":
    """What ``ingest`` and ``run`` read: the profiles ``names`` (``--profile``, repeatable),
    else ``[profiles] campaigns``, else the one profile :func:`resolve_profile_for` gives.
    Several campaigns are one selection (:func:`vulnpipe.ingest.profiles.campaigns`): their
    findings are stored once, each marked with the campaigns it belongs to."""
    from vulnpipe.ingest.errors import BadValue
    from vulnpipe.ingest.profiles import campaigns

    names = list(dict.fromkeys(names or (cfg.profiles.campaigns if cfg else ())))
    if len(names) <= 1:
        return resolve_profile_for(cfg, names[0] if names else None, plugins, files)
    if plugins:
        raise BadValue("--plugin widens one profile, and several campaigns are given",
                       hint="add the plugin to a profile in a profiles file, or give one --profile")
    return campaigns(resolve_profile_for(cfg, n, (), files) for n in names)


def campaign_profiles(profile: "Profile") -> tuple["Profile", ...]:
    """The campaigns ``profile`` stands for: its members when it is several, else itself."""
    from vulnpipe.ingest.profiles import Campaigns

    return profile.members if isinstance(profile, Campaigns) else (profile,)


def store_url(cfg: Config | None = None, db: str | None = None) -> str | None:
    """``db`` (``--db`` or ``VULNPIPE_DB``), else ``[store] url`` of the config (by default
    ./vulnpipe.toml), else None (the default ``vulnpipe.db``)."""
    from vulnpipe.ingest.store.engine import StoreError, env_url

    if db is not None and not db.strip():
        env_url()                       # (the blank value came from VULNPIPE_DB: say so)
        raise StoreError("--db is empty", hint="give the database URL, or leave --db out")
    if db:
        return db
    env_url()                           # set but empty: an error, not [store] url
    return (cfg if cfg is not None else load_config(None)).store.url


def load_inventory_for(cfg: Config, path: Path | None = None, sheet: str | None = None, *,
                       notify: Notify = _quiet) -> "Inventory | None":
    """The inventory at ``path``, else ``[inventory] path`` of the config, else None (the
    ticket builders then use the one stored by the last run). Assets told apart only by
    their row (their ticket keys change when rows move) are a ``note`` through ``notify``."""
    from vulnpipe.ingest.assets.inventory import load_inventory

    path = path or cfg.inventory.path
    if path is None:
        return None
    inventory = load_inventory(path, sheet=sheet if sheet is not None else cfg.inventory.sheet,
                               columns=cfg.inventory.columns)
    by_row = [i for i in inventory.issues if i.kind == "row_order_id"]
    if by_row:
        notify("note", f"inventory {inventory.source}: {len(by_row)} asset(s) are told apart "
                       f"only by their row (first: {by_row[0].line()})")
    return inventory


def stored_inventory(url: str | None = None) -> "Inventory | None":
    """The inventory the last ticket build stored in the store at ``url`` (default
    ``vulnpipe.db``); None when there is no such store, or it holds no inventory."""
    from vulnpipe.ingest.store import make_engine, resolve_url
    from vulnpipe.ingest.store.assets import load_inventory_snapshot
    from vulnpipe.ingest.store.engine import ensure_schema, schema_revision, store_errors

    resolved = resolve_url(url)
    if resolved.startswith("sqlite:///") and not Path(resolved[len("sqlite:///"):]).exists():
        return None
    engine = make_engine(url)
    try:
        with store_errors(resolved):
            if schema_revision(engine) is None:
                return None
            ensure_schema(engine, create=False)
            with engine.connect() as conn:
                return load_inventory_snapshot(conn)
    finally:
        engine.dispose()


def ticket_settings(cfg: Config) -> "TicketSettings":
    """Priority rules and default owner from the config."""
    from vulnpipe.reports.tickets.build import TicketSettings

    return TicketSettings(rules=cfg.priority.rules, fallback=cfg.priority.fallback,
                          default_owner=cfg.owners.default_owner,
                          default_owner_email=cfg.owners.default_owner_email,
                          restart_sla_after_acceptance=cfg.priority.restart_sla_after_acceptance)


# -- reading exports ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FileRead:
    """One input read to the end: its name, statistics, and which reader did the work."""

    name: str
    stats: "ParseStats"
    path_used: str | None


@dataclass(frozen=True)
class FindingsWritten:
    """What :func:`write_findings` wrote."""

    count: int                                   # finding records written
    files: tuple[FileRead, ...]                  # inputs read to the end
    errors: tuple[VulnpipeError, ...]            # inputs refused (nothing of them written)
    note: str | None                             # the plugin-68453 note, when it applies


def output_format(out: str | Path, fmt: str | None, formats: Sequence[str]) -> str:
    """The format to write ``out`` in: ``fmt``, else the one its name ends with
    (``x.xlsx``: xlsx), else the first of ``formats``; a ``fmt`` that contradicts the name is a
    :class:`~vulnpipe.ingest.errors.BadValue`."""
    from vulnpipe.reports.writers.output import choose_format

    return choose_format(out, fmt, tuple(formats), formats[0])


def _note_truncated(notify: Notify, name: str, stats: Any) -> None:
    from vulnpipe.ingest.notes import truncated_note

    note = truncated_note(name, stats)
    if note:
        notify("note", note)


def write_findings(inputs: Inputs, out: str | Path, *, profile: "Profile",
                   fmt: str | None = None, strict: bool = False, notify: Notify = _quiet,
                   progress: Progress | None = None) -> FindingsWritten:
    """Write one record per finding ``profile`` selects in ``inputs`` (files, folders,
    ``.zip``, ``.gz``) to ``out`` (``-``: standard output) as jsonl, csv, xlsx or parquet
    (``fmt``; by default the one ``out``'s name ends with, else jsonl).
    When every input is refused nothing is written: a file already at ``out`` stays as it
    was, and none is created.

    The fastest way vulnpipe reads: text formats are encoded by worker processes on every
    core (big files split at host boundaries, many small files read at once); the output is
    byte for byte what reading one file after the other gives. A broken input is refused
    (nothing of it is written) and the others are still read. ``vulnpipe parse`` is this.
    """
    from vulnpipe.ingest.nessus.files import iter_files_encoded
    from vulnpipe.ingest.nessus.readers import open_reader
    from vulnpipe.ingest.nessus.sources import iter_sources
    from vulnpipe.ingest.notes import plugin_68453_note
    from vulnpipe.reports.writers.findings import FORMATS, TextWriter, make_writer

    bar = progress or _NoProgress()
    errors: list[VulnpipeError] = []
    done: list[FileRead] = []
    writer = make_writer(output_format(out, fmt, FORMATS), out)
    ok = False
    try:
        bar.start("parsing")
        if isinstance(writer, TextWriter):  # text formats: encoded where they are read
            sources = list(iter_sources(inputs, errors))
            add_encoded = writer.add_encoded
            files: Iterable[tuple[str, Any, Iterable[Any], Callable[[Any], None]]] = (
                (s.name, o, o.chunks(), lambda c: add_encoded(*c))
                for s, o in iter_files_encoded(sources, profile, writer.encoder(), strict=strict))
        else:
            files = ((s.name, r, (f.record() for _h, fs in r.hosts() for f in fs), writer.add)
                     for s in iter_sources(inputs, errors)
                     for r in [open_reader(s, profile, strict=strict, digest=False)])
        for name, reader, items, add in files:
            writer.begin_file()
            try:
                for item in items:
                    add(item)
            except VulnpipeError as exc:
                writer.rollback_file()
                errors.append(exc)
                continue
            writer.commit_file()
            _note_truncated(notify, name, reader.stats)
            notify("verbose", f"{name}: {reader.stats.selected} finding(s), read by the "
                              f"{reader.path_used} reader")
            done.append(FileRead(name, reader.stats, reader.path_used))
            bar.advance()
        ok = bool(done) or not errors       # (every input refused: nothing to write)
    finally:
        writer.close(ok=ok)
    note = plugin_68453_note(profile, [(f.name, f.stats) for f in done])
    return FindingsWritten(writer.count, tuple(done), tuple(errors), note)


@dataclass(frozen=True)
class Joined:
    """What :func:`join_scans` found: one row per selected finding with its asset."""

    frame: "pd.DataFrame"
    files: tuple[FileRead, ...]
    errors: tuple[VulnpipeError, ...]
    note: str | None

    def match_counts(self) -> dict[str, int]:
        """Hosts by how they matched (ip, fqdn, hostname, mac, cidr, ambiguous, unmatched),
        with ``hosts``, ``matched`` and ``unowned`` totals."""
        from vulnpipe.ingest.assets.matching import match_summary

        return match_summary(self.frame)


def join_scans(inputs: Inputs, inventory: "Inventory", *, profile: "Profile",
               settings: "TicketSettings | None" = None,
               progress: Progress | None = None) -> Joined:
    """The findings ``profile`` selects in ``inputs``, matched to ``inventory`` (IP, FQDN,
    host name, MAC, then the narrowest CIDR range) with owner, team, criticality, match
    method, priority and due date. ``vulnpipe join`` is this, then :func:`write_joined`."""
    from vulnpipe.ingest.assets.matching import join_findings
    from vulnpipe.ingest.nessus.frames import findings_frame
    from vulnpipe.ingest.nessus.readers import open_reader
    from vulnpipe.ingest.nessus.sources import iter_sources
    from vulnpipe.ingest.notes import plugin_68453_note
    from vulnpipe.reports.tickets.build import TicketSettings

    settings = settings or TicketSettings()
    bar = progress or _NoProgress()
    errors: list[VulnpipeError] = []
    done: list[FileRead] = []
    findings = []
    bar.start("reading scans")
    for source in iter_sources(inputs, errors):
        reader = open_reader(source, profile, digest=False)
        kept = []
        try:
            for _host, items in reader.hosts():
                kept.extend(items)
        except VulnpipeError as exc:
            errors.append(exc)
            continue
        findings.extend(kept)
        done.append(FileRead(source.name, reader.stats, reader.path_used))
        bar.advance()
    joined = join_findings(findings_frame(findings), inventory, settings.rules,
                           settings.default_owner,
                           default_owner_email=settings.default_owner_email,
                           fallback=settings.fallback)
    note = plugin_68453_note(profile, [(f.name, f.stats) for f in done])
    return Joined(joined, tuple(done), tuple(errors), note)


JOINED_FORMATS = ("jsonl", "csv", "xlsx")


def write_joined(joined: Joined, out: str | Path, fmt: str | None = None) -> int:
    """Write :func:`join_scans`' rows, most urgent first, as jsonl, csv or xlsx (``fmt``; by
    default the one ``out``'s name ends with, else jsonl); returns how many. When every input
    was refused nothing is written (a file already at ``out`` stays as it was)."""
    from vulnpipe.reports.writers.joined import write_joined as _write

    fmt = output_format(out, fmt, JOINED_FORMATS)
    if joined.errors and not joined.files:
        return 0
    return _write(joined.frame, fmt, out)


# -- the history store ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Ingested:
    """What :func:`ingest_scans` did: one result per input file, and inputs refused before
    reading (a missing path, an unreadable archive)."""

    profile: "Profile"
    results: tuple["IngestResult", ...]
    errors: tuple[VulnpipeError, ...]
    database: str | None = None                 # for messages; None: the store was not opened
    excluded: tuple[str, ...] = ()              # inputs left out by ``exclude``
    quarantined: tuple[str, ...] = ()           # refused files moved to ``quarantine``

    def by_status(self, status: str) -> list["IngestResult"]:
        return [r for r in self.results if r.status == status]

    @property
    def refused(self) -> int:
        from vulnpipe.ingest.store.writer import FAILED

        return len(self.errors) + len(self.by_status(FAILED))

    @property
    def note(self) -> str | None:
        """The plugin-68453 note for the files stored (see :mod:`vulnpipe.ingest.notes`)."""
        from vulnpipe.ingest.notes import plugin_68453_note
        from vulnpipe.ingest.store.writer import STORED

        return plugin_68453_note(self.profile, [(r.file, r.stats) for r in self.by_status(STORED)
                                                if r.stats])


def ingest_scans(store: "Engine | str | Path | None", inputs: Inputs, profile: "Profile", *,
                 strict: bool = False, exclude: Sequence[str] = (),
                 quarantine: Path | None = None, notify: Notify = _quiet,
                 progress: Progress | None = None) -> Ingested:
    """Store every scan of ``inputs``: every host, and the findings ``profile`` selects.

    ``store`` is an engine, or the URL of the store (None: ``vulnpipe.db``), which is then
    opened (created when new) only once at least one input was found: inputs that are all
    missing never make an empty database. One transaction per file; a file already stored
    (same SHA-256) is skipped; a bad file is refused (and reported through ``notify`` as it
    happens) while the others are kept. Inputs whose name or path matches a glob of
    ``exclude`` are left out (a note each); a refused file is moved into the folder
    ``quarantine`` (created when needed), so the next run over the same folder does not
    meet it again.
    """
    return _ingest_inputs(store, inputs, profile, strict, notify, progress, add=False,
                          exclude=exclude, quarantine=quarantine)


def add_campaign(store: "Engine | str | Path | None", inputs: Inputs, profile: "Profile", *,
                 notify: Notify = _quiet, progress: Progress | None = None) -> Ingested:
    """Add the campaign ``profile`` to stored scans: each file of ``inputs`` is matched to its
    stored scan by SHA-256 and read again, and the campaign's findings are added to that same
    scan (one transaction per file). A file whose bytes match no stored scan (or that changed
    since it was stored) is refused, reported through ``notify``. The campaign's tickets then
    have their history from the first scan (``vulnpipe ingest --add-campaign``)."""
    return _ingest_inputs(store, inputs, profile, False, notify, progress, add=True)


def _ingest_inputs(store: "Engine | str | Path | None", inputs: Inputs, profile: "Profile",
                   strict: bool, notify: Notify, progress: Progress | None, *, add: bool,
                   exclude: Sequence[str] = (), quarantine: Path | None = None) -> Ingested:
    from vulnpipe.ingest.nessus.sources import iter_sources

    errors: list[VulnpipeError] = []
    sources, excluded = [], []
    for source in iter_sources(inputs, errors):
        if any(_matches(source, pattern) for pattern in exclude):
            excluded.append(source.name)
            notify("note", f"{source.name}: left out (--exclude)")
        else:
            sources.append(source)
    for exc in errors:
        notify("error", str(exc))
    if not sources:
        return Ingested(profile, (), tuple(errors), excluded=tuple(excluded))
    if store is None or isinstance(store, (str, Path)):
        # (a campaign is added to a store that exists)
        engine = open_store(None if store is None else str(store), create=not add)
        try:
            done = _ingest(engine, sources, errors, profile, strict, quarantine, notify,
                           progress, add)
        finally:
            engine.dispose()
    else:
        done = _ingest(store, sources, errors, profile, strict, quarantine, notify, progress, add)
    return replace(done, excluded=tuple(excluded))


def _matches(source: Any, pattern: str) -> bool:
    """Does a glob name this input (its name, its file's name, or its path)?"""
    from fnmatch import fnmatch

    return any(fnmatch(text, pattern) for text in (source.name, source.path.name, str(source.path)))


def _ingest(engine: "Engine", sources: list[Any], errors: list[VulnpipeError],
            profile: "Profile", strict: bool, quarantine: Path | None, notify: Notify,
            progress: Progress | None, add: bool = False) -> Ingested:
    from vulnpipe.ingest.store import ingest_source
    from vulnpipe.ingest.store.writer import FAILED, SKIPPED
    from vulnpipe.ingest.store.writer import add_campaign as add_to_scan

    bar = progress or _NoProgress()
    results: list[IngestResult] = []
    moved: list[str] = []
    bar.start("adding the campaign" if add else "ingesting", len(sources))
    for index, source in enumerate(sources):
        try:
            if add:
                result = add_to_scan(engine, source, profile)
            else:
                result = ingest_source(engine, source, profile, keep_raw=not profile.select_all,
                                       strict=strict)
        except VulnpipeError as exc:     # the store failed (a lost connection): say what is kept
            kept = len([r for r in results if r.status != FAILED])
            raise type(exc)(f"{exc.what}; stopped at {source.name} (nothing of it stored), "
                            f"{kept} file(s) before it kept, {len(sources) - index - 1} not "
                            "tried", path=exc.path, line=exc.line, hint=exc.hint) from None
        results.append(result)
        if result.status == FAILED:
            notify("error", result.detail)
            if quarantine is not None and source.path.exists():
                moved.append(_quarantine(source.path, quarantine))
                notify("note", f"{source.path} moved to {moved[-1]} (--quarantine): later runs "
                               "over the same folder do not meet it; fix or delete it there")
        elif result.stats is not None:
            _note_truncated(notify, source.name, result.stats)
        elif result.status == SKIPPED:
            notify("info", f"skipped {source.name}: {result.detail}")
        bar.advance(f"ingested {source.name}")
    return Ingested(profile, tuple(results), tuple(errors), database_label(engine),
                    quarantined=tuple(moved))


def _quarantine(path: Path, folder: Path) -> str:
    """Move ``path`` into ``folder`` (never over a file already there); the new path."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{n}{path.suffix}"
    shutil.move(str(path), str(target))
    return str(target)


def states_text(counts: dict[str, int]) -> str:
    """Ticket counts by state as every command says them: ``18 open, 1 resurfaced,
    4 fixed``, in the order of :data:`~vulnpipe.reports.tickets.model.STATES` (``no tickets``
    when there are none)."""
    from vulnpipe.reports.tickets.model import STATES

    return ", ".join(f"{counts[s]} {s}" for s in STATES if counts.get(s)) or "no tickets"


@dataclass(frozen=True)
class TicketOutputs:
    """Where :func:`export_tickets` writes (each optional)."""

    xlsx: Path | None = None
    jira_csv: Path | None = None
    jsonl: str | Path | None = None             # "-": standard output
    markdown: Path | None = None                # a folder: one KEY.md per ticket

    def any(self) -> bool:
        return any((self.xlsx, self.jira_csv, self.jsonl, self.markdown))

    def paths(self) -> list[Path]:
        """The files and folder given (not standard output)."""
        return [Path(p) for p in (self.xlsx, self.jira_csv, self.jsonl, self.markdown)
                if p is not None and p != "-"]


@dataclass(frozen=True)
class TicketsExported:
    built: "BuiltTickets"
    views: tuple[dict[str, Any], ...]           # the tickets as every export shows them
    changes: tuple["Change", ...]               # state changes since the last build
    written: tuple[str, ...]                    # what was written, for messages

    def count(self, *states: str) -> int:
        return sum(1 for v in self.views if v["state"] in states)

    def states_text(self) -> str:
        """``18 open, 1 resurfaced, 4 fixed`` (see :func:`states_text`)."""
        return states_text({s: self.count(s) for s in {v["state"] for v in self.views}})

    def left_out_text(self) -> str:
        """What ``fixed_within`` left out, e.g. ``1,212 fixed before 2026-07-27T09:12:40Z
        left out`` (empty when nothing was)."""
        from vulnpipe.ingest.records import iso

        if not self.built.fixed_left_out or self.built.fixed_before is None:
            return ""
        return f"{self.built.fixed_left_out:,} fixed before {iso(self.built.fixed_before)} left out"


#: Days a fixed ticket stays in the exports after its verified fix (see export_tickets).
FIXED_WITHIN = timedelta(days=FIXED_WITHIN_DAYS)


def fixed_within_of(days: int | None) -> timedelta | None:
    """How long fixed tickets stay in the exports, from a number of days (``[tickets]
    fixed_within_days``, ``--fixed-within``; None: every one)."""
    return None if days is None else timedelta(days=days)


def export_tickets(engine: "Engine", profile: "Profile", outputs: TicketOutputs, *,
                   inventory: "Inventory | None" = None,
                   settings: "TicketSettings | None" = None, as_of: datetime | None = None,
                   knowledge_dirs: Sequence[Path] = (),
                   fixed_within: timedelta | None = FIXED_WITHIN) -> TicketsExported:
    """Bring the profile's tickets up to date with everything stored, and write ``outputs``.
    ``as_of`` (default: now) is the moment states are judged at (overdue, expired
    acceptances). A ticket that became fixed longer than ``fixed_within`` before the
    profile's newest scan (up to ``as_of``) is left out (None: every ticket; the default is
    the CLI's, 30 days): the exports hold what is live and what was fixed
    lately, not every ticket of the history (it stays in the store, the weekly report's
    figures and the evidence packs)."""
    from vulnpipe.reports.remediation.knowledge import load_knowledge
    from vulnpipe.reports.tickets.build import TicketSettings, rebuild_tickets
    from vulnpipe.reports.tickets.export import (
        write_jira_csv,
        write_jsonl,
        write_markdown,
        write_xlsx_tickets,
    )
    from vulnpipe.reports.tickets.view import data_quality_rows, ticket_views

    as_of = as_of or datetime.now(timezone.utc)
    built, changes = rebuild_tickets(engine, profile, inventory=inventory,
                                     settings=settings or TicketSettings(), as_of=as_of,
                                     logs="present", fixed_within=fixed_within)
    views = ticket_views(built, load_knowledge(knowledge_dirs), as_of=as_of)
    written: list[str] = []
    if outputs.jsonl:
        write_jsonl(views, outputs.jsonl)
        written.append(str(outputs.jsonl))
    if outputs.jira_csv:
        write_jira_csv(views, outputs.jira_csv)
        written.append(str(outputs.jira_csv))
    if outputs.xlsx:
        write_xlsx_tickets(views, outputs.xlsx, data_quality_rows(built))
        written.append(str(outputs.xlsx))
    if outputs.markdown:
        write_markdown(views, outputs.markdown, profile.name)
        written.append(f"{outputs.markdown}/ ({len(views)} files)")
    return TicketsExported(built, tuple(views), tuple(changes), tuple(written))


def tickets_from_scans(scans: Inputs, profile: "Profile", outputs: TicketOutputs, *,
                       inventory: "Inventory | None" = None,
                       settings: "TicketSettings | None" = None, as_of: datetime | None = None,
                       knowledge_dirs: Sequence[Path] = (), notify: Notify = _quiet,
                       fixed_within: timedelta | None = FIXED_WITHIN) -> TicketsExported:
    """:func:`export_tickets` from scan files alone, through a temporary store (nothing is
    kept). Any refused input is an error: tickets from part of the scans would mislead."""
    import tempfile

    from vulnpipe.ingest.store import open_store

    with tempfile.TemporaryDirectory(prefix="vulnpipe-") as tmp:
        engine = open_store(str(Path(tmp) / "stateless.db"))
        try:
            def told(kind: str, text: str) -> None:
                # refusals and values cut at the size caps (a store's "skipped" is not news)
                if kind != "info":
                    notify(kind, text)

            done = ingest_scans(engine, scans, profile, notify=told)
            if done.refused:
                raise ScansRefused(done.refused)
            return export_tickets(engine, profile, outputs, inventory=inventory,
                                  settings=settings, as_of=as_of, knowledge_dirs=knowledge_dirs,
                                  fixed_within=fixed_within)
        finally:
            engine.dispose()


class ScansRefused(VulnpipeError):
    """Some inputs were refused (each already reported); the work was not done."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} input(s) refused")
        self.count = count


DECISION_KINDS = ("risk_accepted", "false_positive", "revoked", "risk_adjusted")
RATINGS = ("LOW", "MODERATE", "HIGH")


def record_decision(engine: "Engine", key: str, kind: str, reason: str, *,
                    approver: str | None = None, until: datetime | None = None,
                    at: datetime | None = None, rating: str | None = None
                    ) -> tuple[str, datetime]:
    """Record a person's decision about ticket ``key`` (any case: ``vp-3f9a...`` is
    ``VP-3F9A...``): ``risk_accepted`` until ``until`` (which must come after ``at``),
    ``false_positive``, ``revoked`` (only while an acceptance or false positive is in
    force), or ``risk_adjusted`` to ``rating`` (LOW, MODERATE, HIGH; until ``until`` when
    given), at ``at`` (default: now); the history replays it. Returns the ticket's key and
    the time recorded."""
    from vulnpipe.ingest.store.decisions import add_decision, load_decisions, ticket_key
    from vulnpipe.reports.tickets.timeline import last_day

    if kind not in DECISION_KINDS:
        raise InputError(f"unknown decision {kind!r}", hint=f"one of {', '.join(DECISION_KINDS)}")
    if kind == "risk_adjusted":
        rating = (rating or "").strip().upper()
        if rating not in RATINGS:
            raise BadValue(f"--rating {rating!r} is not one of {', '.join(RATINGS)}",
                           hint="e.g. --rating MODERATE")
    if not reason.strip():
        raise InputError("--reason must not be empty", hint="say why, for the audit trail")
    when = at or datetime.now(timezone.utc)
    with engine.begin() as conn:
        found = ticket_key(conn, key)
        if found is None:
            raise InputError(f"no ticket {key}", hint="see `vulnpipe tickets --jsonl -` for keys")
        if until is not None and until <= when:
            what = "risk adjustment" if kind == "risk_adjusted" else "acceptance"
            raise InputError(f"--until {last_day(until)} is already past on "
                             f"{when.date().isoformat()}, when the {what} is recorded",
                             hint="give the last day it holds, today or later (to record an "
                                  "acceptance decided earlier, give --at the day it was "
                                  "decided)")
        if kind == "revoked" and _in_force(load_decisions(conn, [found]), when) is None:
            raise InputError(f"{found} has no risk acceptance or false positive in force on "
                             f"{when.date().isoformat()}, so there is nothing to reopen",
                             hint="reopen withdraws one of those decisions; nothing was recorded")
        add_decision(conn, ticket_key=found, kind=kind, at=when, reason=reason.strip(),
                     approver=approver, until=until,
                     rating=rating if kind == "risk_adjusted" else None)
    return found, when


def _in_force(decisions: Sequence[Any], when: datetime) -> Any:
    """The acceptance or false positive in force at ``when`` (the last decision taken by
    then, unless it was a revocation or an acceptance that has expired), or None."""
    taken = [d for d in decisions if d.at <= when]
    last = taken[-1] if taken else None
    if last is None or last.kind == "revoked" or (last.until is not None and last.until <= when):
        return None
    return last


@dataclass(frozen=True)
class Reconciled:
    """The store's tickets brought up to date (:func:`reconcile_store`)."""

    tickets: dict[str, Any]                     # key -> Ticket, as of the moment asked for
    changes: tuple["Change", ...]

    def states(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tickets.values():
            counts[t.state] = counts.get(t.state, 0) + 1
        return dict(sorted(counts.items()))

    def targets(self) -> list[str]:
        """Addresses of open tickets: they still need a covering rescan."""
        from vulnpipe.reports.reconcile import address_order
        from vulnpipe.reports.tickets.model import OPEN_STATES

        return sorted({t.address for t in self.tickets.values() if t.state in OPEN_STATES},
                      key=address_order)


def reconcile_store(engine: "Engine", profile: "Profile", *,
                    inventory: "Inventory | None" = None,
                    settings: "TicketSettings | None" = None,
                    as_of: datetime | None = None) -> Reconciled:
    """Update the tickets in the store from every scan ingested (verified fixes,
    resurfaced findings, expired acceptances) and say what changed; the tickets are given as
    of ``as_of`` (default: now)."""
    from vulnpipe.reports.tickets.build import TicketSettings, update_tickets
    from vulnpipe.reports.tickets.history import StateReader

    with engine.begin() as conn:
        matching, changes = update_tickets(conn, profile, inventory, settings or TicketSettings())
        tickets = StateReader(conn, profile, matching).tickets_at(
            as_of or datetime.now(timezone.utc), logs="none")
    return Reconciled(tickets, tuple(changes))


def reconcile_scans(baseline: Inputs, rescans: Inputs, profile: "Profile", *,
                    inventory: "Inventory | None" = None) -> "ReconcileResult":
    """Compare a baseline with rescans, from files alone: still_open, fixed (only when a
    rescan covered the finding and it is gone), not_rescanned, not_covered, new. With an
    inventory, hosts are compared by asset (a host that changed address is the same)."""
    from vulnpipe.reports.reconcile import by_address, inventory_asset_of, load_scans, reconcile

    base = load_scans(baseline, profile)
    again = load_scans(rescans, profile)
    asset_of: Callable[[Any], tuple[str, str | None]] = by_address
    if inventory is not None:
        asset_of = inventory_asset_of([h for s in base + again for h in s.hosts], inventory)
    return reconcile(base, again, asset_of)


def write_lines(lines: Iterable[str], out: str | Path) -> None:
    """Text lines into ``out`` (old or new file, never half)."""
    from vulnpipe.reports.writers.output import open_output

    with open_output(out) as fh:
        fh.write("".join(line + "\n" for line in lines).encode("utf-8"))


# -- the weekly report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportOutputs:
    html: Path | None = None
    xlsx: Path | None = None
    markdown: Path | None = None
    json: str | Path | None = None              # "-": standard output

    def any(self) -> bool:
        return any((self.html, self.xlsx, self.markdown, self.json))

    def pairs(self) -> list[tuple[str | Path, Callable[..., Any]]]:
        from vulnpipe.reports.weekly import write_html, write_json, write_markdown, write_xlsx

        return [(p, w) for p, w in ((self.html, write_html), (self.xlsx, write_xlsx),
                                    (self.markdown, write_markdown), (self.json, write_json))
                if p]


def parse_week(text: str) -> Any:
    """``2026-W48`` as a :class:`~vulnpipe.reports.weekly.weeks.Week`; a value of another
    form is a :class:`~vulnpipe.ingest.errors.BadValue`."""
    from vulnpipe.reports.weekly import parse_week as _parse

    return _parse(text)


def choose_week(engine: "Engine", week: Any = None, as_of: datetime | None = None,
                *, as_of_is_day: bool = False) -> Any:
    """The report's week: ``week`` (e.g. ``2026-W48``, or a parsed week), else the week of
    ``as_of`` cut off there (``as_of_is_day``: a whole day was given, counted to its end),
    else the ISO week of the newest stored scan."""
    from datetime import timedelta

    from vulnpipe.reports.weekly import cut_week, newest_scan_week

    if week and as_of:
        raise InputError("give --week or --as-of, not both",
                         hint="--week 2026-W48 reports on the whole week")
    if week:
        return parse_week(week) if isinstance(week, str) else week
    if as_of:
        return cut_week(as_of - timedelta(microseconds=1) if as_of_is_day else as_of)
    with engine.connect() as conn:
        return newest_scan_week(conn)


def choose_period(engine: "Engine", month: str | None = None, quarter: str | None = None,
                  as_of: datetime | None = None, *, as_of_is_day: bool = False) -> Any:
    """The monthly report's period: ``month`` (``2026-11``) or ``quarter`` (``2026-Q4``), else
    the month holding ``as_of``, else the month of the newest stored scan; cut off at
    ``as_of`` when given (``as_of_is_day``: a whole day, counted to its end), which must then
    fall inside the period."""
    from datetime import timedelta

    from vulnpipe.reports.weekly import newest_scan_week
    from vulnpipe.reports.weekly.periods import cut_period, parse_month, parse_quarter, period_of
    from vulnpipe.reports.weekly.weeks import Week

    if month and quarter:
        raise InputError("give --month or --quarter, not both",
                         hint="--month 2026-11 reports on a month, --quarter 2026-Q4 on three")
    when = (as_of - timedelta(microseconds=1) if as_of_is_day else as_of) if as_of else None
    period: Week
    if month or quarter:
        period = parse_month(month) if month else parse_quarter(quarter or "")
    elif when is not None:
        period = period_of(when, "month")
    else:
        with engine.connect() as conn:
            period = newest_scan_week(conn, lambda t: period_of(t, "month"))
    return cut_period(period, when) if when is not None else period


@dataclass(frozen=True)
class WeeklyBuilt:
    history: Any                                # reports.weekly.history.History
    report: "WeeklyReport"


def weekly_report(engine: "Engine", profile: "Profile", week: Any, *, weeks: int = 12,
                  inventory: "Inventory | None" = None,
                  settings: "TicketSettings | None" = None,
                  team: str | None = None) -> WeeklyBuilt:
    """The weekly report for ``week`` (a :class:`~vulnpipe.reports.weekly.weeks.Week`) with a
    ``weeks``-long trend, for every asset or only ``team``'s; given a month or quarter
    (:func:`choose_period`), the same report over that period, with a trend of ``weeks``
    periods."""
    from vulnpipe.reports.tickets.build import TicketSettings
    from vulnpipe.reports.weekly import ALL, Slice, build_report, check_slice, load_history

    with engine.begin() as conn:         # (the stored ticket state is brought up to date)
        history = load_history(conn, profile, week, weeks=weeks, inventory=inventory,
                               settings=settings or TicketSettings())
    sl = ALL if team is None else Slice("team", team)
    check_slice(history, sl)
    return WeeklyBuilt(history, build_report(history, sl))


@dataclass(frozen=True)
class ProgrammeBuilt:
    """The programme report (:attr:`programme`) and each campaign's weekly report it is made
    of, with its history (:attr:`builts`, in the same order: for the e-mails per team)."""

    programme: Any                              # reports.weekly.programme.Programme
    builts: tuple[WeeklyBuilt, ...]


def build_programme(engine: "Engine", profiles: Sequence["Profile"], week: Any, *,
                    weeks: int = 12, inventory: "Inventory | None" = None,
                    settings: "TicketSettings | None" = None) -> ProgrammeBuilt:
    """Every campaign's weekly report for ``week`` and the programme report made of them
    (:func:`weekly_programme`, keeping each campaign's history)."""
    from vulnpipe.reports.weekly.programme import Programme

    built = tuple(weekly_report(engine, p, week, weeks=weeks, inventory=inventory,
                                settings=settings) for p in profiles)
    return ProgrammeBuilt(Programme(tuple(p.name for p in profiles),
                                    tuple(b.report for b in built)), built)


def weekly_programme(engine: "Engine", profiles: Sequence["Profile"], week: Any, *,
                     weeks: int = 12, inventory: "Inventory | None" = None,
                     settings: "TicketSettings | None" = None) -> Any:
    """Every campaign's weekly report for ``week``, as one programme report (a
    :class:`~vulnpipe.reports.weekly.programme.Programme`): ``report weekly`` without
    ``--profile`` when ``[profiles] campaigns`` names several, and ``vulnpipe run`` on
    several campaigns."""
    return build_programme(engine, profiles, week, weeks=weeks, inventory=inventory,
                           settings=settings).programme


def write_programme(programme: Any, outputs: ReportOutputs) -> list[str]:
    """Write the programme report's files (HTML page, workbook, Markdown, JSON)."""
    from vulnpipe.reports.weekly import programme as prog

    written = []
    for path, writer in ((outputs.html, prog.write_programme_html),
                         (outputs.xlsx, prog.write_programme_xlsx),
                         (outputs.markdown, prog.write_programme_markdown),
                         (outputs.json, prog.write_programme_json)):
        if path:
            writer(programme, path)
            written.append(str(path))
    return written


def write_weekly(built: WeeklyBuilt, outputs: ReportOutputs,
                 split_by: tuple[str, Path] | None = None) -> list[str]:
    """Write the report's files (and one report per team or business unit with
    ``split_by``); returns what was written, for messages."""
    from vulnpipe.reports.weekly import write_split

    written = []
    for path, writer in outputs.pairs():
        writer(built.report, path)
        written.append(str(path))
    if split_by:
        index = write_split(built.history, split_by[0], split_by[1])
        written.append(f"{split_by[1]}/ ({len(index)} {split_by[0].replace('_', ' ')} reports)")
    return written


# -- the weekly job -------------------------------------------------------------------------------

#: What ``vulnpipe run --fail-on`` can alert on, and the summary list each one reads.
FAIL_ON = {"overdue": "newly_overdue", "new": "new", "resurfaced": "resurfaced"}
#: ``--fail-on no-new-scans``: the run stored no new scan (an export folder gone stale).
NO_NEW_SCANS = "no-new-scans"
#: Every ``--fail-on`` condition.
FAIL_CONDITIONS = (*FAIL_ON, NO_NEW_SCANS)
#: The exit status of ``vulnpipe run`` when a ``--fail-on`` list is not empty.
ALERT_EXIT = 3
ALERT_DAYS = 7          # due within / newly overdue: the weekly job's week
EXPIRY_DAYS = 30        # acceptances ending within


def run_alerts(views: Sequence[dict[str, Any]], changes: Sequence["Change"], as_of: datetime
               ) -> dict[str, list[dict[str, Any]]]:
    """What the weekly job should tell someone about, each list sorted by date, then key:

    * ``due_within_7d``: open (or resurfaced) tickets not yet overdue whose due date comes
      within 7 days after ``as_of``;
    * ``newly_overdue``: open tickets that became overdue in the 7 days up to ``as_of``;
    * ``expiring_acceptances``: risk acceptances in force that stop holding within 30 days;
    * ``new``, ``resurfaced``: tickets this run opened, or found again after a verified fix.
    """
    from datetime import date, timedelta

    def due_at(v: dict[str, Any]) -> datetime | None:
        if not v.get("due_date"):
            return None
        return datetime.combine(date.fromisoformat(v["due_date"]), datetime.min.time(),
                                tzinfo=timezone.utc)

    def item(v: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"key": v["key"], "host": v["host_label"], "priority": v["priority"],
                "owner": v["owner"], "team": v["team"], **extra}

    soon, late, expiring = [], [], []
    week, horizon = timedelta(days=ALERT_DAYS), timedelta(days=EXPIRY_DAYS)
    for v in views:
        due = due_at(v)
        if v["state"] in ("open", "resurfaced") and due is not None:
            if as_of <= due <= as_of + week:
                soon.append(item(v, due_date=v["due_date"]))
            elif as_of - week < due < as_of:
                late.append(item(v, due_date=v["due_date"]))
        until = (v.get("acceptance") or {}).get("until")
        if v["state"] == "risk_accepted" and until:
            ends = datetime.combine(date.fromisoformat(until) + timedelta(days=1),
                                    datetime.min.time(), tzinfo=timezone.utc)
            if ends <= as_of + horizon:
                expiring.append(item(v, until=until,
                                     approver=(v.get("acceptance") or {}).get("approver")))
    by_view = {v["key"]: v for v in views}
    changed = {"new": [c.key for c in changes if c.before is None],
               "resurfaced": [c.key for c in changes if c.after == "resurfaced"]}
    out: dict[str, list[dict[str, Any]]] = {
        "due_within_7d": sorted(soon, key=lambda i: (i["due_date"], i["key"])),
        "newly_overdue": sorted(late, key=lambda i: (i["due_date"], i["key"])),
        "expiring_acceptances": sorted(expiring, key=lambda i: (i["until"], i["key"])),
    }
    for name, keys in changed.items():
        out[name] = [item(by_view[k], state=by_view[k]["state"]) for k in sorted(keys)
                     if k in by_view]
    return out


#: The report's ticket counts ``vulnpipe run --summary-json`` sums over several campaigns
#: (each ticket belongs to one campaign, so each sum counts tickets exactly).
SUMMED_FIGURES = ("open_tickets", "new", "fixed_verified", "resurfaced", "overdue",
                  "risk_accepted", "expiring_30d", "not_verifiable")


@dataclass
class CampaignRun:
    """One campaign of a run over several: its tickets (written into ``folder``) and its
    weekly report's figures (None: the store holds no scan)."""

    folder: Path
    tickets: TicketsExported
    report: dict[str, Any] | None = None


def campaign_folders(names: Sequence[str]) -> list[str]:
    """The sub-folder of the output folder that holds each campaign's tickets when a run
    covers several: the profile's name when it is a plain lower-case name (letters, digits,
    ``-``, ``_``, ``.``, not starting with a dot), else a slug of it and 8 hex digits of its
    SHA-256 (``my-vpn-1a2b3c4d`` for ``My VPN``); never two alike."""
    import hashlib
    import re

    from vulnpipe.reports.weekly.split import slug

    out: list[str] = []
    for name in names:
        folder = name if re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name) else \
            f"{slug(name)}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
        base, n = folder, 1
        while folder in out:
            n += 1
            folder = f"{base}-{n}"
        out.append(folder)
    return out


@dataclass
class RunSummary:
    """What :func:`run_week` did, as ``vulnpipe run --summary-json`` writes it. With one
    campaign its tickets are :attr:`tickets`; with several, :attr:`campaigns` holds each
    campaign's (and :attr:`tickets` is None): :attr:`exported`, :attr:`views` and
    :attr:`changes` give every campaign's."""

    database: str | None                        # None: not known (the run failed before)
    profile: str | None
    stored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    as_of: datetime | None = None               # the one moment tickets and report are judged at
    notes: list[str] = field(default_factory=list)
    tickets: TicketsExported | None = None
    report: dict[str, Any] | None = None
    outputs: list[str] = field(default_factory=list)
    delivery: dict[str, Any] = field(default_factory=dict)    # [jira] sync, [mail] send
    error: str | None = None                    # why the run stopped (then nothing more ran)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # run_alerts
    fail_on: tuple[str, ...] = ()                              # --fail-on
    campaigns: dict[str, CampaignRun] = field(default_factory=dict)   # several campaigns

    @property
    def ok(self) -> bool:
        return (self.error is None and not self.refused
                and all(d.get("ok", True) for d in self.delivery.values()))

    @property
    def exported(self) -> list[TicketsExported]:
        """Every campaign's tickets (one campaign: :attr:`tickets`)."""
        if self.campaigns:
            return [c.tickets for c in self.campaigns.values()]
        return [self.tickets] if self.tickets else []

    @property
    def views(self) -> tuple[dict[str, Any], ...]:
        return tuple(v for e in self.exported for v in e.views)

    @property
    def changes(self) -> tuple["Change", ...]:
        return tuple(c for e in self.exported for c in e.changes)

    def campaign_of(self) -> dict[str, str]:
        """Ticket key -> campaign, with several campaigns (empty with one)."""
        return {v["key"]: name for name, c in self.campaigns.items() for v in c.tickets.views} \
            | {c.key: name for name, run in self.campaigns.items() for c in run.tickets.changes}

    def tickets_text(self) -> str:
        """``23 ticket(s)`` as the closing line says it, with what the exports left out, and
        with several campaigns how many each has (``23 ticket(s) (l2tp 21, pptp 2)``)."""
        if not self.campaigns:
            left_out = self.tickets.left_out_text() if self.tickets else ""
            return f"{len(self.views)} ticket(s){f' ({left_out})' if left_out else ''}"
        parts = [f"{name} {len(c.tickets.views)}" for name, c in self.campaigns.items()]
        parts += [f"{name}: {c.tickets.left_out_text()}" for name, c in self.campaigns.items()
                  if c.tickets.left_out_text()]
        return f"{len(self.views)} ticket(s) ({', '.join(parts)})"

    @property
    def triggered(self) -> list[str]:
        """The ``--fail-on`` conditions that hold: a list that is not empty, or no new scan
        stored (exit 3)."""
        return [c for c in self.fail_on
                if (not self.stored if c == NO_NEW_SCANS else self.alerts.get(FAIL_ON[c]))]

    def alert_text(self) -> str:
        """What :attr:`triggered` found, in one line: ``2 overdue; no new scans``."""
        return "; ".join("no new scans" if c == NO_NEW_SCANS
                         else f"{len(self.alerts[FAIL_ON[c]])} {c}" for c in self.triggered)

    def as_dict(self) -> dict[str, Any]:
        from vulnpipe.ingest.records import iso

        campaign = self.campaign_of()
        out = {
            "database": self.database,
            "profile": self.profile,
            "as_of": iso(self.as_of) if self.as_of else None,
            "new_scans": len(self.stored),
            "scans": {"stored": self.stored, "skipped": self.skipped, "refused": self.refused,
                      "excluded": self.excluded, "quarantined": self.quarantined},
            "tickets": self._tickets_dict(self.exported),
            "changes": [{"key": c.key, "host": c.host, "before": c.before, "after": c.after,
                         **({"campaign": campaign[c.key]} if campaign else {})}
                        for c in self.changes],
            "report": self.report,
        }
        if self.campaigns:
            out["campaigns"] = {name: {"folder": str(c.folder),
                                       "tickets": self._tickets_dict([c.tickets]),
                                       "report": c.report}
                                for name, c in self.campaigns.items()}
        return {
            **out,
            "outputs": self.outputs,
            "delivery": self.delivery,
            **self.alerts,
            "fail_on": {"checked": list(self.fail_on), "triggered": self.triggered},
            "notes": self.notes,
            "error": self.error,
            "ok": self.ok,
        }

    def _tickets_dict(self, exported: Sequence[TicketsExported]) -> dict[str, Any]:
        from vulnpipe.ingest.records import iso

        states: dict[str, int] = {}
        for e in exported:
            for v in e.views:
                states[v["state"]] = states.get(v["state"], 0) + 1
        return {"as_of": iso(self.as_of) if exported and self.as_of else None,
                "total": sum(states.values()), **dict(sorted(states.items())),
                "left_out": sum(e.built.fixed_left_out for e in exported)}


def run_week(cfg: Config, scans: Inputs, *, db: str | None = None, profile: "Profile",
             inventory: "Inventory | None" = None, out_dir: Path | None = None,
             strict: bool = False, week: Any = None, as_of: datetime | None = None,
             as_of_is_day: bool = False, exclude: Sequence[str] = (),
             quarantine: Path | None = None, notify: Notify = _quiet,
             progress: Progress | None = None, fail_on: Sequence[str] = ()) -> RunSummary:
    """The weekly job: ingest ``scans``, update every ticket from the history, export the
    tickets and write the weekly report into ``out_dir`` (default ``[run] out_dir``). A
    refused scan is reported and the rest still runs (``exclude`` and ``quarantine`` as for
    :func:`ingest_scans`).

    The report is for ``week``, else the week holding ``as_of``, else the newest stored
    scan's week; tickets and report are judged at one moment, the report's cut-off: the
    end of that week, or ``as_of``, or now when that is earlier. A run that stores no new
    scan says so in its notes (the report is then the one of an earlier run again). The
    summary lists what to alert on at that moment (:func:`run_alerts`); ``fail_on`` (keys of
    :data:`FAIL_ON`) names the lists that make :attr:`RunSummary.triggered` non-empty.

    ``profile`` may be several campaigns (:func:`resolve_campaigns_for`): then each
    campaign's tickets go into a sub-folder of its own (:func:`campaign_folders`), the
    report is the programme report (:func:`weekly_programme`), and the alerts, the summary,
    Jira and the e-mail cover every campaign."""
    from vulnpipe.ingest.store.writer import SKIPPED, STORED

    unknown = [c for c in fail_on if c not in FAIL_CONDITIONS]
    if unknown:
        raise BadValue(f"--fail-on {unknown[0]!r} is not one of {', '.join(FAIL_CONDITIONS)}",
                         hint="e.g. --fail-on overdue --fail-on resurfaced")
    check_settings(cfg)                 # before anything is written: no half-done week
    now = datetime.now(timezone.utc)

    folder = out_dir or cfg.run.out_dir
    engine = open_store(store_url(cfg, db))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        summary = RunSummary(database=database_label(engine), profile=profile.name)
        done = ingest_scans(engine, scans, profile, strict=strict, exclude=exclude,
                            quarantine=quarantine, notify=notify, progress=progress)
        summary.stored = [r.file for r in done.by_status(STORED)]
        summary.skipped = [r.file for r in done.by_status(SKIPPED)]
        summary.refused = [str(e) for e in done.errors] + [r.detail for r in done.results
                                                           if r.status == "failed"]
        summary.excluded, summary.quarantined = list(done.excluded), list(done.quarantined)
        chosen = _run_moment(engine, week, as_of, as_of_is_day)
        summary.as_of = chosen.cutoff if chosen is not None else as_of
        if not summary.stored:
            summary.notes.append(
                "no new scans: every input was stored by an earlier run (or none was found)"
                + (f"; the report for {chosen.label} is written again"
                   if chosen and week is None and as_of is None else ""))
            notify("note", summary.notes[-1])
        settings = ticket_settings(cfg)
        members = campaign_profiles(profile)
        fixed_within = fixed_within_of(cfg.tickets.fixed_within_days)

        def tickets_of(member: "Profile", outputs: TicketOutputs,
                       window: timedelta | None = fixed_within) -> TicketsExported:
            return export_tickets(engine, member, outputs, inventory=inventory,
                                  settings=settings, as_of=summary.as_of,
                                  knowledge_dirs=cfg.tickets.knowledge_dirs, fixed_within=window)

        if len(members) == 1:
            summary.tickets = tickets_of(members[0], _run_ticket_outputs(folder))
        else:
            left = [p.name for p in _run_ticket_outputs(folder).paths() if p.exists()]
            if left:
                summary.notes.append(
                    f"{', '.join(left)} in {folder}: left by a run on one campaign, no longer "
                    "written (each campaign's tickets are in a folder of its own); delete "
                    "them")
                notify("note", summary.notes[-1])
            for member, sub in zip(members, campaign_folders([m.name for m in members])):
                summary.campaigns[member.name] = CampaignRun(
                    folder / sub, tickets_of(member, _run_ticket_outputs(folder / sub)))
        summary.alerts = run_alerts(summary.views, summary.changes, summary.as_of or now)
        if summary.campaigns:
            campaign = summary.campaign_of()
            summary.alerts = {name: [{**item, "campaign": campaign[item["key"]]}
                                     for item in items]
                              for name, items in summary.alerts.items()}
        summary.fail_on = tuple(dict.fromkeys(fail_on))
        summary.outputs = [w for e in summary.exported for w in e.written]
        built: list[Any] = []
        if len(members) == 1:
            summary.report = _run_report(engine, members[0], chosen, inventory, settings, cfg,
                                         folder, summary.outputs, built)
        else:
            summary.report = _run_programme(engine, members, chosen, inventory, settings, cfg,
                                            folder, summary, built)
        from vulnpipe.delivery import run_deliveries

        runs = list(zip(members, summary.exported))

        def every_ticket() -> Sequence[dict[str, Any]]:
            """Jira hears of every fix, also of tickets the exports' window left out (every
            campaign's tickets: their keys differ by profile)."""
            return [v for member, exported in runs
                    for v in (tickets_of(member, TicketOutputs(), None).views
                              if exported.built.fixed_left_out else exported.views)]

        summary.delivery = run_deliveries(cfg, every_ticket, built[0] if built else None,
                                          notify=notify)
    finally:
        engine.dispose()
    return summary


def _run_ticket_outputs(folder: Path) -> TicketOutputs:
    """The ticket files ``vulnpipe run`` writes into ``folder``."""
    return TicketOutputs(xlsx=folder / "tickets.xlsx", jira_csv=folder / "tickets-jira.csv",
                         jsonl=folder / "tickets.jsonl", markdown=folder / "tickets")


def _run_moment(engine: "Engine", week: Any, as_of: datetime | None,
                as_of_is_day: bool) -> Any:
    """The week ``run`` reports on (see :func:`run_week`), cut off at the run's moment:
    never after now unless ``as_of`` says so; None when the store holds no scan."""
    from vulnpipe.ingest.store.read import has_scans
    from vulnpipe.reports.weekly.weeks import Week

    with engine.connect() as conn:
        if not has_scans(conn):
            return None
    chosen = choose_week(engine, week, as_of, as_of_is_day=as_of_is_day)
    now = datetime.now(timezone.utc)
    if as_of is None and chosen.start <= now < chosen.cutoff:
        return Week(chosen.start, now)
    return chosen


def _report_figures(report: "WeeklyReport") -> dict[str, Any]:
    """The summary's ``report``: the week, its cut-off and the figures."""
    from vulnpipe.ingest.records import iso

    return {"week": report.week.label, "as_of": iso(report.week.cutoff),
            **report.figures.as_dict()}


def _run_stem(folder: Path, week: Any) -> ReportOutputs:
    stem = folder / f"weekly-{week.label}"
    return ReportOutputs(html=stem.with_suffix(".html"), xlsx=stem.with_suffix(".xlsx"),
                         markdown=stem.with_suffix(".md"), json=stem.with_suffix(".json"))


def _run_report(engine: "Engine", profile: "Profile", week: Any,
                inventory: "Inventory | None", settings: "TicketSettings", cfg: Config,
                folder: Path, written: list[str], built_out: list[Any] | None = None
                ) -> dict[str, Any] | None:
    """The weekly report for ``week`` into ``folder`` (None: no week, the store holds no
    scan); the report built is appended to ``built_out`` (for the deliveries)."""
    if week is None:
        return None
    built = weekly_report(engine, profile, week, weeks=cfg.report.weeks, inventory=inventory,
                          settings=settings)
    written.extend(write_weekly(built, _run_stem(folder, built.report.week)))
    if built_out is not None:
        built_out.append(built)
    return _report_figures(built.report)


def _run_programme(engine: "Engine", members: Sequence["Profile"], week: Any,
                   inventory: "Inventory | None", settings: "TicketSettings", cfg: Config,
                   folder: Path, summary: RunSummary, built_out: list[Any]
                   ) -> dict[str, Any] | None:
    """The programme report of several campaigns for ``week`` into ``folder`` (what ``report
    weekly`` without ``--profile`` writes); each campaign's figures go to its
    :class:`CampaignRun`. Returns the summary's ``report``: the week, its cut-off and
    :data:`SUMMED_FIGURES` over the campaigns (None: the store holds no scan)."""
    if week is None:
        return None
    made = build_programme(engine, members, week, weeks=cfg.report.weeks,
                           inventory=inventory, settings=settings)
    summary.outputs.extend(write_programme(made.programme, _run_stem(folder, made.programme.week)))
    built_out.append(made)
    for name, report in zip(made.programme.names, made.programme.reports):
        summary.campaigns[name].report = _report_figures(report)
    from vulnpipe.ingest.records import iso

    shown = made.programme.week
    return {"week": shown.label, "as_of": iso(shown.cutoff),
            **{k: sum(getattr(r.figures, k) for r in made.programme.reports)
               for k in SUMMED_FIGURES}}


# -- looking at scans and the store ---------------------------------------------------------------

@dataclass(frozen=True)
class Inspected:
    summaries: tuple[Any, ...]                  # vulnpipe.ingest.nessus.inspect.ScanSummary
    errors: tuple[VulnpipeError, ...]


def inspect_scans(inputs: Inputs, profile: "Profile | None" = None) -> Inspected:
    """Per input file: scanner, policy, hosts, findings by severity, whether the policy
    could find ``profile``'s campaign (default ``l2tp``: plugin 11387 enabled, udp/1701 in
    range), and the profile's findings found (``vulnpipe inspect``)."""
    from vulnpipe.ingest.nessus.inspect import summarize
    from vulnpipe.ingest.nessus.sources import iter_sources

    errors: list[VulnpipeError] = []
    summaries = []
    for source in iter_sources(inputs, errors):
        try:
            summaries.append(summarize(source, profile))
        except VulnpipeError as exc:
            errors.append(exc)
    return Inspected(tuple(summaries), tuple(errors))


def inspection_text(summary: Any) -> str:
    """One :func:`inspect_scans` summary as the text ``vulnpipe inspect`` prints."""
    from vulnpipe.ingest.nessus.inspect import render_text

    return render_text(summary)


def open_store(url: str | None = None, *, create: bool = True) -> "Engine":
    """The store at ``url`` (a SQLite path or ``postgresql://``; default ``vulnpipe.db``).
    ``create=False``: a missing or empty database is an error instead of a new one."""
    from vulnpipe.ingest.store import open_store as _open

    return _open(url, create=create)


def database_label(engine: "Engine") -> str:
    """The engine's URL for messages (no password)."""
    from vulnpipe.ingest.store import display_url

    return display_url(engine.url.render_as_string(hide_password=False))


def stored_scans(engine: "Engine") -> list[dict[str, Any]]:
    """Every stored scan, oldest scan time first (``vulnpipe scans``)."""
    from vulnpipe.ingest.store.read import list_scans

    with engine.connect() as conn:
        return list_scans(conn)


def write_stored_findings(engine: "Engine", scan: str, out: str | Path,
                          fmt: str | None = None) -> int:
    """Stored findings (``scan``: an id, ``latest`` or ``all``) written like ``parse`` writes
    them (``fmt``: as there); returns how many."""
    from vulnpipe.reports.writers.findings import FORMATS, make_writer

    writer = make_writer(output_format(out, fmt, FORMATS), out)
    ok = False
    try:
        writer.begin_file()
        for record in stored_findings(engine, scan):
            writer.add(record)
        writer.commit_file()
        ok = True
    finally:
        writer.close(ok=ok)
    return writer.count


def stored_findings(engine: "Engine", scan: str) -> Iterable[dict[str, Any]]:
    """Stored findings as records (the fields ``vulnpipe parse`` writes), in scan, host and
    item order."""
    from vulnpipe.ingest.store.read import iter_finding_records, resolve_scan

    with engine.connect() as conn:
        yield from iter_finding_records(conn, resolve_scan(conn, scan))


@dataclass(frozen=True)
class SchemaStatus:
    database: str                               # for messages (no password)
    revision: str | None                        # None: an empty database
    head: str                                   # what this vulnpipe speaks
    known: tuple[str, ...] = ()                 # every revision this vulnpipe knows

    @property
    def current(self) -> bool:
        return self.revision == self.head

    @property
    def newer(self) -> bool:
        """Written by a newer vulnpipe: a revision this one does not know."""
        return self.revision is not None and self.revision not in self.known

    @property
    def state(self) -> str:
        if self.current:
            return "current"
        if self.revision is None:
            return f"empty: `vulnpipe db upgrade` creates schema {self.head}"
        if self.newer:
            return (f"newer than this vulnpipe, which knows up to {self.head}: upgrade "
                    "vulnpipe, do not use this version on it")
        return f"needs upgrade to {self.head}: back it up, then run `vulnpipe db upgrade`"


def schema_status(url: str | None) -> SchemaStatus:
    """The database's schema revision (``vulnpipe db status``). A SQLite file that does not
    exist is a :class:`~vulnpipe.ingest.store.StoreError` (it is not created)."""
    from vulnpipe.ingest.store import display_url, make_engine
    from vulnpipe.ingest.store.engine import (
        HEAD,
        known_revisions,
        require_database,
        schema_revision,
        store_errors,
    )

    require_database(url)
    engine = make_engine(url)
    raw = engine.url.render_as_string(hide_password=False)
    try:
        with store_errors(raw):
            return SchemaStatus(display_url(raw), schema_revision(engine), HEAD,
                                tuple(known_revisions()))
    finally:
        engine.dispose()


def upgrade_schema(url: str | None) -> tuple[SchemaStatus, SchemaStatus]:
    """Run the migrations up to this vulnpipe's schema; (before, after). A database written
    by a newer vulnpipe, or a SQLite file that does not exist, is a
    :class:`~vulnpipe.ingest.store.StoreError` (nothing is changed or created)."""
    from vulnpipe.ingest.store import StoreError, make_engine, upgrade
    from vulnpipe.ingest.store.engine import store_errors

    before = schema_status(url)
    if before.newer:
        raise StoreError(f"the database {before.database} has schema revision "
                         f"{before.revision}, newer than this vulnpipe (which knows up to "
                         f"{before.head})", hint="upgrade vulnpipe; nothing was changed")
    engine = make_engine(url)
    try:
        with store_errors(engine.url.render_as_string(hide_password=False)):
            upgrade(engine)
    finally:
        engine.dispose()
    return before, schema_status(url)


@dataclass(frozen=True)
class HistoryMoved:
    """What :func:`export_history` or :func:`import_history` moved."""

    database: str                               # for messages (no password)
    rows: dict[str, int]                        # rows per table

    def text(self) -> str:
        r = self.rows
        return (f"{r.get('scans', 0)} scan(s), {r.get('hosts', 0)} host(s), "
                f"{r.get('findings', 0)} finding(s), {r.get('decisions', 0)} decision(s), "
                f"{r.get('assets', 0)} inventory asset(s)")


def export_history(engine: "Engine", out: str | Path) -> HistoryMoved:
    """Write the store's history (scans as stored, decisions with their times, the inventory
    snapshot; nothing derived) to ``out`` (``.gz``: gzip-compressed; ``-``: standard output),
    in one read transaction; the same history always gives the same bytes. ``vulnpipe
    import`` reads it into another store (SQLite to PostgreSQL, say)."""
    import gzip

    from vulnpipe.ingest.store.transfer import export_lines
    from vulnpipe.reports.writers.output import open_output

    rows: dict[str, int] = {}
    with engine.connect() as conn, open_output(out) as raw:
        fh: Any = gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) if str(out).endswith(".gz") \
            else raw
        for line in export_lines(conn, rows):
            fh.write(line)
        if fh is not raw:
            fh.close()
    return HistoryMoved(database_label(engine), rows)


def import_history(url: str | None, path: Path) -> HistoryMoved:
    """Read a file :func:`export_history` wrote into the store at ``url`` (created when it is
    a new SQLite file; it must hold no scan), in one transaction: nothing is imported unless
    everything is. The first reading command then rebuilds the tickets."""
    import gzip

    from vulnpipe.ingest.store.engine import resolve_url, store_errors
    from vulnpipe.ingest.store.transfer import import_lines

    try:
        fh: Any = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    resolved = resolve_url(url)
    new_file = resolved.startswith("sqlite:///") and not Path(resolved[10:]).exists()
    try:
        with fh:
            if fh.read(2) == b"\x1f\x8b":
                fh.seek(0)
                fh = gzip.GzipFile(fileobj=fh, mode="rb")
            else:
                fh.seek(0)
            engine = open_store(url)
            try:
                with store_errors(resolved), engine.begin() as conn:
                    rows = import_lines(conn, fh, str(path))
                return HistoryMoved(database_label(engine), rows)
            finally:
                engine.dispose()
    except (gzip.BadGzipFile, EOFError):
        _remove_new(resolved, new_file)
        raise InputError("the gzip data is damaged", path=path,
                         hint="export it again (nothing was imported)") from None
    except BaseException:
        _remove_new(resolved, new_file)
        raise


def _remove_new(resolved: str, new_file: bool) -> None:
    """A SQLite file made by a failed import goes again: nothing half-written."""
    if new_file:
        for suffix in ("", "-wal", "-shm"):
            Path(resolved[10:] + suffix).unlink(missing_ok=True)


def check_settings(cfg: Config) -> int:
    """Every path ``cfg`` names exists, and the remediation knowledge it names loads (what
    ``vulnpipe run`` checks before it writes anything); returns how many knowledge entries
    (plugins and profiles) are in force."""
    from vulnpipe.config import check_paths
    from vulnpipe.reports.remediation.knowledge import load_knowledge

    check_paths(cfg)
    knowledge = load_knowledge(cfg.tickets.knowledge_dirs)
    return len(knowledge.plugins) + len(knowledge.profiles)


def check_config(cfg: Config) -> list[tuple[str, str]]:
    """Check every path ``cfg`` names, load everything it names (profiles, inventory,
    remediation knowledge, database) and describe the settings in force, as (topic, text)
    lines (``vulnpipe config check``)."""
    from vulnpipe.ingest.store.engine import resolve_url

    entries = check_settings(cfg)
    prof = resolve_profile_for(cfg)
    lines = [("config", str(cfg.path or "(none: defaults)")),
             ("profile", f"{prof.name} ({len(prof.plugin_ids)} plugins named)"),
             ("parse", "strict: libxml2 checks every byte" if cfg.parse.strict else
              "structure checked, dropped items not read (strict = false)")]
    inv = load_inventory_for(cfg)
    lines.append(("inventory", "(none: the inventory stored by the last run is used)"
                  if inv is None else f"{cfg.inventory.path}: {len(inv.assets)} assets, "
                                      f"{len(inv.issues)} data-quality issue(s)"))
    lines.append(("owners", f"default owner {cfg.owners.default_owner or '(none)'}"))
    lines.append(("knowledge", f"{entries} remediation entries (built in"
                               f"{''.join(', ' + str(d) for d in cfg.tickets.knowledge_dirs)})"))
    lines.append(("priority", f"{len(cfg.priority.rules)} rule(s), fallback "
                              f"{cfg.priority.fallback_priority}/{cfg.priority.fallback_sla_days} days"))
    url = resolve_url(store_url(cfg))
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        from vulnpipe.ingest.store import display_url

        lines.append(("database", f"{display_url(url)} (does not exist yet: the first ingest "
                                  "creates it)"))
    else:
        status = schema_status(url)
        lines.append(("database", f"{status.database} (schema {status.revision or 'empty'})"))
    lines.append(("report", f"{cfg.report.weeks} weeks of trend; run output in {cfg.run.out_dir}"))
    from vulnpipe.delivery import config_lines

    lines.extend(config_lines(cfg))
    return lines


# -- evidence packs -------------------------------------------------------------------------------

def evidence_period(date_from: datetime | None = None, date_to: datetime | None = None,
                    quarter: str | None = None, label: str | None = None) -> Any:
    """The period a pack covers: a calendar ``quarter`` (``2026-Q4``), or from ``date_from``
    up to (not including) ``date_to``, or the whole history."""
    from vulnpipe.reports.evidence import Period, between
    from vulnpipe.reports.evidence import quarter as parse_quarter

    if quarter and (date_from or date_to):
        raise InputError("give either --quarter or --from/--to, not both")
    if quarter:
        return parse_quarter(quarter)
    if not (date_from or date_to):
        return Period()
    return between(date_from, date_to, label or "period")


def build_evidence(engine: "Engine", out: Path, *, profile: "Profile", period: Any,
                   tickets: Sequence[str] = (), generated_at: datetime | None = None,
                   raw_dir: Path | None = None, sign_key: Path | None = None,
                   inventory: "Inventory | None" = None,
                   settings: "TicketSettings | None" = None,
                   knowledge_dirs: Sequence[Path] = (), notify: Notify = _quiet,
                   cfg: Config | None = None) -> Any:
    """A reproducible, tamper-evident evidence pack (zip) from the store (only read, but for
    the Scheduled Completion Date of each new POA&M item, frozen there): the same database
    state gives the same bytes. ``cfg``'s ``[poam]`` fills the POA&M's header block and
    controls. Returns a :class:`~vulnpipe.reports.evidence.PackSummary`. A file in
    ``raw_dir`` that cannot be read (a damaged archive) is reported through ``notify`` and
    the others searched."""
    from vulnpipe import __version__
    from vulnpipe.reports.evidence import PackOptions, build_pack
    from vulnpipe.reports.tickets.build import TicketSettings

    opts = PackOptions(profile=profile, period=period, tickets=tuple(dict.fromkeys(tickets)),
                       generated_at=generated_at, raw_dir=raw_dir, sign_key=sign_key,
                       inventory=inventory, settings=settings or TicketSettings(),
                       knowledge_dirs=tuple(knowledge_dirs), database=database_label(engine),
                       version=__version__, notify=notify, poam=poam_header(cfg))
    with engine.begin() as conn:         # (the stored ticket state is brought up to date)
        return build_pack(conn, out, opts)


def poam_header(cfg: Config | None) -> Any:
    """``[poam]`` as the POA&M's :class:`~vulnpipe.reports.evidence.poam.PoamHeader`."""
    from vulnpipe.reports.evidence.poam import PoamHeader

    if cfg is None:
        return PoamHeader()
    p = cfg.poam
    return PoamHeader(csp=p.csp, system_name=p.system_name, impact_level=p.impact_level,
                      controls=dict(p.controls))


def write_poam(engine: "Engine", out: Path, *, profile: "Profile", period: Any,
               inventory: "Inventory | None" = None, settings: "TicketSettings | None" = None,
               knowledge_dirs: Sequence[Path] = (), cfg: Config | None = None,
               generated_at: datetime | None = None) -> tuple[int, int]:
    """The FedRAMP POA&M workbook alone (``evidence poam``), as the evidence pack holds it;
    returns the (open, closed) item counts."""
    from vulnpipe.reports.evidence.build import poam_workbook_sheets
    from vulnpipe.reports.evidence.collect import collect
    from vulnpipe.reports.tickets.build import TicketSettings
    from vulnpipe.reports.writers.xlsx import write_xlsx

    with engine.begin() as conn:
        ev, views = collect(conn, profile, period=period, generated_at=generated_at,
                            inventory=inventory, settings=settings or TicketSettings(),
                            knowledge_dirs=knowledge_dirs)
        sheets = poam_workbook_sheets(conn, ev, views, poam_header(cfg))
        write_xlsx(out, sheets)
    return len(list(sheets[0].rows)), len(list(sheets[1].rows))


def verify_evidence(pack: Path, pub_key: Path | None = None,
                    fingerprint: str | None = None) -> Any:
    """Every hash of ``pack`` checked against its manifest (and the signature with
    ``pub_key``, and the manifest's SHA-256 with ``fingerprint``, as ``build_evidence``
    gave it). Returns a :class:`~vulnpipe.reports.evidence.VerifyResult`."""
    from vulnpipe.reports.evidence import verify_pack

    return verify_pack(pack, pub_key, fingerprint)


def describe_verification(result: Any, pack: Path) -> str:
    from vulnpipe.reports.evidence import describe

    return describe(result, pack)


def evidence_keygen(folder: Path) -> tuple[Path, Path]:
    """A new Ed25519 key pair for signing packs: (private, public)."""
    from vulnpipe.reports.evidence.signing import generate_keypair

    return generate_keypair(folder)


__all__ = [
    "DECISION_KINDS", "FileRead", "FindingsWritten", "Ingested", "Joined", "Notify", "Progress",
    "Reconciled", "ReportOutputs", "RunSummary", "ScansRefused", "TicketOutputs",
    "TicketsExported", "WeeklyBuilt", "choose_week", "export_tickets", "ingest_scans",
    "join_scans", "load_config", "load_inventory_for", "reconcile_scans", "reconcile_store",
    "record_decision", "resolve_profile_for", "run_week", "store_url", "ticket_settings",
    "tickets_from_scans", "resolve_campaigns_for", "campaign_profiles", "add_campaign",
    "weekly_programme", "write_programme", "build_programme", "ProgrammeBuilt", "CampaignRun",
    "campaign_folders",
    "weekly_report", "write_findings", "write_joined", "write_lines",
    "write_weekly", "Inspected", "SchemaStatus", "build_evidence", "check_config",
    "check_settings", "export_history", "HistoryMoved", "import_history", "database_label",
    "describe_verification", "evidence_keygen", "evidence_period", "inspect_scans",
    "inspection_text", "open_store", "schema_status", "stored_findings", "stored_scans",
    "upgrade_schema", "verify_evidence", "write_stored_findings", "output_format", "parse_week",
    "states_text", "stored_inventory",
]
