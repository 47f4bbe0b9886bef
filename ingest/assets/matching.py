"""Which inventory asset each scanned host is: vectorised merges, never a loop per host.

>>> matched = match_hosts(hosts, inventory, default_owner="secops")    # doctest: +SKIP
>>> joined = join_findings(findings, inventory, rules, "secops")        # doctest: +SKIP

Levels, tried in this order; a host is settled at the first level where anything matches:

1. ``ip``       the scanned address (``host_ip``, or the report host name when it is an IP)
2. ``fqdn``     ``host_fqdn`` (and a dotted ``hostname`` / report host name)
3. ``hostname`` NetBIOS name, host name, or the short name of either side's FQDN
4. ``mac``      any MAC address of the host
5. ``cidr``     the narrowest inventory CIDR range holding the address

Two or more assets at the settling level make the host ``ambiguous`` (the candidates are
listed, no asset is picked). Hosts that match nothing are ``unmatched``. Ambiguous and
unmatched hosts, and matched assets with no owner, get the default owner and ``unowned=True``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from vulnpipe.ingest.assets.inventory import (
    Inventory,
    normalize_hostnames,
    normalize_ips,
    normalize_macs_column,
    short_names,
)

if TYPE_CHECKING:
    from vulnpipe.ingest.assets.priority import Rule

#: Columns :func:`match_hosts` adds, in output order.
MATCH_COLUMNS: tuple[str, ...] = (
    "asset_id", "owner", "owner_email", "team", "business_unit", "environment", "criticality",
    "internet_facing", "match_method", "match_candidates", "unowned",
)
#: Columns :func:`join_findings` adds after the finding fields, in output order.
JOIN_COLUMNS: tuple[str, ...] = (
    "asset_id", "owner", "owner_email", "team", "business_unit", "environment", "criticality",
    "internet_facing", "match_method", "match_candidates", "first_seen", "priority",
    "sla_days", "due_date",
)
METHODS: tuple[str, ...] = ("ip", "fqdn", "hostname", "mac", "cidr", "ambiguous", "unmatched")
IDENTITY_FIELDS: tuple[str, ...] = ("host", "host_ip", "host_fqdn", "hostname", "netbios_name",
                                    "mac_address")
_ASSET_FIELDS = ("owner", "owner_email", "team", "business_unit", "environment",
                 "criticality", "internet_facing")
_UINT64 = (1 << 64) - 1


def _column(hosts: pd.DataFrame, name: str) -> pd.Series:
    if name in hosts.columns:
        return hosts[name].astype(object).where(hosts[name].notna(), None)
    return pd.Series([None] * len(hosts), index=hosts.index, dtype=object)


def _raw(series: pd.Series, split: str | None = None) -> pd.DataFrame:
    """(pos, raw) for every non-empty value of a host column (split into tokens if asked)."""
    values = series.reset_index(drop=True)
    values = values[values.notna()]
    if split and len(values):
        values = values.astype(str).str.split(split, regex=True).explode()
        values = values[values.notna() & (values != "")]
    return pd.DataFrame({"pos": values.index.to_numpy(dtype="int64"),
                         "raw": values.to_numpy(dtype=object)})


def _keys(frames: Sequence[pd.DataFrame], normalise) -> pd.DataFrame:
    """(pos, key) pairs: raw values normalised (a column function, run once per distinct
    value), empty keys dropped."""
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        return pd.DataFrame({"pos": pd.Series([], dtype="int64"),
                             "key": pd.Series([], dtype="string")})
    uniq = pd.Series(pd.unique(frame["raw"]), dtype=object)
    table = pd.Series(normalise(uniq).to_numpy(), index=uniq.to_numpy())
    frame["key"] = frame["raw"].map(table)
    frame = frame[frame["key"].notna() & (frame["key"] != "")]
    return frame[["pos", "key"]].astype({"pos": "int64", "key": "string"}).drop_duplicates()


def _dotted_names(values: pd.Series) -> pd.Series:
    """Normalised host names that hold a dot and are not IP addresses (else None)."""
    names = normalize_hostnames(values)
    keep = names.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    keep = keep & normalize_ips(names).isna().to_numpy(dtype=bool)
    return names.where(keep, None)


def _host_keys(hosts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    host = _raw(_column(hosts, "host"))
    ip = _raw(_column(hosts, "host_ip"))
    fqdn = _raw(_column(hosts, "host_fqdn"))
    hostname = _raw(_column(hosts, "hostname"))
    netbios = _raw(_column(hosts, "netbios_name"))
    macs = _raw(_column(hosts, "mac_address"), split=r"[;,\s]+")
    return {"ip": _keys([ip, host], normalize_ips),
            "fqdn": _keys([fqdn, hostname, host], _dotted_names),
            "hostname": _keys([netbios, hostname, fqdn, host], short_names),
            "mac": _keys([macs], normalize_macs_column)}


def _ip_halves(keys: pd.Series) -> pd.DataFrame:
    """Version and the address as two uint64 halves, for normalised IP texts."""
    uniq = pd.unique(keys.astype(object))
    v4 = np.array([":" not in k for k in uniq], dtype=bool)
    version = np.where(v4, 4, 6)
    hi = np.zeros(len(uniq), dtype=np.uint64)
    lo = np.zeros(len(uniq), dtype=np.uint64)
    if v4.any():
        octets = pd.Series(uniq[v4]).str.split(".", expand=True).astype("uint64").to_numpy()
        lo[v4] = (octets[:, 0] << np.uint64(24)) | (octets[:, 1] << np.uint64(16)) \
            | (octets[:, 2] << np.uint64(8)) | octets[:, 3]
    if (~v4).any():
        import ipaddress

        values = [int(ipaddress.IPv6Address(k)) for k in uniq[~v4]]
        hi[~v4] = np.array([v >> 64 for v in values], dtype=np.uint64)
        lo[~v4] = np.array([v & _UINT64 for v in values], dtype=np.uint64)
    table = pd.DataFrame({"key": pd.array(uniq, dtype="string"), "version": version,
                          "hi": hi, "lo": lo})
    return table


def _masks(version: int, prefixlen: int) -> tuple[np.uint64, np.uint64]:
    if version == 4:
        return np.uint64(0), np.uint64((0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF)
    full = (_UINT64 << 64 | _UINT64)
    mask = (full << (128 - prefixlen)) & full
    return np.uint64(mask >> 64), np.uint64(mask & _UINT64)


def _cidr_candidates(ip_keys: pd.DataFrame, cidrs: pd.DataFrame) -> pd.DataFrame:
    """(pos, asset_id) for the narrowest CIDR ranges holding each host address."""
    empty = pd.DataFrame({"pos": pd.Series([], dtype="int64"),
                          "asset_id": pd.Series([], dtype="string")})
    if ip_keys.empty or cidrs.empty:
        return empty
    halves = _ip_halves(ip_keys["key"])
    addrs = ip_keys.merge(halves, on="key", how="inner")
    found = []
    for (version, prefixlen), nets in cidrs.groupby(["version", "prefixlen"], sort=True):
        mask_hi, mask_lo = _masks(int(version), int(prefixlen))
        side = addrs[addrs["version"] == version]
        if side.empty:
            continue
        probe = pd.DataFrame({"pos": side["pos"].to_numpy(),
                              "net_hi": side["hi"].to_numpy() & mask_hi,
                              "net_lo": side["lo"].to_numpy() & mask_lo})
        hit = probe.merge(nets[["net_hi", "net_lo", "asset_id"]], on=["net_hi", "net_lo"])
        found.append(hit.assign(prefixlen=int(prefixlen))[["pos", "asset_id", "prefixlen"]])
    if not found:
        return empty
    hits = pd.concat(found, ignore_index=True)
    widest = hits.groupby("pos")["prefixlen"].transform("max")
    return hits[hits["prefixlen"] == widest][["pos", "asset_id"]]


def _settle(candidates: pd.DataFrame, open_: np.ndarray, method: str, asset: np.ndarray,
            methods: np.ndarray, cands: np.ndarray) -> None:
    """Record matches of one level for hosts not yet settled (``open_`` is updated)."""
    c = candidates[open_[candidates["pos"].to_numpy()]].drop_duplicates(["pos", "asset_id"])
    if c.empty:
        return
    counts = c.groupby("pos")["asset_id"].size()
    single = counts.index[counts.to_numpy() == 1].to_numpy()
    multi = counts.index[counts.to_numpy() > 1].to_numpy()
    if len(single):
        one = c[c["pos"].isin(single)]
        asset[one["pos"].to_numpy()] = one["asset_id"].to_numpy(dtype=object)
        methods[one["pos"].to_numpy()] = method
    if len(multi):
        many = c[c["pos"].isin(multi)].sort_values(["pos", "asset_id"])
        joined = many.groupby("pos")["asset_id"].agg(";".join)
        cands[joined.index.to_numpy()] = joined.to_numpy(dtype=object)
        methods[joined.index.to_numpy()] = "ambiguous"
    open_[counts.index.to_numpy()] = False


def match_hosts(hosts: pd.DataFrame, inventory: Inventory, *, default_owner: str | None = None,
                default_owner_email: str | None = None) -> pd.DataFrame:
    """``hosts`` (as from :func:`ingest.frames.hosts_frame`; any of the columns
    :data:`IDENTITY_FIELDS` may be missing) with :data:`MATCH_COLUMNS` added, same index.

    ``match_method`` is one of :data:`METHODS`; ``match_candidates`` holds the
    ``;``-joined asset ids of an ambiguous host.
    """
    n = len(hosts)
    keys = _host_keys(hosts)
    open_ = np.ones(n, dtype=bool)
    asset = np.full(n, None, dtype=object)
    methods = np.full(n, "unmatched", dtype=object)
    cands = np.full(n, None, dtype=object)
    for level, lookup in (("ip", "ip"), ("fqdn", "fqdn"), ("hostname", "short"), ("mac", "mac")):
        table = inventory.lookups[lookup]
        if keys[level].empty or table.empty:
            continue
        hits = keys[level].merge(table, on="key", how="inner")[["pos", "asset_id"]]
        _settle(hits, open_, level, asset, methods, cands)
    if open_.any():
        ip_keys = keys["ip"][open_[keys["ip"]["pos"].to_numpy()]]
        _settle(_cidr_candidates(ip_keys, inventory.lookups["cidr"]), open_, "cidr", asset,
                methods, cands)

    out = hosts.copy()
    attributes = asset_attributes(asset.tolist(), inventory, default_owner=default_owner,
                                  default_owner_email=default_owner_email)
    for col in ("asset_id", *_ASSET_FIELDS):
        out[col] = attributes[col].array          # (an array: no alignment on the index)
    out["match_method"] = pd.array(methods, dtype="string")
    out["match_candidates"] = pd.array(cands, dtype="string")
    out["unowned"] = pd.array(attributes["unowned"].to_numpy(), dtype="boolean")
    return out


def asset_attributes(asset_ids: Sequence[str | None], inventory: Inventory, *,
                     default_owner: str | None = None,
                     default_owner_email: str | None = None) -> pd.DataFrame:
    """For each of ``asset_ids`` (None: no asset), ``asset_id`` and the asset's attributes
    from ``inventory`` (:data:`_ASSET_FIELDS`), as :func:`match_hosts` adds them: an asset
    without an owner, or no asset, gets the default owner and e-mail (``unowned`` says so)."""
    ids = pd.Series(list(asset_ids), dtype="string")
    attrs = inventory.assets.set_index("asset_id")[list(_ASSET_FIELDS)]
    picked = attrs.reindex(ids.fillna("\x00__none__").to_numpy())
    out = pd.DataFrame({"asset_id": pd.array(list(asset_ids), dtype="string")})
    for col in _ASSET_FIELDS:
        out[col] = picked[col].to_numpy()
        out[col] = out[col].astype("boolean" if col == "internet_facing" else "string")
    unowned = out["owner"].isna().to_numpy()
    out["owner"] = out["owner"].mask(unowned, default_owner).astype("string")
    out["owner_email"] = out["owner_email"].mask(unowned, default_owner_email).astype("string")
    out["unowned"] = unowned
    return out


def first_seen(findings: pd.DataFrame) -> pd.Series:
    """Earliest ``host_start`` of each (host address, plugin, port, protocol) in ``findings``:
    the stateless "first seen" date. The host address is ``host_ip``, else the lower-cased
    report host name."""
    addr = _column(findings, "host_ip").fillna(_column(findings, "host").str.lower())
    frame = pd.DataFrame({"addr": addr.to_numpy(dtype=object),
                          "plugin_id": findings["plugin_id"].to_numpy(dtype=object),
                          "port": findings["port"].to_numpy(dtype=object),
                          "protocol": findings["protocol"].to_numpy(dtype=object),
                          "start": findings["host_start"].to_numpy()}, index=findings.index)
    return frame.groupby(["addr", "plugin_id", "port", "protocol"], dropna=False, sort=False
                         )["start"].transform("min")


def join_findings(findings: pd.DataFrame, inventory: Inventory,
                  rules: "Sequence[Rule] | None" = None, default_owner: str | None = None, *,
                  default_owner_email: str | None = None,
                  fallback: tuple[str, int] | None = None) -> pd.DataFrame:
    """``findings`` (as from :func:`ingest.frames.findings_frame` or ``read_frames``, with
    the ``hostname`` column) with :data:`JOIN_COLUMNS` added (and ``unowned``), same index.
    ``rules`` are the priority rules (default: the built-in table, as the CLI's).

    Hosts are matched once per distinct identity. ``first_seen`` is kept when the frame
    already has it (e.g. from the history store), else computed by :func:`first_seen`.
    ``due_date`` is the first-seen UTC calendar day plus ``sla_days`` (midnight, no zone).
    """
    from vulnpipe.ingest.assets.priority import DEFAULT_FALLBACK, DEFAULT_RULES, assign_priority, due_dates

    rules = DEFAULT_RULES if rules is None else rules
    ids = [c for c in IDENTITY_FIELDS if c in findings.columns]
    group = findings.groupby(ids, dropna=False, sort=False).ngroup().to_numpy() \
        if ids and len(findings) else np.zeros(len(findings), dtype="int64")
    first_rows = pd.Series(np.arange(len(findings))).groupby(group).first().to_numpy() \
        if len(findings) else np.array([], dtype="int64")
    distinct = findings.iloc[first_rows][ids].reset_index(drop=True) if len(findings) \
        else findings[ids].iloc[0:0].reset_index(drop=True)
    matched = match_hosts(distinct, inventory, default_owner=default_owner,
                          default_owner_email=default_owner_email)
    out = findings.copy()
    for col in MATCH_COLUMNS:
        out[col] = matched[col].to_numpy()[group] if len(findings) else matched[col].to_numpy()
        out[col] = out[col].astype(matched[col].dtype)
    if "first_seen" not in out.columns:
        out["first_seen"] = first_seen(out) if len(out) else out.get("host_start")
    prio, sla = assign_priority(out, rules, fallback or DEFAULT_FALLBACK)
    out["priority"] = prio
    out["sla_days"] = sla
    out["due_date"] = due_dates(out["first_seen"], out["sla_days"])
    return out


def match_summary(matched: pd.DataFrame) -> dict[str, int]:
    """Distinct hosts per match method (every name of :data:`METHODS`), plus ``hosts``,
    ``matched`` and ``unowned``, for a frame from :func:`match_hosts` or
    :func:`join_findings`."""
    ids = [c for c in IDENTITY_FIELDS if c in matched.columns]
    hosts = matched.drop_duplicates(ids) if ids else matched
    counts = hosts["match_method"].value_counts()
    summary = {m: int(counts.get(m, 0)) for m in METHODS}
    summary["hosts"] = len(hosts)
    summary["matched"] = sum(summary[m] for m in METHODS[:5])
    summary["unowned"] = int(hosts["unowned"].fillna(True).sum())
    return summary
