"""Host identities: every distinct way a host was named in a scan, matched to the inventory once.

A host's identity is the digest of the fields the inventory match reads (report host name,
normalised address, ``host-ip``, ``host-fqdn``, ``hostname``, NetBIOS name, MACs). An estate
of 10,000 hosts scanned weekly for a year has about 10,000 identities but over half a million
host rows, so matching identities costs what the estate holds, not what the history holds.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from vulnpipe.ingest.store.schema import host_identities, identity_assets, store_meta

#: The host fields an identity is made of, in digest order. Never change this (digests are
#: stored): a new field means a new digest function and a migration.
IDENTITY_FIELDS = ("name", "address", "host_ip", "host_fqdn", "hostname", "netbios_name",
                   "mac_address")
#: The match of one identity, as stored.
MATCH_FIELDS = ("asset_id", "match_method", "match_candidates", "unowned")


def identity_digest(values: Sequence[str | None]) -> str:
    """32 hex digits of SHA-256 over :data:`IDENTITY_FIELDS` values (None and '' differ)."""
    text = "\x1f".join("\x00" if v is None else v for v in values)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def insert_identities(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Store identities not stored yet (the first scan and host to show one keep it)."""
    rows = list(rows)
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(host_identities).on_conflict_do_nothing(), rows)
    else:
        conn.execute(insert(host_identities).prefix_with("OR IGNORE"), rows)


def all_identities(conn: Connection, only_unmatched: bool = False) -> list[dict[str, Any]]:
    """Identities (those without a stored match, with ``only_unmatched``), in the order
    they were first seen."""
    q = select(host_identities)
    if only_unmatched:
        q = q.where(~host_identities.c.identity.in_(select(identity_assets.c.identity)))
    q = q.order_by(host_identities.c.first_scan_id, host_identities.c.first_host_seq,
                   host_identities.c.identity)
    return [dict(r) for r in conn.execute(q).mappings()]


def replace_matches(conn: Connection, rows: Sequence[Mapping[str, Any]], *, everything: bool) -> None:
    """Store identities' matches (``everything``: the stored ones are all replaced first)."""
    if everything:
        conn.execute(delete(identity_assets))
    for i in range(0, len(rows), 5000):
        conn.execute(insert(identity_assets), list(rows[i:i + 5000]))


def matches(conn: Connection) -> dict[str, dict[str, Any]]:
    """identity -> its stored match (:data:`MATCH_FIELDS`)."""
    return {r["identity"]: dict(r) for r in conn.execute(select(identity_assets)).mappings()}


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(store_meta).where(store_meta.c.key == key))
    conn.execute(insert(store_meta).values(key=key, value=value))
