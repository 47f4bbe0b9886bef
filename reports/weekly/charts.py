"""Chart geometry for the report's inline SVG: numbers and labels, no markup.

The template ``weekly_charts.j2`` turns these shapes into ``<svg>`` elements with Jinja's
autoescaping on, so no text here is ever trusted as markup. Coordinates are rounded to one
decimal so the output is byte-for-byte stable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from vulnpipe.reports.weekly.report import TrendPoint

SERIES = (("open_tickets", "Open tickets", "open"), ("new", "New", "new"),
          ("fixed_verified", "Fixed (verified)", "fixed"))
#: The series colours (RGB), the same as the page's CSS (--open, --new, --fixed).
OPEN_COLOUR, NEW_COLOUR, FIXED_COLOUR = "1F3864", "D9822B", "2E7D32"


@dataclass(frozen=True)
class Rect:
    x: str
    y: str
    w: str
    h: str
    cls: str
    tip: str = ""


@dataclass(frozen=True)
class Text:
    x: str
    y: str
    text: str
    cls: str = ""
    anchor: str = "middle"


@dataclass(frozen=True)
class Line:
    x1: str
    y1: str
    x2: str
    y2: str
    cls: str


@dataclass(frozen=True)
class Path:
    points: str          # "x,y x,y ..." for a <polyline>
    cls: str


@dataclass(frozen=True)
class Dot:
    x: str
    y: str
    cls: str
    tip: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label: str                     # accessible description of the whole chart
    rects: tuple[Rect, ...] = ()
    lines: tuple[Line, ...] = ()
    paths: tuple[Path, ...] = ()
    dots: tuple[Dot, ...] = ()
    texts: tuple[Text, ...] = ()
    legend: tuple[tuple[str, str], ...] = field(default=())   # (css class, label)


def _f(v: float) -> str:
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_max(value: float) -> int:
    """A round axis maximum at or above ``value`` (at least 4, so ticks stay whole)."""
    if value <= 4:
        return 4
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * power
        if top >= value and top % 4 == 0:
            return int(top)
    return int(math.ceil(value / 4) * 4)


def trend_chart(points: Sequence[TrendPoint], width: int = 700, height: int = 280) -> Chart:
    """Bars for new and fixed, a line for open tickets; weeks without scans are gaps."""
    left, right, top, bottom = 44, 12, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [getattr(p.figures, k) for p in points if p.figures for k, _l, _c in SERIES]
    ymax = nice_max(max(values, default=0))
    n = max(len(points), 1)
    slot = plot_w / n

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / ymax

    rects, lines, texts, dots = [], [], [], []
    for i in range(5):
        v = ymax * i / 4
        lines.append(Line(_f(left), _f(y(v)), _f(width - right), _f(y(v)), "grid"))
        texts.append(Text(_f(left - 6), _f(y(v) + 4), _f(v), "axis", "end"))
    segments: list[list[str]] = []
    previous_gap = True
    bar_w = min(18.0, slot * 0.28)
    unit = points[-1].week.unit if points else "week"
    for i, p in enumerate(points):
        cx = left + slot * (i + 0.5)
        texts.append(Text(_f(cx), _f(height - bottom + 16), p.week.short_label, "axis"))
        if p.figures is None:
            rects.append(Rect(_f(cx - slot * 0.4), _f(top), _f(slot * 0.8), _f(plot_h), "gap",
                              f"{p.week.label}: no scan this {unit}"))
            texts.append(Text(_f(cx), _f(height - bottom + 30), "no scan", "gaplabel"))
            previous_gap = True
            continue
        f = p.figures
        for offset, key, cls, name in ((-bar_w, "new", "new", "new"),
                                       (0.0, "fixed_verified", "fixed", "fixed (verified)")):
            v = getattr(f, key)
            rects.append(Rect(_f(cx + offset), _f(y(v)), _f(bar_w), _f(y(0) - y(v)), cls,
                              f"{p.week.label}: {v} {name}"))
        if previous_gap:
            segments.append([])
        segments[-1].append(f"{_f(cx)},{_f(y(f.open_tickets))}")
        dots.append(Dot(_f(cx), _f(y(f.open_tickets)), "open",
                        f"{p.week.label}: {f.open_tickets} open"))
        texts.append(Text(_f(cx), _f(y(f.open_tickets) - 8), str(f.open_tickets), "value"))
        previous_gap = False
    lines.append(Line(_f(left), _f(y(0)), _f(width - right), _f(y(0)), "axisline"))
    paths = tuple(Path(" ".join(s), "open") for s in segments if len(s) > 1)
    described = "; ".join(
        f"{p.week.label}: " + ("no scan" if p.figures is None else
                               f"{p.figures.open_tickets} open, {p.figures.new} new, "
                               f"{p.figures.fixed_verified} fixed")
        for p in points)
    legend: tuple[tuple[str, str], ...] = (("open", f"Open tickets (end of {unit})"), ("new", "New"),
                                           ("fixed", "Fixed (verified)"))
    if any(p.figures is None for p in points):
        legend += (("gap", f"No scan that {unit}"),)
    return Chart(width, height, f"Trend per {unit}. " + described, tuple(rects), tuple(lines),
                 paths, tuple(dots), tuple(texts), legend)


def aging_chart(buckets: Sequence[tuple[str, int]], width: int = 420, row: int = 30) -> Chart:
    """One horizontal bar per age bucket of the open tickets."""
    label_w, right, top = 110, 40, 8
    height = top * 2 + row * len(buckets)
    most = max((c for _l, c in buckets), default=0) or 1
    span = width - label_w - right
    rects, texts = [], []
    for i, (label, count) in enumerate(buckets):
        y = top + i * row
        w = span * count / most
        rects.append(Rect(_f(label_w), _f(y + 5), _f(max(w, 0.0)), _f(row - 10), "age",
                          f"{label}: {count} open"))
        texts.append(Text(_f(label_w - 8), _f(y + row / 2 + 4), label, "axis", "end"))
        texts.append(Text(_f(label_w + w + 6), _f(y + row / 2 + 4), str(count), "value", "start"))
    described = "; ".join(f"{label}: {count}" for label, count in buckets)
    return Chart(width, height, "Open tickets by age. " + described, tuple(rects), texts=tuple(texts))
