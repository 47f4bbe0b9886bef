"""Writing joined findings (``vulnpipe join``): sorted, plain values, through the record writers."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

from vulnpipe.ingest.assets.matching import JOIN_COLUMNS
from vulnpipe.ingest.records import FINDING_FIELDS
from vulnpipe.reports.writers.findings import make_writer

#: Output fields of ``vulnpipe join``: the finding fields, then the asset and priority columns.
JOINED_FIELDS: tuple[str, ...] = FINDING_FIELDS + JOIN_COLUMNS

#: Row order: most urgent first, then by owner and host, so one owner's work sits together.
SORT_KEYS: tuple[str, ...] = ("priority", "due_date", "owner", "host", "plugin_id", "port",
                              "protocol", "scan_file", "report_name")


def sort_joined(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in :data:`SORT_KEYS` order (missing values last, stable for ties)."""
    keys = [k for k in SORT_KEYS if k in frame.columns]
    return frame.sort_values(keys, kind="mergesort", na_position="last") if keys else frame


def _plain(series: pd.Series, name: str) -> list[Any]:
    """A column as JSON-able Python values: None for missing, ISO text for times."""
    if name == "due_date":
        dates = pd.to_datetime(series)
        return [None if pd.isna(v) else v for v in dates.dt.strftime("%Y-%m-%d").astype(object)]
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.to_datetime(series, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return [None if pd.isna(v) else v for v in stamps.astype(object)]
    values = series.astype(object).tolist()
    out: list[Any] = []
    for v in values:
        if v is None or (not isinstance(v, (list, tuple)) and pd.isna(v)):
            out.append(None)
        elif hasattr(v, "item") and not isinstance(v, (list, tuple, str)):
            out.append(v.item())     # numpy scalar -> Python
        else:
            out.append(list(v) if isinstance(v, tuple) else v)
    return out


def joined_records(frame: pd.DataFrame, fields: Sequence[str] = JOINED_FIELDS
                   ) -> Iterator[dict[str, Any]]:
    """One plain dict per row with ``fields`` (a missing column gives None)."""
    columns = {f: (_plain(frame[f], f) if f in frame.columns else [None] * len(frame))
               for f in fields}
    for i in range(len(frame)):
        yield {f: columns[f][i] for f in fields}


def write_joined(frame: pd.DataFrame, fmt: str, out: str | Path,
                 fields: Sequence[str] = JOINED_FIELDS) -> int:
    """Write ``frame`` sorted with :func:`sort_joined` as jsonl/csv/xlsx; the record count."""
    writer = make_writer(fmt, out, fields)
    ok = False
    try:
        writer.begin_file()
        for record in joined_records(sort_joined(frame), fields):
            writer.add(record)
        writer.commit_file()
        ok = True
    finally:
        writer.close(ok=ok)
    return writer.count
