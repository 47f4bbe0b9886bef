"""A new store is created from the schema module in one step; an old one is brought up to
date by the migrations. Both must leave exactly the same database, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import MetaData, inspect, text

from tests.conftest import SAMPLE_SCANS, run_cli
from vulnpipe.ingest.store import make_engine, open_store
from vulnpipe.ingest.store.engine import HEAD, create_schema, schema_revision, upgrade
from vulnpipe.ingest.store.schema import metadata


def _structure(engine) -> dict:
    """Every table's columns (type, nullability, server default), primary key, indexes,
    unique constraints and foreign keys, as the database reports them."""
    out = {}
    with engine.connect() as conn:
        db = inspect(conn)
        for table in sorted(db.get_table_names()):
            out[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"],
                                   str(c["default"]) if c["default"] is not None else None)
                                  for c in db.get_columns(table)),
                "primary_key": db.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in db.get_indexes(table)),
                "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                                 for u in db.get_unique_constraints(table)),
                "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                        tuple(f["referred_columns"]),
                                        str(f["options"].get("ondelete")))
                                       for f in db.get_foreign_keys(table)),
            }
    return out


def _differences(engine) -> list:
    """What Alembic's autogenerate would change to make the database match the schema module."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return compare_metadata(context, metadata)


def _empty(engine) -> None:
    with engine.begin() as conn:
        reflected = MetaData()
        reflected.reflect(conn)
        reflected.drop_all(conn)
    assert inspect(engine).get_table_names() == []


def test_a_new_store_has_exactly_the_schema_the_migrations_build(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)                                       # every migration, in order
        migrated = _structure(engine)
        assert _differences(engine) == []
        _empty(engine)
        open_store(db_url).dispose()                          # what a first ingest does
        assert schema_revision(engine) == HEAD
        assert _structure(engine) == migrated
        assert _differences(engine) == []
        upgrade(engine)                                       # `vulnpipe db upgrade`: nothing to do
        assert _structure(engine) == migrated
    finally:
        engine.dispose()


def test_creating_the_schema_twice_keeps_the_first(db_url):
    """Two first ingests at once: the one that waited for the other finds the schema made and
    changes nothing (its rows stay)."""
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO store_meta (key, value) VALUES ('probe', 'kept')"))
        create_schema(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM store_meta WHERE key = 'probe'")).scalar() == "kept"
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_a_table_of_another_application_is_refused_not_taken_over(tmp_path, db_url):
    """A database that already has a table of one of vulnpipe's names (another tool's
    `tickets`): the first ingest stops with one line naming it, stamps nothing and leaves
    that table as it was."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tickets (id INTEGER, title TEXT)"))
        conn.execute(text("INSERT INTO tickets VALUES (1, 'theirs')"))
    r = run_cli("ingest", SAMPLE_SCANS / "2026-W44-weekly.nessus", "--db", db_url, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1 and "tickets" in err, err
    assert "Traceback" not in err
    with engine.connect() as conn:
        assert sorted(inspect(conn).get_table_names()) == ["tickets"]
        assert conn.execute(text("SELECT title FROM tickets")).scalars().all() == ["theirs"]
    engine.dispose()


def test_an_empty_version_table_gets_the_schema(tmp_path, db_url):
    """An Alembic version table without a row (`alembic stamp base`) is an empty database:
    the first ingest creates the schema and stores the scan."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
    r = run_cli("ingest", SAMPLE_SCANS / "2026-W44-weekly.nessus", "--db", db_url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert schema_revision(engine) == HEAD
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar() == 1
    engine.dispose()
