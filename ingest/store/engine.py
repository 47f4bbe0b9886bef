"""Connecting to the store: SQLite by default, PostgreSQL (psycopg 3) for teams.

``vulnpipe.db`` in the working directory unless ``--db URL`` or ``VULNPIPE_DB`` says
otherwise. A new database is created at the newest schema; an older one is refused with a
clear message until ``vulnpipe db upgrade`` has been run.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from vulnpipe.ingest.errors import VulnpipeError, mask_secrets, remember_secret
from vulnpipe.ingest.store.schema import HEAD as HEAD

DEFAULT_DB = "vulnpipe.db"
ENV_VAR = "VULNPIPE_DB"
SQLITE_BUSY_MS = 300_000   # concurrent writers wait their turn (one transaction per file)
SCHEMA_LOCK = 0x76707363    # "vpsc": the PostgreSQL advisory lock held while the schema changes


class StoreError(VulnpipeError):
    """The database cannot be used: unreachable, wrong credentials, old or unknown schema."""


def resolve_url(url: str | None = None) -> str:
    """The SQLAlchemy URL for ``--db`` / ``VULNPIPE_DB`` / the default SQLite file.

    A plain path means a SQLite file; ``postgresql://`` URLs use the psycopg 3 driver. An
    empty ``url`` or ``VULNPIPE_DB`` (a missing CI secret) is an error, never the default.
    """
    if url is not None and not url.strip():
        raise StoreError("the database URL is empty", hint="give --db URL, or [store] url")
    raw = url or env_url() or DEFAULT_DB
    if "://" not in raw:
        return "sqlite:///" + str(Path(raw))
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw


def env_url() -> str | None:
    """``VULNPIPE_DB`` (None when unset); set but empty is a :class:`StoreError`."""
    value = os.environ.get(ENV_VAR)
    if value is not None and not value.strip():
        raise StoreError(f"{ENV_VAR} is set but empty",
                         hint="set it to the database URL, or unset it to use [store] url")
    return value


def display_url(url: str) -> str:
    """The URL without any password (``user:PW@``, ``?password=PW``, ``sslpassword``, ...),
    for messages and every output that names the database. The passwords are remembered, so
    they are masked in any later message that quotes them (see
    :func:`~vulnpipe.ingest.errors.mask_secrets`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return mask_secrets(url)
    remember_secret(parsed.password if isinstance(parsed.password, str) else None)
    for key, value in parsed.query.items():
        if re.search(r"passw(or)?d|pwd|passphrase", key, re.IGNORECASE):
            for one in (value,) if isinstance(value, str) else value:
                remember_secret(one)
    return mask_secrets(parsed.render_as_string(hide_password=True).replace("+psycopg", ""))


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None     # transactions are begun below, explicitly
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # take the write lock up front: two writers never deadlock on a lock upgrade
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None) -> Engine:
    resolved = resolve_url(url)
    display_url(resolved)                 # its passwords are masked in every message
    try:
        if resolved.startswith("sqlite"):
            db_path = make_url(resolved).database
            if db_path and db_path != ":memory:":
                parent = Path(db_path).parent
                if not parent.exists():
                    raise StoreError(f"folder {parent} does not exist", path=db_path,
                                     hint="create it or give another --db path")
            engine = create_engine(resolved)
            _sqlite_pragmas(engine)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except ArgumentError:
        raise StoreError(f"not a database URL: {display_url(resolved)}",
                         hint="use a file path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB") from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"no driver for {display_url(resolved)}: {exc.name} is not installed") from None
    return engine


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Driver and connection errors inside become one clear :class:`StoreError`."""
    try:
        yield
    except VulnpipeError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise connect_error(exc, url) from None


def connect_error(exc: Exception, url: str) -> StoreError:
    first = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    low = first.lower()
    if "disk is full" in low or "no space left" in low or "could not extend file" in low:
        hint = "free disk space where the database is, then run again"
    elif "server closed the connection" in low or "connection" in low and "lost" in low or \
            "terminating connection" in low or "consuming input failed" in low:
        hint = ("the connection was lost: what was being stored was rolled back; run the same "
                "command again (files already stored are skipped)")
    else:
        hint = "check the URL, that the server is running and the credentials"
    return StoreError(f"cannot use the database {display_url(url)}: {first}", hint=hint)


def require_database(url: str | None = None) -> None:
    """A SQLite database file that does not exist is a :class:`StoreError`: only a command
    that stores scans creates a database (PostgreSQL databases are created by their admin)."""
    resolved = make_url(resolve_url(url))
    path = resolved.database
    if resolved.get_backend_name() == "sqlite" and path not in (None, "", ":memory:") \
            and not Path(path).exists():
        raise StoreError(f"no database at {path}",
                         hint="run `vulnpipe ingest SCAN...` first, or check --db, VULNPIPE_DB, "
                              "--config and VULNPIPE_CONFIG")


def no_scans_error(url: str) -> StoreError:
    """A database with no scan in it, where a command needs some."""
    return StoreError(f"the database {display_url(url)} holds no scans yet",
                      hint="run `vulnpipe ingest SCAN...` first, or give --db")


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision stamped in the database, or None for an empty database."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Any) -> str | None:
    db = inspect(conn)
    if not db.has_table("alembic_version"):
        return "unversioned" if db.has_table("scans") else None
    found: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return found


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (the newest by default)."""
    from alembic import command
    from alembic.util.exc import CommandError

    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # one schema change at a time: a second process waits, then finds it done
                # (SQLite: the write lock every vulnpipe transaction takes when it begins)
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            command.upgrade(_alembic_config(conn), revision)
    except CommandError as exc:
        raise StoreError(f"cannot upgrade {display_url(url)}: {exc}",
                         hint="it may have been written by a newer vulnpipe: upgrade vulnpipe") from None


def create_schema(engine: Engine) -> str | None:
    """Create the newest schema in an empty database: the tables as :mod:`schema` describes
    them and Alembic's version table stamped at :data:`HEAD`, in one transaction. What the
    migrations would build, without replaying each of them (a new store in a few
    milliseconds instead of a tenth of a second, Alembic not even imported). Returns None,
    or the revision another process stamped while this one waited (nothing is changed then).
    A table of the same name that another application made is an error, as it was for the
    first migration, never taken over."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert

    from vulnpipe.ingest.store.schema import metadata

    version = Table("alembic_version", MetaData(),       # Alembic's own table, as it makes it
                    Column("version_num", String(32), nullable=False),
                    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        found = _revision(conn)
        if found is not None:
            return found
        metadata.create_all(conn, checkfirst=False)
        if not inspect(conn).has_table("alembic_version"):   # (kept when there, but empty)
            version.create(conn)
        conn.execute(insert(version).values(version_num=HEAD))
    return None


def known_revisions() -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return [s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()]


def ensure_schema(engine: Engine, *, create: bool = True) -> None:
    """Make sure the database speaks the current schema.

    An empty database is created at the newest revision (when ``create``); an older schema
    is refused with the command that upgrades it; a newer one with a plain explanation.
    """
    url = engine.url.render_as_string(hide_password=False)
    try:
        current = schema_revision(engine)
        if current == HEAD:
            return
        if current is None:
            if not create:
                raise no_scans_error(url)
            current = create_schema(engine)
            if current is None or current == HEAD:
                return
    except StoreError:
        raise
    except (OperationalError, SQLAlchemyError, OSError) as exc:
        raise connect_error(exc, url) from None
    if current in known_revisions():
        raise StoreError(f"the database {display_url(url)} has an older vulnpipe schema "
                         f"(revision {current}, this version needs {HEAD})",
                         hint="back it up, then run `vulnpipe db upgrade`")
    raise StoreError(f"the database {display_url(url)} has schema revision {current}, newer "
                     f"than this vulnpipe (which knows up to {HEAD})",
                     hint="it was written by a newer vulnpipe: upgrade vulnpipe")
