"""Ingesting scan files into the store: one transaction per file, bulk writes, no duplicates."""
from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from vulnpipe.ingest.errors import InputError, VulnpipeError
from vulnpipe.ingest.nessus.build import ParseStats
from vulnpipe.ingest.nessus.readers import open_reader
from vulnpipe.ingest.nessus.sources import Source
from vulnpipe.ingest.profiles import Campaigns, Profile, campaigns
from vulnpipe.ingest.records import Finding, Host
from vulnpipe.ingest.store.engine import connect_error
from vulnpipe.ingest.store.identities import IDENTITY_FIELDS, identity_digest, insert_identities
from vulnpipe.ingest.store.read import stored as _naive
from vulnpipe.ingest.store.schema import (
    finding_campaigns,
    findings,
    host_identities,
    hosts,
    scan_campaigns,
    scan_coverage,
    scans,
)

BATCH_FINDINGS = 5000
BATCH_HOSTS = 2000

STORED, SKIPPED, FAILED = "stored", "skipped", "failed"


@dataclass(frozen=True)
class IngestResult:
    file: str
    status: str                    # stored | skipped | failed
    scan_id: int | None = None
    hosts: int = 0
    findings: int = 0
    detail: str = ""
    stats: ParseStats | None = field(default=None, compare=False, repr=False)


#: The columns of ``hosts``, in the order :func:`_host_values` fills them.
HOST_COLUMNS = tuple(c.name for c in hosts.columns)
#: The columns of ``findings``, in the order :func:`_finding_values` fills them.
FINDING_COPY_COLUMNS = tuple(c.name for c in findings.columns)
#: The columns of ``finding_campaigns``, in the order :meth:`_Bulk.add` fills them.
TAG_COLUMNS = tuple(c.name for c in finding_campaigns.columns)


def _identity(h: Host) -> tuple[str, tuple[str | None, ...]]:
    """The host's identity digest and its :data:`IDENTITY_FIELDS` values."""
    values = (h.name, h.address, h.host_ip, h.host_fqdn, h.hostname, h.netbios_name,
              h.mac_address)
    return identity_digest(values), values


def _host_values(scan_id: int, seq: int, h: Host, identity: str) -> tuple[Any, ...]:
    """A host's row as a tuple in :data:`HOST_COLUMNS` order."""
    return (scan_id, seq, h.report_name, h.name, h.address, h.host_ip, h.host_fqdn,
            h.hostname, h.netbios_name, h.mac_address, h.os, h.credentialed,
            _naive(h.host_start), _naive(h.host_end), identity)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _finding_values(scan_id: int, host_seq: int, item_seq: int, f: Finding,
                    encode: Callable[[Any], str] | None = None) -> tuple[Any, ...]:
    """A finding's row as a tuple in :data:`FINDING_COPY_COLUMNS` order. ``encode`` turns
    the JSON columns into text (PostgreSQL's COPY); without it they stay Python lists and
    dicts (SQLAlchemy's JSON type encodes them)."""
    c = f.compliance
    compliance: Any = ({"check_name": c.check_name, "result": c.result,
                   "actual_value": c.actual_value, "policy_value": c.policy_value}
                  if c else None)
    raw_lists = (f.cve, f.xref, f.see_also, f.bid, f.cwe)
    lists: tuple[Any, ...]
    extra: Any
    if encode is None:
        lists = tuple(map(list, raw_lists))
        extra = [list(p) for p in f.extra]
    else:
        lists = tuple(encode(v) if v else "[]" for v in raw_lists)
        extra = encode(f.extra) if f.extra else "[]"
        compliance = encode(compliance) if compliance else None
    return (scan_id, host_seq, item_seq, f.plugin_id, f.plugin_name, f.plugin_family,
            f.severity, f.risk_factor, f.port, f.protocol, f.svc_name, f.plugin_type,
            f.synopsis, f.description, f.solution, f.plugin_output, f.cvss3_base_score,
            f.cvss_base_score, *lists, compliance, extra, f.profile_role,
            f.raw_xml.decode("utf-8") if f.raw_xml else None)


def _insert_many(conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in the table's column order) with one executemany, each value
    converted by its column type's own bind processor (the same stored text as SQLAlchemy's
    ``table.insert()`` without its per-row statement work)."""
    dialect = conn.dialect
    names = [c.name for c in table.columns]
    if dialect.name != "sqlite":       # (the ? placeholders are SQLite's)
        conn.execute(table.insert(), [dict(zip(names, row)) for row in rows])
        return
    procs = [(i, p) for i, c in enumerate(table.columns)
             if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    if procs:
        converted = []
        for row in rows:
            values = list(row)
            for i, proc in procs:
                values[i] = proc(values[i])
            converted.append(tuple(values))
        rows = converted
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows)


def _finding_copy_row(scan_id: int, host_seq: int, item_seq: int, f: Finding) -> tuple[Any, ...]:
    """A finding's row for PostgreSQL's COPY (JSON already encoded)."""
    return _finding_values(scan_id, host_seq, item_seq, f, _json)


class _Bulk:
    """Buffers rows and writes them in batches: executemany on SQLite; on PostgreSQL, COPY
    from a second thread, so the server stores one batch while this thread parses the next
    (at most two batches wait: memory stays flat). Use as a context manager: leaving it
    waits for the copier, so the transaction never ends under a COPY."""

    def __init__(self, conn: Connection, scan_id: int, campaigns: Campaigns | None = None) -> None:
        self.conn = conn
        self.scan_id = scan_id
        self.pg = conn.dialect.name == "postgresql"
        self.host_rows: list[tuple[Any, ...]] = []
        self.finding_rows: list[tuple[Any, ...]] = []
        #: Several campaigns: which of them each finding belongs to (``finding_campaigns``).
        self.campaigns = campaigns
        self.tag_rows: list[tuple[Any, ...]] = []
        self.campaign_counts: dict[str, int] = {m.name: 0 for m in campaigns.members} if campaigns else {}
        self.identities: dict[str, dict[str, Any]] = {}     # this batch's, for host_identities
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._cancelled = False
        if self.pg:
            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._copier, name="vulnpipe-copy",
                                            daemon=True)
            self._thread.start()

    def __enter__(self) -> "_Bulk":
        return self

    def __exit__(self, exc_type: Any = None, *exc: Any) -> None:
        if self._thread is not None:
            if exc_type is not None:
                self._cancelled = True     # the transaction is being given up: copy no more
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def add(self, host_seq: int, host: Host, items: list[Finding]) -> None:
        scan_id = self.scan_id
        identity, values = _identity(host)
        self.host_rows.append(_host_values(scan_id, host_seq, host, identity))
        if identity not in self.identities:
            self.identities[identity] = {"identity": identity, **dict(zip(IDENTITY_FIELDS, values)),
                                         "first_scan_id": scan_id, "first_host_seq": host_seq}
        row = _finding_copy_row if self.pg else _finding_values
        self.finding_rows.extend([row(scan_id, host_seq, i, f) for i, f in enumerate(items)])
        if self.campaigns is not None:
            self._tag(host_seq, items)
        if len(self.finding_rows) >= BATCH_FINDINGS or len(self.host_rows) >= BATCH_HOSTS:
            self.flush()

    def _tag(self, host_seq: int, items: list[Finding]) -> None:
        """Record the campaigns each of the host's findings belongs to."""
        assert self.campaigns is not None
        counts = self.campaign_counts
        for i, f in enumerate(items):
            for name, role in self.campaigns.roles(f.plugin_id, f.plugin_name, f.plugin_family,
                                                   f.port, f.protocol):
                self.tag_rows.append((name, self.scan_id, host_seq, i, role))
                counts[name] += 1

    def flush(self) -> None:
        """Hand the buffered rows over (PostgreSQL) or write them (SQLite)."""
        batch = (self.host_rows, self.finding_rows, list(self.identities.values()), self.tag_rows)
        self.host_rows, self.finding_rows, self.identities, self.tag_rows = [], [], {}, []
        if self._queue is not None:
            self._raise_copier_error()
            if batch[0] or batch[1]:
                self._queue.put(batch)
            return
        insert_identities(self.conn, batch[2])
        if batch[0]:
            _insert_many(self.conn, hosts, batch[0])
        if batch[1]:
            _insert_many(self.conn, findings, batch[1])
        if batch[3]:
            _insert_many(self.conn, finding_campaigns, batch[3])

    def finish(self) -> None:
        """Write everything still buffered and wait until it is stored."""
        self.flush()
        self.__exit__()
        self._raise_copier_error()

    def _raise_copier_error(self) -> None:
        exc = self._error
        if exc is None:
            return
        if isinstance(exc, SQLAlchemyError):
            raise exc
        import psycopg

        if isinstance(exc, psycopg.Error):  # as SQLAlchemy reports a driver error (same class)
            raise DBAPIError.instance("COPY", None, exc, psycopg.Error) from exc
        raise exc

    def _copier(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None or self._cancelled:
                continue                    # drain: the main thread raises or gives up
            try:
                host_rows, finding_rows, identities, tag_rows = batch
                if identities:
                    self._insert_identities(identities)
                if host_rows:
                    self._copy(hosts.name, HOST_COLUMNS, host_rows)
                if finding_rows:
                    self._copy(findings.name, FINDING_COPY_COLUMNS, finding_rows)
                if tag_rows:
                    self._copy(finding_campaigns.name, TAG_COLUMNS, tag_rows)
            except BaseException as exc:    # noqa: BLE001 - handed to the main thread
                self._error = exc

    def _driver(self) -> Any:
        """The psycopg connection under this transaction (COPY and executemany go to it)."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        return raw

    def _insert_identities(self, rows: list[dict[str, Any]]) -> None:
        raw = self._driver()
        cols = ("identity", *IDENTITY_FIELDS, "first_scan_id", "first_host_seq")
        with raw.cursor() as cur:
            cur.executemany(f"INSERT INTO {host_identities.name} ({', '.join(cols)}) VALUES "
                            f"({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING",
                            [tuple(r[c] for c in cols) for r in rows])

    def _copy(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raw = self._driver()
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def campaign_rows(scan_id: int, members: Sequence[Profile], counts: dict[str, int]
                  ) -> list[dict[str, Any]]:
    """``scan_campaigns`` rows: each campaign the scan was read for, with its findings."""
    return [{"scan_id": scan_id, "profile": m.name, "profile_plugins": sorted(m.plugin_ids),
             "findings_count": counts.get(m.name, 0)} for m in members]


def _fast_compression(conn: Connection) -> None:
    """PostgreSQL 14+ built with lz4: compress this transaction's long texts (descriptions,
    plugin output) with lz4 instead of pglz, which took about 40% of the server's work in a
    big ingest. Reading them back needs nothing; other sessions are not affected."""
    if conn.dialect.name != "postgresql":
        return
    lz4 = conn.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    if lz4:
        conn.exec_driver_sql("SET LOCAL default_toast_compression = 'lz4'")


def _file_sha256(source: Source) -> str:
    digest = hashlib.sha256()
    with source.open() as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _already_stored(engine: Engine, source: Source) -> int | None:
    """The scan id of an identical file already stored (checked by size, then SHA-256)."""
    try:
        size = source.path.stat().st_size if source.name == source.path.name else None
    except OSError:
        size = None
    with engine.connect() as conn:
        if size is not None:
            same_size = conn.execute(select(func.count()).select_from(scans)
                                     .where(scans.c.size == size)).scalar()
            if not same_size:
                return None
        sha = _file_sha256(source)
        return conn.execute(select(scans.c.id).where(scans.c.sha256 == sha)).scalar()


def ingest_source(engine: Engine, source: Source, profile: Profile, *,
                  keep_raw: bool = True, on_host: Callable[[], None] | None = None,
                  now: datetime | None = None, strict: bool = False) -> IngestResult:
    """Store one scan file: its scan row, coverage, every host, and the profile's findings.

    One transaction: a broken file, a killed process or a lost connection leaves the store
    as it was before this file. A file already stored (same SHA-256) is skipped.

    (No ANALYZE afterwards, even after a first ingest of a year: the reading commands run
    as fast on never-analyzed tables, measured on PostgreSQL 15 with 104 scans and 542,391
    hosts; their queries are key lookups and the planner scales row counts to each table's
    current size.)
    """
    url = engine.url.render_as_string(hide_password=False)
    try:
        existing = _already_stored(engine, source)
    except (OperationalError, SQLAlchemyError) as exc:
        raise connect_error(exc, url) from None
    except OSError as exc:
        return IngestResult(source.name, FAILED, detail=f"{source.name}: cannot read: {exc}")
    except VulnpipeError as exc:            # a damaged archive member, a refused zip bomb
        return IngestResult(source.name, FAILED, detail=str(exc))
    if existing is not None:
        return IngestResult(source.name, SKIPPED, scan_id=existing,
                            detail=f"already ingested as scan {existing}")
    reader = open_reader(source, profile, keep_raw=keep_raw, strict=strict)
    ingested_at = _naive(now or datetime.now(timezone.utc))
    try:
        with engine.begin() as conn:
            _fast_compression(conn)
            scan_id = conn.execute(scans.insert().values(
                file_name=source.name, sha256=f"pending:{id(reader)}:{ingested_at.timestamp()}",
                size=0, report_names=[], profile=profile.name,
                profile_plugins=sorted(profile.plugin_ids), hosts_count=0, items_count=0,
                findings_count=0, ingested_at=ingested_at).returning(scans.c.id)).scalar_one()
            several = profile if isinstance(profile, Campaigns) else None
            with _Bulk(conn, scan_id, several) as bulk:
                n_hosts = n_findings = 0
                starts: list[datetime] = []
                ends: list[datetime] = []
                for host, items in reader.hosts():
                    bulk.add(n_hosts, host, items)
                    if host.host_start:
                        starts.append(host.host_start)
                    if host.host_end:
                        ends.append(host.host_end)
                    n_hosts += 1
                    n_findings += len(items)
                    if on_host:
                        on_host()
                bulk.finish()
            if several is not None:
                conn.execute(scan_campaigns.insert(), campaign_rows(scan_id, several.members,
                                                                   bulk.campaign_counts))
            policy = reader.policy
            conn.execute(scan_coverage.insert().values(
                scan_id=scan_id, has_policy=policy is not None,
                plugin_set=sorted(policy.plugin_set) if policy and policy.plugin_set is not None else None,
                port_range=policy.port_range if policy else None,
                targets=policy.targets if policy else None,
                families=[list(x) for x in policy.families] if policy else [],
                plugins=[list(x) for x in policy.plugins] if policy else [],
                preferences=[list(x) for x in policy.preferences] if policy else []))
            conn.execute(update(scans).where(scans.c.id == scan_id).values(
                sha256=reader.stats.sha256, size=reader.stats.size,
                report_name=reader.reports[0].name if reader.reports else None,
                report_names=[r.name for r in reader.reports],
                policy_name=policy.name if policy else None,
                scanner_kind=policy.scanner_kind if policy else None,
                first_host_start=_naive(min(starts)) if starts else None,
                last_host_start=_naive(max(starts)) if starts else None,
                first_host_end=_naive(min(ends)) if ends else None,
                last_host_end=_naive(max(ends)) if ends else None,
                hosts_count=n_hosts, items_count=reader.stats.items,
                findings_count=n_findings))
    except VulnpipeError as exc:
        return IngestResult(source.name, FAILED, detail=str(exc))
    except IntegrityError:
        # the same file was committed by another process while this one read it
        with engine.connect() as conn:
            other = conn.execute(select(scans.c.id).where(
                scans.c.sha256 == reader.stats.sha256)).scalar()
        if other is not None:
            return IngestResult(source.name, SKIPPED, scan_id=other,
                                detail=f"already ingested as scan {other}")
        raise
    except (OperationalError, SQLAlchemyError) as exc:
        raise connect_error(exc, url) from None
    return IngestResult(source.name, STORED, scan_id=scan_id, hosts=n_hosts, findings=n_findings,
                        stats=reader.stats)


# -- adding a campaign to stored scans -----------------------------------------------------------

#: The longest profile name a scan row holds (``scans.profile``: the campaigns' names joined).
PROFILE_LENGTH = 128

#: What a stored finding must still say when its file is read again (every column the ticket
#: replay reads): otherwise the file is not read as it was when stored, and nothing is added.
_SAME = ("plugin_id", "plugin_name", "plugin_family", "port", "protocol", "plugin_type",
         "severity", "plugin_output")


def _stored_scan_for(conn: Connection, source: Source, sha: str) -> dict[str, Any]:
    """The stored scan with these bytes; a file matching none is refused (one line)."""
    row = conn.execute(select(scans).where(scans.c.sha256 == sha)).mappings().first()
    if row is not None:
        return dict(row)
    same_name = conn.execute(select(scans.c.id).where(scans.c.file_name == source.name)
                             .order_by(scans.c.id)).scalars().all()
    if same_name:
        raise InputError(f"changed since it was stored as scan {same_name[-1]}: its SHA-256 "
                         "differs, so it is not the file those findings came from",
                         path=source.name, hint="give the file exactly as it was ingested")
    raise InputError("matches no stored scan (no scan has its SHA-256)", path=source.name,
                     hint="ingest it first (with every campaign: vulnpipe ingest --profile ...)")


def _campaigns_of(conn: Connection, scan: dict[str, Any]) -> list[dict[str, Any]]:
    """The campaigns the scan was read for, as ``scan_campaigns`` rows (one read for a
    single campaign has none stored: its ``scans`` row says it)."""
    rows = [dict(r) for r in conn.execute(select(scan_campaigns).where(
        scan_campaigns.c.scan_id == scan["id"])).mappings()]
    return rows or [{"scan_id": scan["id"], "profile": scan["profile"],
                     "profile_plugins": list(scan["profile_plugins"] or []),
                     "findings_count": scan["findings_count"]}]


def add_campaign(engine: Engine, source: Source, profile: Profile, *,
                 on_host: Callable[[], None] | None = None) -> IngestResult:
    """Add ``profile``'s findings to the stored scan of ``source`` (found by SHA-256): the file
    is read again, the findings the scan already holds are found again in it, and the
    campaign's are added beside them, in file order, each marked with its campaigns. The
    same scan (id, hosts, coverage) then holds what an ingest with every one of its campaigns
    would have stored. One transaction; the campaign's derived ticket state is dropped (the
    next reading command replays its history from the first scan).

    A file whose bytes match no stored scan, or changed since, is refused with one line."""
    from vulnpipe.ingest.profiles import CAMPAIGN_SEPARATOR
    from vulnpipe.ingest.store.history import forget_profile

    url = engine.url.render_as_string(hide_password=False)
    if isinstance(profile, Campaigns) or CAMPAIGN_SEPARATOR in profile.name:
        raise InputError(f"--add-campaign takes one profile, not {profile.name!r}")
    try:
        sha = _file_sha256(source)
    except OSError as exc:
        return IngestResult(source.name, FAILED, detail=f"{source.name}: cannot read: {exc}")
    try:
        with engine.begin() as conn:
            scan = _stored_scan_for(conn, source, sha)
            scan_id = scan["id"]
            camps = _campaigns_of(conn, scan)
            if profile.name in {c["profile"] for c in camps}:
                return IngestResult(source.name, SKIPPED, scan_id=scan_id,
                                    detail=f"scan {scan_id} already holds campaign "
                                           f"'{profile.name}'")
            name = CAMPAIGN_SEPARATOR.join([*(c["profile"] for c in camps), profile.name])
            if len(name) > PROFILE_LENGTH:
                raise InputError(f"scan {scan_id} would be read for too many campaigns "
                                 f"({name!r})", path=source.name)
            added = _add_findings(conn, source, scan, camps, profile, on_host)
            conn.execute(scan_campaigns.delete().where(scan_campaigns.c.scan_id == scan_id))
            conn.execute(scan_campaigns.insert(), [*camps, {
                "scan_id": scan_id, "profile": profile.name,
                "profile_plugins": sorted(profile.plugin_ids), "findings_count": added.own}])
            plugins = sorted(set(scan["profile_plugins"] or []) | profile.plugin_ids)
            conn.execute(update(scans).where(scans.c.id == scan_id).values(
                profile=name, profile_plugins=plugins, findings_count=added.total))
            forget_profile(conn, profile.name)
    except VulnpipeError as exc:
        return IngestResult(source.name, FAILED, detail=str(exc))
    except (OperationalError, SQLAlchemyError) as exc:
        raise connect_error(exc, url) from None
    return IngestResult(source.name, STORED, scan_id=scan_id, hosts=scan["hosts_count"],
                        findings=added.own, detail=f"campaign '{profile.name}' added to scan "
                                                   f"{scan_id}")


@dataclass(frozen=True)
class _Added:
    own: int            # the campaign's findings in the scan
    total: int          # the scan's findings now


def _add_findings(conn: Connection, source: Source, scan: dict[str, Any],
                  camps: list[dict[str, Any]], profile: Profile,
                  on_host: Callable[[], None] | None) -> _Added:
    """Rewrite the scan's findings as the union of those stored and ``profile``'s, in file
    order, with every campaign's marks (see :func:`add_campaign`)."""
    scan_id = scan["id"]
    stored = [dict(r) for r in conn.execute(
        select(findings).where(findings.c.scan_id == scan_id)
        .order_by(findings.c.host_seq, findings.c.item_seq)).mappings()]
    by_host: dict[int, list[dict[str, Any]]] = {}
    for r in stored:
        by_host.setdefault(r["host_seq"], []).append(r)
    marks: dict[tuple[int, int], list[tuple[str, str | None]]] = {}
    if len(camps) == 1:       # one campaign so far: every stored finding is its own
        for r in stored:
            marks[(r["host_seq"], r["item_seq"])] = [(camps[0]["profile"], r["profile_role"])]
    else:
        for m in conn.execute(select(finding_campaigns).where(
                finding_campaigns.c.scan_id == scan_id)).mappings():
            marks.setdefault((m["host_seq"], m["item_seq"]), []).append((m["profile"], m["role"]))
    if any(r["plugin_id"] is None for r in stored):
        raise InputError(f"scan {scan_id} holds findings without a plugin ID, which cannot be "
                         "found again in the file", path=source.name)
    # Read what the campaign selects, and every item of a plugin the scan already holds (the
    # candidates the stored findings are found among).
    again = Profile(name="stored", primary_plugins=frozenset(r["plugin_id"] for r in stored))
    reader = open_reader(source, campaigns([profile, again]) if stored else profile,
                         keep_raw=not profile.select_all)
    rows: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    own = total = host_seq = 0
    for host_seq, (_host, items) in enumerate(reader.hosts()):
        old = by_host.pop(host_seq, [])
        seq = 0
        for f in items:
            role = profile.role(f.plugin_id, f.plugin_name, f.plugin_family, f.port, f.protocol)
            match = old[0] if old and _same(old[0], f) else None
            if match is None and role is None:
                continue
            kept = [] if match is None else marks.get((host_seq, match["item_seq"]), [])
            if match is not None:
                old.pop(0)
            if role is not None:
                kept = [*kept, (profile.name, role or None)]
                own += 1
            f_role = match["profile_role"] if match is not None else role or None
            rows.append(_finding_values(scan_id, host_seq, seq, replace(f, profile_role=f_role)))
            tags.extend((c, scan_id, host_seq, seq, r) for c, r in kept)
            seq += 1
            total += 1
        if old:
            break
        if on_host:
            on_host()
    if by_host or old or reader.stats.sha256 != scan["sha256"] \
            or host_seq + 1 != scan["hosts_count"] and scan["hosts_count"]:
        raise InputError(f"reading it again does not give the findings stored for scan "
                         f"{scan_id} (stored by another version of vulnpipe?)", path=source.name,
                         hint="ingest it into a new store with every campaign instead")
    conn.execute(findings.delete().where(findings.c.scan_id == scan_id))
    conn.execute(finding_campaigns.delete().where(finding_campaigns.c.scan_id == scan_id))
    for part in range(0, len(rows), BATCH_FINDINGS):
        _insert_many(conn, findings, rows[part:part + BATCH_FINDINGS])
    for part in range(0, len(tags), BATCH_FINDINGS):
        _insert_many(conn, finding_campaigns, tags[part:part + BATCH_FINDINGS])
    return _Added(own, total)


def _same(row: dict[str, Any], f: Finding) -> bool:
    """Whether the stored finding ``row`` is ``f`` read again."""
    return all(row[k] == getattr(f, k) for k in _SAME)
