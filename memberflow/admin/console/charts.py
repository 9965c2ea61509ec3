"""Server-rendered SVG charts, pure functions of their data: horizontal bars (a count per key)
and lines over days (one or more series).  Each chart scales to its container (``viewBox``),
names itself for screen readers (``role="img"`` with a ``<title>``), and escapes every label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6db5", "#d9822b", "#3a9a5b", "#b8434b", "#7a5bb5", "#5b8a99")
WIDTH = 520
ROW = 28
LABEL_W = 120
LINE_H = 220
PAD = 36
LEGEND_CHAR_W = 8.5  # a legend label's width per character (capitals), at the stylesheet's chart font size


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _svg(title: str, height: int, body: str, chart_id: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
            f'<title id="{chart_id}">{escape(title)}</title>{body}</svg>')


def _empty(title: str, chart_id: str) -> str:
    return _svg(title, 60, '<text x="10" y="35" class="empty">no data in this range</text>', chart_id)


def bars(items: Sequence[tuple[str, float]], title: str, chart_id: str) -> str:
    """One horizontal bar per (label, value), the longest value spanning the plot."""
    if not items:
        return _empty(title, chart_id)
    top = max(max(v for _, v in items), 0) or 1
    plot = WIDTH - LABEL_W - 70
    parts = []
    for i, (label, value) in enumerate(items):
        y = 8 + i * ROW
        width = max(value, 0) / top * plot
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{escape(str(label))}</text>'
                     f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{ROW - 8}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(str(label))}: {_num(value)}</title></rect>'
                     f'<text x="{LABEL_W + width + 6:.1f}" y="{y + 15}">{_num(value)}</text>')
    return _svg(title, 16 + len(items) * ROW, "".join(parts), chart_id)


def lines(days: Sequence[str], series: Sequence[Series], title: str, chart_id: str) -> str:
    """A line per series over ``days`` (the x axis), with the range's extremes on the y axis."""
    if not days or not series:
        return _empty(title, chart_id)
    values = [v for s in series for v in s.values]
    low, high = min(min(values), 0), max(max(values), 0)
    span = (high - low) or 1
    left, right, top, bottom = PAD + 30, WIDTH - 24, 10, LINE_H - PAD
    step = (right - left) / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return bottom - (v - low) / span * (bottom - top)

    parts = [f'<line class="axis" x1="{left}" y1="{y(0):.1f}" x2="{right}" y2="{y(0):.1f}"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_num(high)}</text>',
             f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end">{_num(low)}</text>']
    for i in sorted({0, len(days) // 2, len(days) - 1}):
        parts.append(f'<text x="{x(i):.1f}" y="{bottom + 18}" text-anchor="middle">{escape(days[i][5:])}</text>')
    lx = float(left)
    for n, s in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}">'
                     f'<title>{escape(s.name)}</title></polyline>')
        parts.append(f'<rect x="{lx}" y="{LINE_H - 12}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="{LINE_H - 3}">{escape(s.name)}</text>')
        lx += 14 + LEGEND_CHAR_W * len(s.name) + 14  # the next key after this one's label
    return _svg(title, LINE_H, "".join(parts), chart_id)
