"""ISO weeks as the weekly report uses them: a label, a start and a cut-off instant.

A week runs from Monday 00:00 UTC up to (not including) the next Monday 00:00 UTC. Its
*cut-off* is the last instant the report looks at: the end of the week, or an earlier
``--as-of`` moment inside it. Nothing after the cut-off (scans, decisions, acceptance
expiries) is part of that week's figures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import ClassVar

from vulnpipe.ingest.errors import BadValue, InputError

_LABEL = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")
TICK = timedelta(microseconds=1)


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week: ``start`` (Monday 00:00 UTC, inclusive) and ``cutoff`` (inclusive)."""

    start: datetime
    cutoff: datetime

    #: What the report calls the period ("this week"), and the report itself ("weekly report").
    unit: ClassVar[str] = "week"
    adjective: ClassVar[str] = "weekly"

    @property
    def label(self) -> str:
        year, number, _ = self.start.date().isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def short_label(self) -> str:
        """The label on a chart's axis: ``W48``."""
        return self.label[-3:]

    def same_kind(self, when: datetime) -> "Week":
        """The whole period of this kind (here an ISO week) holding ``when``."""
        return week_of(when)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive end of the calendar week)."""
        return self.start + timedelta(days=7)

    @property
    def last_day(self) -> date:
        return (self.end - TICK).date()

    @property
    def complete(self) -> bool:
        """True when the cut-off is the end of the week (no ``--as-of`` inside it)."""
        return self.cutoff == self.end - TICK

    def contains(self, when: datetime) -> bool:
        return self.start <= when <= self.cutoff

    def previous(self, n: int = 1) -> "Week":
        start = self.start - timedelta(days=7 * n)
        return Week(start, start + timedelta(days=7) - TICK)


def week_of(when: datetime) -> Week:
    """The whole ISO week holding ``when`` (an aware datetime; naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    day = when.astimezone(timezone.utc).date()
    start = datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(),
                             tzinfo=timezone.utc)
    return Week(start, start + timedelta(days=7) - TICK)


def parse_week(text: str) -> Week:
    """``2026-W48`` (or ``2026W48``) as a :class:`Week`; a clear error otherwise."""
    m = _LABEL.match(text or "")
    if not m:
        raise BadValue(f"--week {text!r} is not an ISO week", hint="write it like 2026-W48")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise BadValue(f"--week {text!r} does not exist",
                         hint="ISO years have 52 or 53 weeks; write it like 2026-W48") from None
    return week_of(datetime.combine(monday, datetime.min.time(), tzinfo=timezone.utc))


def cut_week(when: datetime) -> Week:
    """The ISO week holding ``when``, cut off at ``when`` (a report "as of" a moment)."""
    week = week_of(when)
    return Week(week.start, min(week.cutoff, when.astimezone(timezone.utc)))


def window(week: Week, count: int) -> list[Week]:
    """``count`` weeks ending with ``week`` (which keeps its cut-off), oldest first."""
    if count < 1:
        raise InputError(f"--weeks {count} must be at least 1", hint="e.g. --weeks 12")
    return [week.previous(n) for n in range(count - 1, 0, -1)] + [week]
