"""The time window an evidence pack covers: ``--from/--to``, ``--quarter``, or everything."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from vulnpipe.ingest.errors import BadValue, InputError


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC; either bound may be open (None). ``label`` is what the
    user asked for (``2026-Q4``, ``2026-10-01..2026-12-31``, or ``whole history``)."""

    start: datetime | None = None
    end: datetime | None = None
    label: str = "whole history"

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def contains(self, when: datetime | None) -> bool:
        """Whether ``when`` (aware UTC) falls inside the period (None only in an open one)."""
        if when is None:
            return not self.bounded
        if self.start is not None and when < self.start:
            return False
        return not (self.end is not None and when >= self.end)


_QUARTER = re.compile(r"^\s*(\d{4})-?[Qq]([1-4])\s*$")


def quarter(text: str) -> Period:
    """``2026-Q4`` as the period 2026-10-01 (inclusive) to 2027-01-01 (exclusive)."""
    m = _QUARTER.match(text)
    if not m:
        raise BadValue(f"--quarter {text!r} is not a quarter",
                       hint="write it as YYYY-Q1..Q4, e.g. 2026-Q4")
    year, q = int(m.group(1)), int(m.group(2))
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc) if q == 4 else \
        datetime(year, 3 * q + 1, 1, tzinfo=timezone.utc)
    return Period(start, end, f"{year}-Q{q}")


def between(start: datetime | None, end: datetime | None, label: str) -> Period:
    """A period from ``--from``/``--to`` (already parsed; ``end`` exclusive)."""
    if start is not None and end is not None and end <= start:
        raise InputError(f"the period {label} is empty", hint="--to must be on or after --from")
    return Period(start, end, label)
