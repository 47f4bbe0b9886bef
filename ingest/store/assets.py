"""The inventory snapshot: the asset inventory the tickets were last built with.

A command given ``--inventory`` stores it here; later commands without one use it.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from vulnpipe.ingest.store.schema import assets

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.inventory import Inventory

_SNAPSHOT_HEADERS = ("asset_id", "name", "fqdn", "ip", "mac", "owner", "owner_email", "team",
                     "business_unit", "environment", "criticality", "internet_facing", "os",
                     "location")


def _clean(value: Any) -> Any:
    """A DataFrame cell as a plain value: missing (None, NaN, pd.NA) becomes None."""
    if value is None or isinstance(value, (list, tuple)):
        return value
    try:
        import pandas as pd
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def _rows(inventory: "Inventory") -> list[dict[str, Any]]:
    rows = []
    for rec in inventory.assets.to_dict("records"):
        rec = {k: _clean(v) for k, v in rec.items()}
        text = {k: (None if rec.get(k) is None else str(rec[k]))
                for k in ("name", "fqdn", "owner", "owner_email", "team", "business_unit",
                          "environment", "criticality", "os", "location")}
        fac = rec.get("internet_facing")
        rows.append({"asset_id": str(rec["asset_id"]), **text,
                     "ips": list(rec.get("ips") or []), "macs": list(rec.get("macs") or []),
                     "cidrs": list(rec.get("cidrs") or []),
                     "internet_facing": None if fac is None else bool(fac),
                     "source": inventory.source})
    return rows


def save_inventory(conn: Connection, inventory: "Inventory") -> None:
    """Replace the stored inventory snapshot (used when a later run gives no inventory)."""
    conn.execute(delete(assets))
    rows = _rows(inventory)
    for i in range(0, len(rows), 5000):
        conn.execute(insert(assets), rows[i:i + 5000])


def load_inventory_snapshot(conn: Connection) -> "Inventory | None":
    """The inventory stored by the last build, or None."""
    from vulnpipe.ingest.assets.inventory import inventory_from_rows

    rows = conn.execute(select(assets).order_by(assets.c.asset_id)).mappings().all()
    if not rows:
        return None
    body = []
    for r in rows:
        ips = list(r["ips"]) + list(r["cidrs"])
        body.append([r["asset_id"], r["name"], r["fqdn"], ";".join(ips), ";".join(r["macs"]),
                     r["owner"], r["owner_email"], r["team"], r["business_unit"],
                     r["environment"], r["criticality"],
                     None if r["internet_facing"] is None else ("yes" if r["internet_facing"] else "no"),
                     r["os"], r["location"]])
    return inventory_from_rows([list(_SNAPSHOT_HEADERS), *body],
                               source=rows[0]["source"] or "stored inventory",
                               columns={k: k for k in _SNAPSHOT_HEADERS})


def inventory_digest(inventory: "Inventory") -> str:
    """A digest of the inventory's assets and source (same assets, same digest)."""
    frame = inventory.assets
    digest = hashlib.sha256(str(inventory.source).encode("utf-8"))
    for col in sorted(frame.columns):
        values = frame[col].astype(object).tolist()
        digest.update(orjson.dumps([col, values], default=str,
                                   option=orjson.OPT_SERIALIZE_NUMPY))
    return digest.hexdigest()
