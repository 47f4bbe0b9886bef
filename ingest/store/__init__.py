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
    checked to speak the current schema (a new database is created when ``create``)."""
    if not create:
        from pathlib import Path

        from sqlalchemy.engine import make_url

        resolved = make_url(resolve_url(url))
        if resolved.get_backend_name() == "sqlite" and resolved.database not in (None, "", ":memory:") \
                and not Path(resolved.database).exists():
            raise StoreError(f"no database at {resolved.database}",
                             hint="run `vulnpipe ingest SCAN...` first, or give --db")
    engine = make_engine(url)
    ensure_schema(engine, create=create)
    return engine


__all__ = ["IngestResult", "StoreError", "display_url", "ensure_schema", "ingest_source",
           "make_engine", "open_store", "resolve_url", "upgrade"]
