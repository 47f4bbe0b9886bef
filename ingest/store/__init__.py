"""The history store: every scan ever ingested, in SQLite (default) or PostgreSQL.

    from vulnpipe.ingest.store import open_store, ingest_source
    engine = open_store("vulnpipe.db")           # or "postgresql://user@host/db"
"""
from __future__ import annotations

from sqlalchemy.engine import Engine

from vulnpipe.ingest.store.engine import (
    StoreError,
    display_url,
    ensure_schema,
    make_engine,
    resolve_url,
    upgrade,
)
from vulnpipe.ingest.store.writer import IngestResult, ingest_source


def open_store(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for the store at ``url`` (``--db`` / ``VULNPIPE_DB`` / ``vulnpipe.db``),
    checked to speak the current schema (a new database is created when ``create``).

    ``create=False`` (the commands that read the store): a missing database, or one that
    holds no scan, is a :class:`StoreError`."""
    if not create:
        from vulnpipe.ingest.store.engine import require_database

        require_database(url)
    engine = make_engine(url)
    ensure_schema(engine, create=create)
    if not create:
        _require_scans(engine)
    return engine


def _require_scans(engine: Engine) -> None:
    from vulnpipe.ingest.store.engine import no_scans_error, store_errors
    from vulnpipe.ingest.store.read import has_scans

    url = engine.url.render_as_string(hide_password=False)
    with store_errors(url), engine.connect() as conn:
        empty = not has_scans(conn)
    if empty:
        engine.dispose()
        raise no_scans_error(url)


__all__ = ["IngestResult", "StoreError", "display_url", "ensure_schema", "ingest_source",
           "make_engine", "open_store", "resolve_url", "upgrade"]
