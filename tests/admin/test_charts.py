"""The console's SVG charts: scaled to their data, labels escaped, named for screen readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from memberflow.admin.console.charts import LABEL_W, LINE_H, PAD, WIDTH, Series, bars, lines

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed XML, or this raises


def test_the_longest_bar_spans_the_plot_and_the_others_are_in_proportion():
    svg = parsed(bars([("GOLD", 10), ("SILVER", 40), ("NORMAL", 20)], "Members per tier", "c1"))
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    plot = WIDTH - LABEL_W - 70
    assert widths == [plot / 4, plot, plot / 2]
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c1"
    assert svg.find(f"{SVG}title").text == "Members per tier"
    assert [t.text for t in svg.iter(f"{SVG}text")][:2] == ["GOLD", "10"]


def test_labels_are_escaped():
    markup = bars([("<script>alert(1)</script>", 1)], 'a "title" & more', "c2")
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert parsed(markup).find(f"{SVG}title").text == 'a "title" & more'
    markup = lines(["2025-03-01"], [Series("<b>", [1])], "t", "c3")
    assert "<b>" not in markup and parsed(markup) is not None


def test_a_line_has_a_point_per_day_from_the_bottom_to_the_top():
    days = [f"2025-03-{d:02d}" for d in range(1, 11)]
    svg = parsed(lines(days, [Series("earned", [0, 5, 10, 0, 0, 0, 0, 0, 0, 2]), Series("spent", [1] * 10)],
                       "Points by day", "c4"))
    polylines = list(svg.iter(f"{SVG}polyline"))
    assert len(polylines) == 2
    points = [tuple(map(float, p.split(","))) for p in polylines[0].get("points").split()]
    assert len(points) == 10 and points[0][0] < points[-1][0]
    ys = [y for _, y in points]
    assert min(ys) == 10 and max(ys) == LINE_H - PAD  # the top value at the top, zero at the bottom
    assert {t.text for t in svg.iter(f"{SVG}text")} >= {"03-01", "03-10", "10", "0", "earned", "spent"}


def test_negative_values_go_below_the_zero_line():
    svg = parsed(lines(["2025-03-01", "2025-03-02"], [Series("net", [-5, 5])], "net", "c5"))
    (axis,) = [e for e in svg.iter(f"{SVG}line")]
    zero = float(axis.get("y1"))
    ys = [float(p.split(",")[1]) for p in next(svg.iter(f"{SVG}polyline")).get("points").split()]
    assert ys[0] > zero > ys[1]


def test_no_data_says_so():
    for markup in (bars([], "t", "c6"), lines([], [Series("a", [])], "t", "c7"), lines(["2025-03-01"], [], "t", "c8")):
        assert re.search(r">no data in this range<", markup) and parsed(markup).get("role") == "img"


def test_legend_keys_leave_room_for_the_label_before_them():
    names = ["BLACK_GOLD", "DIAMOND", "GOLD", "NORMAL", "SILVER"]
    svg = parsed(lines(["2025-03-01", "2025-03-02"], [Series(n, [1, 2]) for n in names], "tiers", "c9"))
    keys = [float(r.get("x")) for r in svg.iter(f"{SVG}rect")]
    assert len(keys) == len(names) and keys[-1] < WIDTH
    for (x, name), following in zip(zip(keys, names, strict=True), keys[1:], strict=False):
        assert following - x >= 14 + 7 * len(name)
