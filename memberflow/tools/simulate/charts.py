"""Small SVG charts rendered on the server: lines over time, and grouped bars."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 20, 40
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _scale(low: float, high: float) -> tuple[float, float]:
    if low == high:
        return low - 1, high + 1
    return low, high


def _frame(chart_id: str, title: str, low: float, high: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" width="{WIDTH}" '
             f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#444"/>']
    for i in range(5):
        value = low + (high - low) * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:,.0f}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
    return parts


def _legend(names: list[str]) -> list[str]:
    return [f'<text x="{WIDTH - RIGHT + 10}" y="{TOP + 14 * i + 10}" font-size="11" fill="{COLOURS[i % 8]}">'
            f"{escape(name)}</text>" for i, name in enumerate(names)]


def line_chart(chart_id: str, title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """One line per series over ``labels`` (the x axis, in order)."""
    values = [v for points in series.values() for v in points] or [0.0]
    low, high = _scale(min(min(values), 0), max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(chart_id, title, low, high)
    step = plot_w / max(len(labels) - 1, 1)
    for i, label in enumerate(labels):
        if i == 0 or i == len(labels) - 1 or i % max(len(labels) // 6, 1) == 0:
            parts.append(f'<text x="{LEFT + step * i:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                         f'font-size="10">{escape(label[:10])}</text>')
    for n, (name, points) in enumerate(series.items()):
        coords = " ".join(f"{LEFT + step * i:.1f},{HEIGHT - BOTTOM - plot_h * (v - low) / (high - low):.1f}"
                          for i, v in enumerate(points))
        parts.append(f'<polyline class="series" data-name="{escape(name)}" fill="none" stroke="{COLOURS[n % 8]}" '
                     f'stroke-width="2" points="{coords}"/>')
    parts += _legend(list(series))
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(chart_id: str, title: str, categories: list[str], series: dict[str, list[float]]) -> str:
    """Grouped bars: one group per category, one bar per series."""
    values = [v for bars in series.values() for v in bars] or [0.0]
    low, high = _scale(min(min(values), 0), max(max(values), 0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(chart_id, title, low, high)
    group = plot_w / max(len(categories), 1)
    bar = group * 0.8 / max(len(series), 1)
    zero = HEIGHT - BOTTOM - plot_h * (0 - low) / (high - low)
    for c, category in enumerate(categories):
        parts.append(f'<text x="{LEFT + group * (c + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                     f'font-size="10">{escape(category[:18])}</text>')
        for n, (name, bars) in enumerate(series.items()):
            y = HEIGHT - BOTTOM - plot_h * (bars[c] - low) / (high - low)
            top, height = min(y, zero), abs(zero - y)
            parts.append(f'<rect class="bar" data-name="{escape(name)}" x="{LEFT + group * (c + 0.1) + bar * n:.1f}" '
                         f'y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{COLOURS[n % 8]}">'
                         f"<title>{escape(name)} {escape(category)}: {bars[c]:,}</title></rect>")
    parts += _legend(list(series))
    parts.append("</svg>")
    return "\n".join(parts)
