"""Moving a history between stores: what people and scanners put in, nothing derived.

A history file is JSON Lines: a header line, then for each table a line naming its columns
followed by one line per row (a list in that order), in key order, so the same history
always gives the same bytes. It holds the scans as stored (scans, their coverage, hosts,
findings, the campaigns they were read for), people's decisions with their times and ids,
the inventory snapshot and the POA&M's Scheduled Completion Dates (frozen once written). Ticket
state, logs and checkpoints are derived: the first command that reads tickets after an
import rebuilds them, giving what the exporting store gave.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Iterator

import orjson
from sqlalchemy import DateTime, Table, func, insert, select
from sqlalchemy.engine import Connection

from vulnpipe.ingest.errors import InputError
from vulnpipe.ingest.store.identities import IDENTITY_FIELDS, insert_identities
from vulnpipe.ingest.store.schema import (
    HEAD,
    assets,
    decisions,
    finding_campaigns,
    findings,
    hosts,
    poam_items,
    scan_campaigns,
    scan_coverage,
    scans,
)

FORMAT = "vulnpipe-history"
VERSION = 1
#: What a history holds, in the order it is written and read back (parents first).
#: (``poam_items``: each POA&M item's Scheduled Completion Date, written once and never
#: recomputed, so it moves with the history; the campaigns tables say which campaigns a scan
#: was read for and which findings belong to each.)
TABLES: tuple[Table, ...] = (scans, scan_coverage, hosts, findings, scan_campaigns,
                             finding_campaigns, decisions, assets, poam_items)
BATCH = 5000


def _key(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


def export_lines(conn: Connection, counts: dict[str, int] | None = None) -> Iterator[bytes]:
    """The history in ``conn`` as the lines of a history file (each ending in a newline);
    the rows of each table are counted into ``counts``."""
    yield orjson.dumps({"format": FORMAT, "version": VERSION, "schema": HEAD}) + b"\n"
    for table in TABLES:
        names = [c.name for c in table.columns]
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if counts is not None:
            counts[table.name] = count
        yield orjson.dumps({"table": table.name, "columns": names, "rows": count}) + b"\n"
        q = select(table).order_by(*_key(table))
        for row in conn.execution_options(yield_per=BATCH).execute(q):
            yield orjson.dumps(list(row)) + b"\n"


def _bad(where: str, what: str, line: int | None = None) -> InputError:
    return InputError(what, path=where, line=line,
                      hint="give a file written by `vulnpipe export` (nothing was imported)")


def _parsed(lines: Iterable[bytes], where: str) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad(where, "not a line of a history file", number) from None


def import_lines(conn: Connection, lines: Iterable[bytes], where: str) -> dict[str, int]:
    """Store a history file's rows (``conn`` in a transaction, the store holding no scan);
    returns rows per table. Ids are kept, so decisions and scans keep their order."""
    if conn.execute(select(func.count()).select_from(scans)).scalar_one():
        raise InputError("the database already holds scans",
                         hint="import into a new, empty database (nothing was imported)")
    rows = _parsed(lines, where)
    first = next(rows, None)
    header = first[1] if first else None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(where, "not a vulnpipe history file", first[0] if first else None)
    if header.get("version") != VERSION or header.get("schema") != HEAD:
        raise InputError(f"history written for schema {header.get('schema')} (format "
                         f"{header.get('version')}); this vulnpipe speaks schema {HEAD}",
                         path=where, hint="export it with this version of vulnpipe, or "
                                          "import with the version that wrote it")
    by_name = {t.name: t for t in TABLES}
    counts: dict[str, int] = {}
    table: Table | None = None
    names: list[str] = []
    dates: list[int] = []
    batch: list[dict[str, Any]] = []
    expected = 0

    def flush() -> None:
        if batch and table is not None:
            conn.execute(insert(table), batch)
            if table is hosts:
                insert_identities(conn, _identities(batch))
            batch.clear()

    for number, item in rows:
        if isinstance(item, dict):
            flush()
            if table is not None and counts[table.name] != expected:
                raise _bad(where, f"table {table.name} holds {counts[table.name]} rows, not "
                                  f"{expected}: the file is cut short", number)
            table = by_name.get(item.get("table", ""))
            if table is None or item.get("columns") != [c.name for c in table.columns]:
                raise _bad(where, f"unknown table or columns: {str(item)[:80]}", number)
            names = item["columns"]
            dates = [i for i, c in enumerate(table.columns) if isinstance(c.type, DateTime)]
            expected = int(item.get("rows", 0))
            counts[table.name] = 0
            continue
        if table is None or not isinstance(item, list) or len(item) != len(names):
            raise _bad(where, "a row that does not fit its table", number)
        for i in dates:
            if item[i] is not None:
                item[i] = datetime.fromisoformat(item[i])
        batch.append(dict(zip(names, item)))
        counts[table.name] += 1
        if len(batch) >= BATCH:
            flush()
    flush()
    if table is not None and counts[table.name] != expected or set(counts) != set(by_name):
        raise _bad(where, "the file is cut short")
    _advance_sequences(conn)
    return counts


def _identities(host_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The host identities first shown by these hosts (the store keeps the first)."""
    out: dict[str, dict[str, Any]] = {}
    for r in host_rows:
        if r["identity"] is not None and r["identity"] not in out:
            out[r["identity"]] = {"identity": r["identity"], "first_scan_id": r["scan_id"],
                                  "first_host_seq": r["host_seq"],
                                  **{f: r[f] for f in IDENTITY_FIELDS}}
    return list(out.values())


def _advance_sequences(conn: Connection) -> None:
    """PostgreSQL: new scans and decisions get ids after the imported ones."""
    if conn.dialect.name != "postgresql":
        return
    for table in (scans, decisions):
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)")

