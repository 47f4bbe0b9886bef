"""Asset inventories (CSV or XLSX, as a CMDB or a spreadsheet exports them) as typed frames.

>>> inv = load_inventory("assets.xlsx", sheet="Servers")          # doctest: +SKIP
>>> inv.assets[["asset_id", "owner", "criticality", "ips"]]        # one row per asset
>>> inv.lookups["ip"]       # one row per (normalised IP, asset_id); also fqdn, short, mac, cidr
>>> inv.issues              # non-fatal data-quality findings (duplicate IPs, rows without identity)

What users rely on:

* Headers are recognised whatever their case, spacing or underscores (``IP Address``,
  ``ip_address``, ``IPv4`` ...); see :data:`HEADER_ALIASES`. An explicit mapping
  (``[inventory.columns]`` in ``vulnpipe.toml``: canonical key -> header) wins.
* A cell may hold several IPs, names or MACs separated by ``;``, ``,`` or new lines. An IP
  cell holding a CIDR range (``10.20.0.0/16``) makes the row own that network.
* Nothing is ever evaluated: an XLSX formula gives its cached value, or its text when the
  workbook holds no cached value; CSV cells are plain text.
* Bad inventories raise :class:`InventoryError` (one line: file, row, what, what to do).
"""
from __future__ import annotations

import csv
import gc
import io
import ipaddress
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from vulnpipe.ingest.addresses import normalize_ip, normalize_mac
from vulnpipe.ingest.errors import VulnpipeError


class InventoryError(VulnpipeError):
    """An inventory file that cannot be used as it is."""


@dataclass(frozen=True)
class DataQualityIssue:
    """A problem in the inventory that does not stop the join (reported, not raised).

    ``kind`` is one of :data:`ISSUE_KINDS`; ``row`` is the spreadsheet row number (the
    header row counts, so the first data row under a top header is row 2), or None for a
    problem with the whole file.
    """

    kind: str
    row: int | None
    asset_id: str | None
    detail: str

    def line(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        who = f" ({self.asset_id})" if self.asset_id else ""
        return f"{where}{who}: {self.kind}: {self.detail}"


ISSUE_KINDS = ("encoding", "no_identity", "missing_asset_id", "row_order_id", "bad_ip",
               "bad_mac", "duplicate_ip", "duplicate_fqdn", "duplicate_mac", "duplicate_cidr")

#: Canonical inventory keys and the headers recognised for each (compared after lower-casing
#: and dropping everything that is not a letter or digit, so ``IP_Address`` = ``ip address``).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "asset_id": ("asset id", "asset tag", "asset", "id", "asset number", "ci id", "tag"),
    "name": ("name", "hostname", "host name", "host", "computer name", "device name",
             "server name"),
    "fqdn": ("fqdn", "dns name", "dns", "fully qualified domain name"),
    "ip": ("ip", "ip address", "ip addresses", "ips", "ipv4", "ipv4 address", "ipv6",
           "ipv6 address"),
    "mac": ("mac", "mac address", "mac addresses", "macs"),
    "owner": ("owner", "assigned to", "owned by", "owner name"),
    "owner_email": ("owner email", "email", "owner e-mail", "e-mail", "email address"),
    "team": ("team", "support group", "assignment group", "group"),
    "business_unit": ("business unit", "bu", "department", "dept", "division"),
    "environment": ("environment", "env", "stage"),
    "criticality": ("criticality", "business criticality", "asset criticality", "tier"),
    "internet_facing": ("internet facing", "exposure", "external", "internet exposed",
                        "external facing", "public"),
    "os": ("os", "operating system", "platform"),
    "location": ("location", "site", "data center", "datacenter"),
}
CANONICAL_KEYS: tuple[str, ...] = tuple(HEADER_ALIASES)
IDENTITY_KEYS: tuple[str, ...] = ("ip", "fqdn", "name", "mac")
MULTI_VALUED = frozenset({"ip", "fqdn", "name", "mac"})

#: Criticality words accepted (after lower-casing and collapsing spaces, ``-`` and ``_``).
CRITICALITY_SYNONYMS: dict[str, str] = {
    **{w: "critical" for w in ("critical", "crit", "very high", "mission critical", "1",
                               "tier 1", "tier1", "t1", "p1")},
    **{w: "high" for w in ("high", "2", "tier 2", "tier2", "t2", "p2")},
    **{w: "medium" for w in ("medium", "med", "moderate", "3", "tier 3", "tier3", "t3", "p3")},
    **{w: "low" for w in ("low", "4", "tier 4", "tier4", "t4", "p4")},
}
CRITICALITY_LEVELS: tuple[str, ...] = ("critical", "high", "medium", "low")

#: Internet-facing words accepted (same normalisation as criticality); blank = unknown.
EXPOSURE_WORDS: dict[str, bool] = {
    **{w: True for w in ("yes", "y", "true", "t", "1", "x", "external", "internet",
                         "internet facing", "public", "exposed", "dmz")},
    **{w: False for w in ("no", "n", "false", "f", "0", "internal", "private",
                          "not exposed", "none")},
}

ASSET_COLUMNS: tuple[str, ...] = (
    "asset_id", "name", "fqdn", "ips", "macs", "cidrs", "owner", "owner_email", "team",
    "business_unit", "environment", "criticality", "internet_facing", "os", "location",
    "source_row",
)
_TEXT_COLUMNS = ("owner", "owner_email", "team", "business_unit", "environment", "os",
                 "location")
_HEADER_SCAN_ROWS = 10
_SPLIT_NAMES = r"[;,\r\n]+"
_SPLIT_ADDRESSES = r"[;,\s]+"
_WORD = re.compile(r"[\s_\-]+")
_UINT64 = (1 << 64) - 1


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory.

    ``assets``: one row per asset, columns :data:`ASSET_COLUMNS` (``ips``, ``macs``,
    ``cidrs`` hold lists of normalised text; ``internet_facing`` is a nullable boolean;
    ``criticality`` is one of :data:`CRITICALITY_LEVELS` or missing).
    ``lookups``: ``ip``, ``fqdn``, ``short``, ``mac`` frames with columns ``key`` and
    ``asset_id`` (one row per pair), and ``cidr`` with ``asset_id``, ``cidr``, ``version``,
    ``prefixlen``, ``net_hi``, ``net_lo`` (the network address as two unsigned 64-bit halves).
    ``columns``: canonical key -> the header it was read from.
    """

    assets: pd.DataFrame
    lookups: Mapping[str, pd.DataFrame]
    issues: list[DataQualityIssue] = field(default_factory=list)
    source: str = "inventory"
    columns: Mapping[str, str] = field(default_factory=dict)


# -- public entry points ------------------------------------------------------------------

def load_inventory(path: str | Path, *, sheet: str | None = None,
                   columns: Mapping[str, str] | None = None) -> Inventory:
    """Read a CSV or XLSX inventory; ``sheet`` picks an XLSX sheet (default: the first);
    ``columns`` maps canonical keys (:data:`CANONICAL_KEYS`) to headers of the file."""
    path = Path(path)
    name = path.name
    kind = _file_kind(path)
    notes: list[DataQualityIssue] = []
    if kind != "xlsx" and sheet is not None:
        raise InventoryError(f"--sheet {sheet!r} only applies to XLSX workbooks",
                             path=name, hint="drop --sheet for a CSV inventory")
    with _no_cycle_collection():                 # (building the inventory pauses it too)
        rows, merges = _read_xlsx(path, sheet) if kind == "xlsx" else (_read_csv(path, notes), [])
    return inventory_from_rows(rows, source=name, columns=columns, merges=merges, notes=notes)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while an inventory is read: reading makes millions of
    small containers (a row, a row's lists of IPs), none of them in a cycle, and every pass
    of the collector walks them all again (a third of the time on a million rows). Reference
    counting frees memory as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def inventory_from_frame(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                         source: str = "inventory") -> Inventory:
    """An :class:`Inventory` from a DataFrame whose column names are the headers."""
    headers = [str(c) for c in frame.columns]
    body = [[_cell_text(v) for v in row]
            for row in frame.astype(object).where(frame.notna(), None).values.tolist()]
    return inventory_from_rows([headers, *body], source=source, columns=columns)


def inventory_from_rows(rows: Sequence[Sequence[Any]], *, source: str = "inventory",
                        columns: Mapping[str, str] | None = None,
                        merges: Iterable[tuple[int, int, int, int]] = (),
                        notes: Iterable[DataQualityIssue] = ()) -> Inventory:
    """An :class:`Inventory` from raw rows (the header row among the first ten rows).

    ``merges`` are merged cell ranges ``(first_row, first_col, last_row, last_col)``,
    0-based and inclusive: a merged header names every column it spans.
    """
    if not rows:
        raise InventoryError("the inventory is empty", path=source,
                             hint="export the asset list with a header row")
    header_at, mapping, headers = _find_header(rows, columns or {}, source, list(merges))
    with _no_cycle_collection():
        table = _column_texts(rows, header_at, mapping, headers)
        return _build(table, header_at, mapping, headers, source, list(notes))


# -- normalising whole columns -----------------------------------------------------------
# Same results as the one-value functions of ingest.addresses (a property test checks it),
# but text already in canonical form takes a vectorised path: no Python call per value.

_V4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = rf"{_V4_OCTET}(?:\.{_V4_OCTET}){{3}}"
_MAYBE_IP = r"(?s)[\s\[]*[0-9.]+[\]\s]*|.*[:%].*"
_CANONICAL_MAC = r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}"
_RX_CANONICAL_V4 = re.compile(_CANONICAL_V4)
_RX_MAYBE_IP = re.compile(_MAYBE_IP)
_RX_CANONICAL_MAC = re.compile(_CANONICAL_MAC)


def _as_text(values: pd.Series) -> pd.Series:
    obj = values.astype(object)
    return obj.where(obj.notna(), "").astype(str).astype(object)


def _texts(values: pd.Series) -> list[str]:
    """:func:`_as_text` as a list: Python strings, ``""`` for missing values (values that are
    all text or None, the usual case, are taken as they are: no conversion)."""
    raw = values.tolist()
    types = set(map(type, raw))
    if types <= {str}:
        return raw
    if types <= {str, type(None)}:
        return ["" if v is None else v for v in raw]
    return _as_text(values).tolist()


def _apply(values: pd.Series, fast: re.Pattern, maybe, scalar) -> pd.Series:
    """``scalar`` of every value (None for an empty one): values ``fast`` matches are their
    own answer; only values ``maybe`` accepts (None: all) are given to ``scalar``."""
    texts = _texts(values)
    out = [v if hit else scalar(v) if v and (maybe is None or maybe(v)) else None
           for v, hit in zip(texts, map(fast.fullmatch, texts))]
    return pd.Series(out, index=values.index, dtype=object)


_IP_FIRST = frozenset("0123456789.[")


def _maybe_ip(v: str) -> bool:
    """Whether ``_MAYBE_IP`` matches all of ``v`` (not empty): a value without ``:`` or ``%``
    must begin with a digit, dot, bracket or white space (most host names are turned down
    by their first character, without running the pattern)."""
    if ":" in v or "%" in v or v[0] in _IP_FIRST or v[0].isspace():
        return _RX_MAYBE_IP.fullmatch(v) is not None
    return False


def normalize_ips(values: pd.Series) -> pd.Series:
    """:func:`~ingest.addresses.normalize_ip` of every value (None where not an IP)."""
    return _apply(values, _RX_CANONICAL_V4, _maybe_ip, normalize_ip)


def _cell_ip(value: str) -> str | None:
    """:func:`~ingest.addresses.normalize_ip` of an inventory identity cell's value, and a
    value with a trailing dot (``10.0.0.5.``, DNS's absolute form, which a name drops as well:
    :func:`normalize_hostnames`) is the address it spells, never a name or a bad value."""
    ip = normalize_ip(value)
    if ip is None and value.rstrip().endswith("."):
        ip = normalize_ip(value.strip().rstrip("."))
    return ip


def _cell_ips(values: pd.Series) -> pd.Series:
    """:func:`_cell_ip` of every value (None where not an IP)."""
    return _apply(values, _RX_CANONICAL_V4, _maybe_ip, _cell_ip)


def normalize_macs_column(values: pd.Series) -> pd.Series:
    """:func:`~ingest.addresses.normalize_mac` of every value (None where not one MAC)."""
    return _apply(values, _RX_CANONICAL_MAC, None, normalize_mac)


def _hostnames(values: pd.Series) -> list[str | None]:
    norm = [v.strip().rstrip(".").lower() for v in _texts(values)]
    return [v if v else None for v in norm]


def normalize_hostnames(values: pd.Series) -> pd.Series:
    """:func:`~ingest.addresses.normalize_hostname` of every value (None when empty)."""
    return pd.Series(_hostnames(values), index=values.index, dtype=object)


def short_names(values: pd.Series) -> pd.Series:
    """:func:`~ingest.addresses.short_name` of every value (None for IPs and empty names)."""
    norm = _hostnames(values)
    is_ip = normalize_ips(pd.Series(norm, dtype=object)).to_numpy()
    first = [v.split(".", 1)[0] if v is not None and ip is None else None
             for v, ip in zip(norm, is_ip)]
    return pd.Series(first, index=values.index, dtype=object)


# -- reading files ------------------------------------------------------------------------

def _file_kind(path: Path) -> str:
    name = path.name
    if path.is_dir():
        raise InventoryError("is a directory, not an inventory file", path=name,
                             hint="give the CSV or XLSX file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise InventoryError("no such file", path=path, hint="check the --inventory path") from None
    except OSError as exc:
        raise InventoryError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    suffix = path.suffix.lower()
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InventoryError("old Excel 97-2003 (.xls) workbooks are not read", path=name,
                             hint="save it as .xlsx or CSV")
    if suffix in (".xlsx", ".xlsm"):
        if not head.startswith(b"PK"):
            raise InventoryError("not an XLSX workbook (it is not a zip file)", path=name,
                                 hint="save it from Excel as .xlsx, or rename a CSV to .csv")
        return "xlsx"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in (".ods", ".numbers", ".json", ".parquet"):
        raise InventoryError(f"{suffix} files are not read", path=name,
                             hint="export the inventory as CSV or XLSX")
    return "csv"


def _decode(data: bytes, name: str, notes: list[DataQualityIssue]) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        label = "Windows-1252"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        label = "Latin-1"
    notes.append(DataQualityIssue("encoding", None, None,
                                  f"{name} is not UTF-8; read as {label} (save it as UTF-8 "
                                  "to be sure accents are right)"))
    return text


def _sniff_delimiter(text: str) -> str:
    """The delimiter (``,``, ``;`` or tab) that splits the header into most columns: the
    first of the first lines that any of them splits (a title line above is skipped)."""
    lines = [line for line in text.splitlines()[:_HEADER_SCAN_ROWS] if line.strip()]
    for line in lines:
        widths = {d: len(next(csv.reader([line], delimiter=d))) for d in (",", ";", "\t")}
        best = max(widths, key=lambda d: widths[d])
        if widths[best] > 1:
            return best
    return ","


def _read_csv(path: Path, notes: list[DataQualityIssue]) -> list[list[str]]:
    data = path.read_bytes()
    if not data.strip():
        raise InventoryError("the file is empty", path=path.name,
                             hint="export the asset list with a header row")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InventoryError("not a CSV text file (it holds binary data)", path=path.name,
                             hint="give a CSV or XLSX export of the inventory")
    text = _decode(data, path.name, notes)
    delimiter = _sniff_delimiter(text)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InventoryError(f"not a readable CSV file: {exc}", path=path.name,
                             hint="export it again as CSV") from None
    if '"' in text:
        opened = _unclosed_quote_line(text, delimiter)
        if opened is not None:      # the rest of the file would be one cell
            raise InventoryError("a quoted cell opened here is never closed", path=path.name,
                                 line=opened, hint="close the quote (or double a quote inside "
                                                   "a cell: \"\"), or export the file again")
    return rows


_QUOTE_OR_LINE = re.compile(r'["\n]')


def _unclosed_quote_line(text: str, delimiter: str) -> int | None:
    """The line where a quoted cell opens that the file never closes (as the csv module reads
    quotes: only at the start of a cell; ``""`` inside is one quote), or None. Visits only
    quotes and line ends."""
    line, opened, quoted, skip = 1, 0, False, -1
    for m in _QUOTE_OR_LINE.finditer(text):
        i = m.start()
        if m.group() == "\n":
            line += 1
        elif i == skip:
            continue
        elif quoted:
            if text.startswith('"', i + 1):
                skip = i + 1                       # "" inside a quoted cell
            else:
                quoted = False
        elif i == 0 or text[i - 1] in (delimiter, "\n", "\r"):
            quoted, opened = True, line
    return opened if quoted else None


def _cell_text(value: Any) -> str:
    """Spreadsheet cell -> text (never evaluated; ``1.0`` -> ``1``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


#: What openpyxl raises for a damaged workbook: a bad zip, a missing part, malformed XML in a
#: part (ElementTree's and lxml's syntax errors are SyntaxErrors), corrupt compressed data.
_XLSX_DAMAGE = (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, EOFError,
                SyntaxError, zlib.error, IndexError, AttributeError)


def _read_xlsx(path: Path, sheet: str | None) -> tuple[list[list[str]], list]:
    try:
        return _read_xlsx_rows(path, sheet)
    except _XLSX_DAMAGE as exc:
        what = type(exc).__name__
        if isinstance(exc, SyntaxError):
            what = f"malformed XML in a part: {str(exc.msg if exc.msg else exc).splitlines()[0]}"
        raise InventoryError(f"not a readable XLSX workbook ({what})", path=path.name,
                             hint="open it in Excel and save it as .xlsx again, or export "
                                  "CSV") from None


def _read_xlsx_rows(path: Path, sheet: str | None) -> tuple[list[list[str]], list]:
    from openpyxl import load_workbook

    name = path.name

    def open_book(data_only: bool):
        return load_workbook(path, read_only=True, data_only=data_only)

    book = open_book(False)
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise InventoryError(f"no sheet named {sheet!r}", path=name,
                                 hint="sheets: " + ", ".join(book.sheetnames))
        title = ws.title
        raw = [list(r) for r in ws.iter_rows(values_only=True)]
        merges = _merged_ranges(book, ws)
    finally:
        book.close()
    formulas = [(r, c) for r, row in enumerate(raw) for c, v in enumerate(row)
                if isinstance(v, str) and v.startswith("=")]
    if formulas:  # use cached values where the workbook holds them; else keep the text
        cached_book = open_book(True)
        try:
            cached = [list(r) for r in cached_book[title].iter_rows(values_only=True)]
        finally:
            cached_book.close()
        for r, c in formulas:
            value = cached[r][c] if r < len(cached) and c < len(cached[r]) else None
            if value is not None:
                raw[r][c] = value
    return [[_cell_text(v) for v in row] for row in raw], merges


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _merged_ranges(book, ws) -> list[tuple[int, int, int, int]]:
    """Merged cell ranges of a read-only sheet, 0-based inclusive (read from the sheet XML,
    which read-only openpyxl does not expose)."""
    from openpyxl.utils import column_index_from_string

    member = getattr(ws, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if not member or archive is None:
        return []
    found = []
    tail = b""
    with archive.open(member) as fh:
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            for m in _MERGE_REF.finditer(buf):
                c1, r1, c2, r2 = m.groups()
                c2, r2 = c2 or c1, r2 or r1
                found.append((int(r1) - 1, column_index_from_string(c1.decode()) - 1,
                              int(r2) - 1, column_index_from_string(c2.decode()) - 1))
            tail = buf[-64:]
    return sorted(set(found))


# -- headers ------------------------------------------------------------------------------

def _header_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(text).lower())


_ALIAS_INDEX = {_header_key(a): key for key, aliases in HEADER_ALIASES.items()
                for a in (*aliases, key)}


def _merged_top_values(rows, merges) -> dict[tuple[int, int], str]:
    """Top-left text of every merged range, keyed by each (row, col) it covers."""
    values = {}
    for r1, c1, r2, c2 in merges:
        text = _cell_text(rows[r1][c1]) if r1 < len(rows) and c1 < len(rows[r1]) else ""
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                values[(r, c)] = text
    return values


def _map_headers(cells: list[str], explicit: Mapping[str, str]
                 ) -> tuple[dict[str, list[int]], list[str]]:
    wanted = {_header_key(h): key for key, h in explicit.items()}
    mapping: dict[str, list[int]] = {}
    for c, text in enumerate(cells):
        hk = _header_key(text)
        if not hk:
            continue
        key = wanted.get(hk)
        if key is None and hk not in wanted:
            key = _ALIAS_INDEX.get(hk)
            if key in explicit:      # an explicit mapping replaces recognition for that key
                key = None
        if key:
            mapping.setdefault(key, []).append(c)
    return mapping, cells


def _find_header(rows, explicit: Mapping[str, str], source: str, merges: list
                 ) -> tuple[int, dict[str, list[int]], list[str]]:
    unknown = sorted(set(explicit) - set(CANONICAL_KEYS))
    if unknown:
        raise InventoryError(f"unknown key(s) in the column mapping: {', '.join(unknown)}",
                             path=source, hint="keys: " + ", ".join(CANONICAL_KEYS))
    tops = _merged_top_values(rows, merges)
    best = None
    for index, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
        width = max([len(row)] + [c + 1 for (r, c) in tops if r == index])
        cells = [tops.get((index, c)) or (_cell_text(row[c]) if c < len(row) else "")
                 for c in range(width)]
        if not any(cells):
            continue
        mapping, cells = _map_headers(cells, explicit)
        score = (sum(k in mapping for k in IDENTITY_KEYS), len(mapping))
        if best is None or score > best[0]:
            best = (score, index, mapping, cells)
    if best is None:
        raise InventoryError("the inventory has no rows", path=source,
                             hint="export the asset list with a header row")
    _score, index, mapping, cells = best
    missing = [f"{k} = {h!r}" for k, h in explicit.items() if k not in mapping]
    if missing:
        raise InventoryError(f"mapped column(s) not found: {', '.join(missing)}", path=source,
                             line=index + 1, hint="columns found: " + _listing(cells))
    if not any(k in mapping for k in IDENTITY_KEYS):
        raise InventoryError(
            "no identity column (IP, FQDN, host name or MAC)", path=source,
            hint=f"columns found: {_listing(cells)}; name one in [inventory.columns] with a "
                 f"key among {', '.join(IDENTITY_KEYS)} (all keys: {', '.join(CANONICAL_KEYS)})")
    return index, mapping, cells


def _listing(cells: Sequence[str]) -> str:
    shown = [repr(c) for c in cells if c]
    return ", ".join(shown[:40]) + (f" and {len(shown) - 40} more" if len(shown) > 40 else "") \
        if shown else "(none)"


# -- building the frames -----------------------------------------------------------------

def _column_texts(rows, header_at: int, mapping: dict[str, list[int]], headers: list[str]
                  ) -> pd.DataFrame:
    """One text column per canonical key (several source columns: multi-valued keys are
    joined with ``;``, others take the first non-empty); blank rows are dropped."""
    body = rows[header_at + 1:]
    used = sorted({c for cols in mapping.values() for c in cols})

    def column(values: Sequence[Any]) -> pd.Series:
        if not set(map(type, values)) <= {str}:
            values = [_cell_text(v) for v in values]
        return pd.Series(list(map(str.strip, values)), dtype=object)

    if body and used and min(map(len, body)) > used[-1]:     # (every row is wide enough)
        picked = zip(*map(itemgetter(*used, used[0]), body))   # (a tuple even for one)
        source = {c: column(values) for c, values in zip(used, picked)}
    else:
        source = {c: column([r[c] if c < len(r) else "" for r in body]) for c in used}
    out = pd.DataFrame(index=pd.RangeIndex(len(body)))
    out["source_row"] = np.arange(header_at + 2, header_at + 2 + len(body), dtype="int64")
    for key in CANONICAL_KEYS:
        cols = mapping.get(key, [])
        if not cols:
            out[key] = pd.Series("", index=out.index, dtype=object)
        elif key in MULTI_VALUED:
            joined = source[cols[0]]
            for c in cols[1:]:
                joined = joined.str.cat(source[c], sep=";")
            out[key] = pd.Series(list(map(str.strip, joined.tolist(), repeat(";"))),
                                 index=joined.index, dtype=object)
        else:
            value = source[cols[0]]
            for c in cols[1:]:
                value = value.where(value != "", source[c])
            out[key] = value
    if not len(body):
        return out
    filled = np.zeros(len(body), dtype=bool)
    for series in source.values():
        filled |= (series != "").to_numpy(dtype=bool)
    return out[filled].reset_index(drop=True)


def _tokens(series: pd.Series, pattern: str) -> pd.DataFrame:
    """(row position, token) for every non-empty token of every cell."""
    rx = re.compile(pattern)
    cells = series.tolist()
    at = series.index.to_numpy(dtype="int64")
    if not any(cells):                                # (a column the inventory does not have)
        at, cells = at[:0], []
    if not set(map(type, cells)) <= {str}:         # (a cell without text has no token)
        keep = [type(c) is str for c in cells]
        cells = [c for c, k in zip(cells, keep) if k]
        at = at[np.array(keep, dtype=bool)]
    # most cells hold one value: only those the pattern matches in are split
    tokens = np.array(list(map(str.strip, cells)), dtype=object)
    counts = (tokens != "").astype("int64")
    several = [i for i, m in enumerate(map(rx.search, cells)) if m] \
        if _any_match(rx, cells) else []
    parts = {}
    for i in several:
        parts[i] = [s for s in (t.strip() for t in rx.split(cells[i])) if s]
        counts[i] = len(parts[i])
    if not several:
        keep = counts.astype(bool)
        return pd.DataFrame({"pos": at[keep], "token": tokens[keep]})
    ends = np.cumsum(counts)
    out = np.empty(int(ends[-1]), dtype=object)
    single = counts.astype(bool)
    single[several] = False
    out[ends[single] - 1] = tokens[single]
    for i in several:
        out[ends[i] - counts[i]:ends[i]] = parts[i]
    return pd.DataFrame({"pos": np.repeat(at, counts), "token": out})


def _any_match(rx: re.Pattern, cells: list[str]) -> bool:
    """Whether ``rx`` (a class of separators, never NUL) matches in any of ``cells``: in ASCII
    text, a few byte searches of the whole column for the characters it matches."""
    text = "\0".join(cells)
    if not text.isascii():
        return rx.search(text) is not None
    chars = _ASCII_MATCHES.get(rx.pattern)
    if chars is None:
        chars = _ASCII_MATCHES[rx.pattern] = [c for c in map(chr, range(128)) if rx.match(c)]
    return any(c in text for c in chars)


_ASCII_MATCHES: dict[str, list[str]] = {}


def _vocabulary(series: pd.Series, words: Mapping[str, Any], what: str, rows: pd.Series,
                source: str, allowed: str) -> pd.Series:
    # (each distinct value once: a column holds a few words, a million times)
    codes, uniques = pd.factorize(series.astype(str), use_na_sentinel=False)
    norm = pd.Series(uniques).str.lower().str.replace(_WORD.pattern, " ", regex=True).str.strip()
    words_of = norm.map(words)
    mapped = words_of.take(codes).set_axis(series.index)
    bad = ((norm != "") & words_of.isna()).to_numpy(dtype=bool)[codes]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InventoryError(f"unknown {what} value {series.iloc[i]!r}", path=source,
                             line=int(rows.iloc[i]),
                             hint=f"use one of {allowed}")
    return mapped


def _classify_address(token: str) -> tuple[str, Any]:
    """('ip', text) | ('cidr', network) | ('bad', token) for one IP-cell token."""
    ip = normalize_ip(token)
    if ip:
        return "ip", ip
    if "/" in token:
        try:
            net = ipaddress.ip_network(token.strip(), strict=False)
        except ValueError:
            return "bad", token
        if net.prefixlen == net.max_prefixlen:
            return "ip", normalize_ip(str(net.network_address))
        return "cidr", net
    return "bad", token


def _net_parts(net) -> tuple[int, int, int, int]:
    value = int(net.network_address)
    return net.version, net.prefixlen, value >> 64, value & _UINT64


def _lists(pairs: pd.DataFrame, n: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(n)]
    for pos, value in zip(pairs["pos"].tolist(), pairs["value"].tolist()):
        if value not in out[pos]:
            out[pos].append(value)
    return out


def _first_tokens(series: pd.Series, pattern: str, normalize) -> pd.Series:
    """Per row, the first token of the cell that ``normalize`` accepts (None: none does)."""
    tokens = _tokens(series, pattern)
    values = pd.Series(normalize(tokens["token"]).to_numpy(), index=tokens["pos"].to_numpy())
    values = values[values.notna()]
    return values[~values.index.duplicated()].reindex(range(len(series)))


def _stable_ids(table: pd.DataFrame, ids: pd.Series, rows: pd.Series, has_column: bool,
                issues: list[DataQualityIssue]) -> pd.Series:
    """Asset ids where the inventory gives none: the row's FQDN, else host name, else first
    IP, else first MAC, the first of them no other row shares (so adding, removing or moving
    rows keeps every other asset's id, and the ticket keys made from it). Only a row whose
    every identity is shared is called ``row-N``, with a ``row_order_id`` issue."""
    missing = np.flatnonzero((ids == "").to_numpy())
    if not len(missing):
        return ids
    levels = [_first_tokens(table["fqdn"], _SPLIT_NAMES, normalize_hostnames),
              _first_tokens(table["name"], _SPLIT_NAMES, normalize_hostnames),
              _first_tokens(table["ip"], _SPLIT_ADDRESSES, _cell_ips),
              _first_tokens(table["mac"], _SPLIT_ADDRESSES, normalize_macs_column)]
    candidates = [list(dict.fromkeys(v for v in values if isinstance(v, str)))
                  for values in zip(*(level.tolist() for level in levels))]
    uses: dict[str, int] = {}
    for values in candidates:
        for v in values:
            uses[v] = uses.get(v, 0) + 1
    given = set(ids[ids != ""])
    out = ids.to_numpy(dtype=object).copy()
    for pos in missing:
        row = int(rows.iloc[pos])
        stable = next((v for v in candidates[pos] if uses[v] == 1 and v not in given), None)
        out[pos] = stable or f"row-{row}"
        if has_column:
            issues.append(DataQualityIssue("missing_asset_id", row, None,
                                           f"no asset id; called {out[pos]!r} in the output"))
        if stable is None and candidates[pos]:
            issues.append(DataQualityIssue(
                "row_order_id", row, out[pos],
                f"no asset id, and its {', '.join(candidates[pos])} also name(s) another row: "
                f"only its row number tells it apart, so its id (and ticket key) changes when "
                "rows above it are added or removed; give the inventory an asset id column "
                "(or map one: [inventory.columns] asset_id = \"HEADER\")"))
    return pd.Series(out, index=ids.index, dtype=object)


def _build(table: pd.DataFrame, header_at: int, mapping: dict[str, list[int]],
           headers: list[str], source: str, issues: list[DataQualityIssue]) -> Inventory:
    n = len(table)
    rows = table["source_row"]

    # asset ids: given, else made from the row's stable identity; duplicates given are fatal
    ids = table["asset_id"].astype(str).str.strip()
    ids = _stable_ids(table, ids, rows, "asset_id" in mapping, issues)
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        where = rows[ids == first].tolist()
        raise InventoryError(
            f"duplicate asset id {first!r} on rows {', '.join(map(str, where))}"
            + (f" ({int(dup.sum())} rows share an id in all)" if dup.sum() > len(where) else ""),
            path=source, hint="asset ids must be unique: fix or remove the repeated rows")

    criticality = _vocabulary(table["criticality"], CRITICALITY_SYNONYMS, "criticality", rows,
                              source, "critical, high, medium, low (or 1-4, Tier 1-4), "
                                      "or leave it blank")
    exposure = _vocabulary(table["internet_facing"], EXPOSURE_WORDS, "internet-facing", rows,
                           source, "yes/no, true/false, external/internal, or leave it blank")

    # addresses
    ip_tokens = _tokens(table["ip"], _SPLIT_ADDRESSES)
    name_tokens = _tokens(table["name"], _SPLIT_NAMES)
    fqdn_tokens = _tokens(table["fqdn"], _SPLIT_NAMES)
    mac_tokens = _tokens(table["mac"], _SPLIT_ADDRESSES)

    # host names that are really addresses count as IPs
    hostish = pd.concat([name_tokens, fqdn_tokens], ignore_index=True)
    hostish["ip"] = _cell_ips(hostish["token"]).to_numpy()
    as_ip = hostish[hostish["ip"].notna()]
    hostish = hostish[hostish["ip"].isna()].copy()
    hostish["key"] = normalize_hostnames(hostish["token"]).to_numpy()
    hostish = hostish[hostish["key"].notna()]
    dotted = hostish["key"].str.contains(".", regex=False).to_numpy(dtype=bool)
    fqdn_pairs = pd.DataFrame({"pos": hostish["pos"].to_numpy()[dotted],
                               "value": hostish["key"].to_numpy()[dotted]})
    short_pairs = pd.DataFrame({"pos": hostish["pos"].to_numpy(),
                                "value": short_names(hostish["key"]).to_numpy()})
    short_pairs = short_pairs[short_pairs["value"].notna() & (short_pairs["value"] != "")]

    ip_norm = _cell_ips(ip_tokens["token"])
    other = ip_tokens[ip_norm.isna().to_numpy()]
    classified = {t: _classify_address(t) for t in pd.unique(other["token"])}
    kinds = pd.Series("ip", index=ip_tokens.index, dtype=object)
    kinds[other.index] = [classified[t][0] for t in other["token"]]
    values = ip_norm.copy()
    values[other.index] = [classified[t][1] if classified[t][0] == "ip" else None
                           for t in other["token"]]
    ip_pairs = pd.concat([
        pd.DataFrame({"pos": ip_tokens.loc[kinds == "ip", "pos"],
                      "value": values[kinds == "ip"]}),
        pd.DataFrame({"pos": as_ip["pos"], "value": as_ip["ip"]}),
    ], ignore_index=True)
    cidr_src = ip_tokens[kinds == "cidr"]
    for pos, token in ip_tokens[kinds == "bad"][["pos", "token"]].itertuples(index=False):
        issues.append(DataQualityIssue("bad_ip", int(rows.iloc[pos]), ids.iloc[pos],
                                       f"{token!r} is neither an IP address nor a CIDR range; "
                                       "ignored"))

    mac_values = normalize_macs_column(mac_tokens["token"])
    for pos, token in mac_tokens[mac_values.isna()][["pos", "token"]].itertuples(index=False):
        issues.append(DataQualityIssue("bad_mac", int(rows.iloc[pos]), ids.iloc[pos],
                                       f"{token!r} is not a MAC address; ignored"))
    mac_pairs = pd.DataFrame({"pos": mac_tokens["pos"], "value": mac_values}).dropna()

    cidr_rows = []
    for pos, token in cidr_src[["pos", "token"]].itertuples(index=False):
        net = classified[token][1]
        cidr_rows.append((pos, str(net), *_net_parts(net)))
    cidr_frame = pd.DataFrame(cidr_rows, columns=["pos", "cidr", "version", "prefixlen",
                                                  "net_hi", "net_lo"])
    cidr_frame = cidr_frame.drop_duplicates(["pos", "cidr"])

    # the asset frame
    first_name = name_tokens.drop_duplicates("pos").set_index("pos")["token"]
    first_fqdn = fqdn_pairs.drop_duplicates("pos").set_index("pos")["value"]
    assets = pd.DataFrame({
        "asset_id": ids.astype("string"),
        "name": pd.Series(first_name.reindex(range(n)).to_numpy(), dtype="string"),
        "fqdn": pd.Series(first_fqdn.reindex(range(n)).to_numpy(), dtype="string"),
        "ips": _lists(ip_pairs, n),
        "macs": _lists(mac_pairs, n),
        "cidrs": _lists(cidr_frame.rename(columns={"cidr": "value"}), n),
    })
    for col in _TEXT_COLUMNS:
        text = table[col].astype(str).str.strip()
        assets[col] = text.where(text != "").astype("string")
    # no owner name: the e-mail address is the owner (matching, tickets, Jira's assignee)
    assets["owner"] = assets["owner"].fillna(assets["owner_email"])
    assets["criticality"] = criticality.astype("string")
    assets["internet_facing"] = exposure.astype("boolean")
    assets["source_row"] = rows.astype("int64")
    assets = assets[list(ASSET_COLUMNS)]

    no_identity = np.array([not (a or b or c) for a, b, c in
                            zip(assets["ips"], assets["macs"], assets["cidrs"])], dtype=bool)
    no_identity &= ~np.isin(np.arange(n), short_pairs["pos"].to_numpy())
    for pos in np.flatnonzero(no_identity):
        issues.append(DataQualityIssue("no_identity", int(rows.iloc[pos]), ids.iloc[pos],
                                       "no IP, name, FQDN or MAC: this asset cannot match "
                                       "any scanned host"))

    def lookup(pairs: pd.DataFrame) -> pd.DataFrame:
        frame = pd.DataFrame({"key": pairs["value"].astype("string"),
                              "asset_id": ids.iloc[pairs["pos"].to_numpy()].to_numpy()})
        frame["asset_id"] = frame["asset_id"].astype("string")
        return frame.drop_duplicates().reset_index(drop=True)

    lookups = {"ip": lookup(ip_pairs), "fqdn": lookup(fqdn_pairs),
               "short": lookup(short_pairs), "mac": lookup(mac_pairs)}
    cidr_lookup = cidr_frame.assign(asset_id=ids.iloc[cidr_frame["pos"].to_numpy()].to_numpy())
    cidr_lookup = cidr_lookup[["asset_id", "cidr", "version", "prefixlen", "net_hi", "net_lo"]]
    lookups["cidr"] = cidr_lookup.astype({"asset_id": "string", "cidr": "string",
                                          "version": "int64", "prefixlen": "int64",
                                          "net_hi": "uint64", "net_lo": "uint64"}
                                         ).reset_index(drop=True)

    row_of = dict(zip(assets["asset_id"].tolist(), assets["source_row"].tolist()))
    for kind, label in (("ip", "IP"), ("fqdn", "FQDN"), ("mac", "MAC")):
        issues.extend(_duplicates(lookups[kind], "key", kind, label, row_of))
    issues.extend(_duplicates(lookups["cidr"], "cidr", "cidr", "CIDR range", row_of))

    issues.sort(key=lambda i: (i.row or 0, ISSUE_KINDS.index(i.kind), i.detail))
    used = {key: headers[cols[0]] for key, cols in mapping.items()}
    return Inventory(assets=assets, lookups=lookups, issues=issues, source=source, columns=used)


def _duplicates(frame: pd.DataFrame, key: str, kind: str, label: str,
                row_of: Mapping[str, int]) -> list[DataQualityIssue]:
    counts = frame.groupby(key, sort=True, observed=True)["asset_id"].nunique()
    shared = counts[counts > 1].index
    if not len(shared):
        return []
    dup = frame[frame[key].isin(shared)].sort_values([key, "asset_id"])
    out = []
    for value, group in dup.groupby(key, sort=True, observed=True):
        owners = sorted(group["asset_id"].tolist(), key=lambda a: (row_of[a], a))
        listed = ", ".join(f"{a} (row {row_of[a]})" for a in owners)
        out.append(DataQualityIssue(
            f"duplicate_{kind}", row_of[owners[1]], owners[1],
            f"{label} {value} is listed on {len(owners)} assets: {listed}; hosts it identifies "
            "are reported as ambiguous"))
    return out
