"""Formula safety for every cell vulnpipe writes to Excel or CSV, done once, here.

Spreadsheet programs run text that starts with ``=``, ``+``, ``-`` or ``@`` (and, after
trimming, a tab or carriage return) as a formula. Scanner output and inventories are
attacker-influenced, so such text is always written as text:

* CSV: prefixed with a single quote ``'`` (the visible text is otherwise unchanged);
* Excel: written as a string cell (never a formula); see :func:`excel_value`.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_CELL = 32767
TRUNCATION_MARKER = "\n[… truncated: full text in the JSONL export]"


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def csv_text(value: Any) -> str:
    """The CSV cell text for ``value``: lists joined with ``;``, dangerous text quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and is_formula_like(text):
        return "'" + text
    return text


def excel_text(text: str) -> str:
    """Text that fits an Excel cell: truncated with a marker past 32,767 characters.

    Characters XML 1.0 cannot hold (control characters) are replaced, so the workbook
    always opens.
    """
    text = _ILLEGAL.sub("\ufffd", text)
    if len(text) > EXCEL_MAX_CELL:
        text = text[: EXCEL_MAX_CELL - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def excel_value(value: Any) -> Any:
    """A value for an openpyxl cell. Strings stay strings; callers set ``data_type='s'``
    (see :func:`reports.xlsx.cell`) so nothing is ever stored as a formula."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)   # Excel has no time zones: values are UTC
    if isinstance(value, str):
        return excel_text(value)
    return value


import re as _re  # noqa: E402  (kept next to its only use)

_ILLEGAL = _re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
