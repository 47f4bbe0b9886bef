"""The inventory snapshot: the asset inventory the tickets were last built with.

A command given ``--inventory`` stores it here; later commands without one use it. It keeps
every identity the inventory matches hosts by (addresses, ranges, MACs, every FQDN and short
host name), so the inventory rebuilt from it matches every host as the file did.
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


def _keys_by_asset(frame: Any) -> dict[str, list[str]]:
    """asset id -> its keys in a lookup frame (``key``, ``asset_id``), sorted (so an inventory
    rebuilt from the snapshot stores the same lists again)."""
    out: dict[str, set[str]] = {}
    for key, asset_id in zip(frame["key"].tolist(), frame["asset_id"].tolist()):
        out.setdefault(str(asset_id), set()).add(str(key))
    return {asset_id: sorted(keys) for asset_id, keys in out.items()}


def _rows(inventory: "Inventory") -> list[dict[str, Any]]:
    fqdns = _keys_by_asset(inventory.lookups["fqdn"])
    names = _keys_by_asset(inventory.lookups["short"])
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
                     "source": inventory.source,
                     "fqdns": fqdns.get(str(rec["asset_id"]), []),
                     "names": names.get(str(rec["asset_id"]), [])})
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
        body.append([r["asset_id"], r["name"], _fqdn_cell(r), ";".join(ips), ";".join(r["macs"]),
                     r["owner"], r["owner_email"], r["team"], r["business_unit"],
                     r["environment"], r["criticality"],
                     None if r["internet_facing"] is None else ("yes" if r["internet_facing"] else "no"),
                     r["os"], r["location"]])
    return inventory_from_rows([list(_SNAPSHOT_HEADERS), *body],
                               source=rows[0]["source"] or "stored inventory",
                               columns={k: k for k in _SNAPSHOT_HEADERS})


def _fqdn_cell(row: Any) -> str | None:
    """The FQDN cell a stored asset is rebuilt from: its first FQDN, every other FQDN and
    every short name that is not the first label of one of them (an inventory reads an FQDN
    cell's name without a dot as a short name). With the name cell (the first name as
    written), the rebuilt asset has the lookups the stored one had; a row stored before 0006
    (no lists) has its first name and FQDN only, as before."""
    fqdns = list(row["fqdns"] or [])
    labels = {f.split(".", 1)[0] for f in fqdns}
    values = [row["fqdn"], *fqdns, *(n for n in row["names"] or [] if n not in labels)]
    cell = ";".join(dict.fromkeys(_as_written(v) for v in values if v))
    return cell or None


def _as_written(key: str) -> str:
    """A stored (normalised) name as a cell token that reads back as the same name: a name
    ending in white space (``"a ."`` is ``"a "``) gets the trailing dot back, as the cell's
    white space would be stripped."""
    return key + "." if key != key.rstrip() else key


#: Part of every digest; changed when the snapshot comes to store more of an inventory, so
#: that a store whose snapshot an older vulnpipe saved stores it again on the next run given
#: the inventory (0006: every name and FQDN of an asset, not the first only).
_DIGEST_FORM = b"snapshot 0006"


def inventory_digest(inventory: "Inventory") -> str:
    """A digest of the inventory's assets, every name and FQDN each is matched by (what the
    snapshot stores: a changed second name is a changed inventory) and its source (same
    assets and names, same digest)."""
    frame = inventory.assets
    digest = hashlib.sha256(_DIGEST_FORM + str(inventory.source).encode("utf-8"))
    for col in sorted(frame.columns):
        values = frame[col].astype(object).tolist()
        digest.update(orjson.dumps([col, values], default=str,
                                   option=orjson.OPT_SERIALIZE_NUMPY))
    for lookup in ("fqdn", "short"):          # (in the file's order, as the assets are)
        pairs = inventory.lookups[lookup]
        digest.update(orjson.dumps([lookup, pairs["key"].astype(object).tolist(),
                                    pairs["asset_id"].astype(object).tolist()], default=str))
    return digest.hexdigest()
