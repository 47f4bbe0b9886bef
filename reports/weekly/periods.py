"""Calendar months and quarters as ``report monthly`` uses them: the same shape as an ISO
:class:`~vulnpipe.reports.weekly.weeks.Week` (a start, an inclusive cut-off, a label), so the
weekly report's history, figures and writers read them unchanged.

A month runs from its first day 00:00 UTC up to (not including) the next month's first day;
a quarter is three months from January, April, July or October. The cut-off is the end of
the period, or an earlier ``--as-of`` moment inside it.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import ClassVar, Self

from vulnpipe.ingest.errors import BadValue
from vulnpipe.reports.weekly.weeks import TICK, Week

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_QUARTER = re.compile(r"^\s*(\d{4})-?[Qq](\d)\s*$")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _first_day(year: int, month: int) -> datetime:
    """Midnight UTC on the first day of ``month`` (any integer: 13 is next January)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=timezone.utc)


class Period(Week):
    """A span of ``months`` calendar months starting on a month that is a multiple of it."""

    months: ClassVar[int] = 1

    @property
    def end(self) -> datetime:
        return _first_day(self.start.year, self.start.month + self.months)

    def previous(self, n: int = 1) -> Self:
        start = _first_day(self.start.year, self.start.month - n * self.months)
        return type(self).starting(start)

    @classmethod
    def starting(cls, start: datetime) -> Self:
        whole = cls(start, start)
        return cls(start, whole.end - TICK)

    def same_kind(self, when: datetime) -> "Period":
        return period_of(when, self.unit)


class Month(Period):
    unit = "month"
    adjective = "monthly"
    months = 1

    @property
    def label(self) -> str:
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def short_label(self) -> str:
        return _MONTH_NAMES[self.start.month - 1]


class Quarter(Period):
    unit = "quarter"
    adjective = "quarterly"
    months = 3

    @property
    def label(self) -> str:
        return f"{self.start.year}-{self.short_label}"

    @property
    def short_label(self) -> str:
        return f"Q{(self.start.month - 1) // 3 + 1}"


KINDS: dict[str, type[Period]] = {"month": Month, "quarter": Quarter}


def period_of(when: datetime, unit: str) -> Period:
    """The whole month or quarter (``unit``) holding ``when`` (naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    kind = KINDS[unit]
    month = when.month - (when.month - 1) % kind.months
    return kind.starting(_first_day(when.year, month))


def cut_period(period: Week, when: datetime) -> Week:
    """``period`` cut off at ``when``, which must fall inside it."""
    if not period.start <= when <= period.cutoff:
        raise BadValue(f"--as-of {when.date().isoformat()} is not in {period.label}",
                       hint=f"give a date from {period.start.date()} to {period.last_day}")
    return type(period)(period.start, when.astimezone(timezone.utc))


def parse_month(text: str) -> Month:
    """``2026-11`` as a :class:`Month`; a clear error otherwise."""
    m = _MONTH.match(text or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise BadValue(f"--month {text!r} is not a month", hint="write it like 2026-11")
    return Month.starting(_first_day(int(m.group(1)), int(m.group(2))))


def parse_quarter(text: str) -> Quarter:
    """``2026-Q4`` as a :class:`Quarter`; a clear error otherwise."""
    m = _QUARTER.match(text or "")
    if not m or not 1 <= int(m.group(2)) <= 4:
        raise BadValue(f"--quarter {text!r} is not a quarter", hint="Q1 to Q4, written like 2026-Q4")
    return Quarter.starting(_first_day(int(m.group(1)), 3 * int(m.group(2)) - 2))
