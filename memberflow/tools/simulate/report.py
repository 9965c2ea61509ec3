"""The simulation's report: the figures of both runs and their difference, as JSON and as HTML with SVG charts."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from memberflow.tools.simulate.charts import bar_chart, line_chart
from memberflow.tools.simulate.figures import Figures

TOP = 20  # members listed by difference
LISTED = 100  # members listed whose tier would differ


def compare(base: Figures, candidate: Figures, base_rules: str, candidate_rules: str) -> dict[str, Any]:
    """Both runs' figures, and what the candidate changes."""
    b, c = base.summary(), candidate.summary()
    members = sorted(set(base.member_tier) | set(candidate.member_tier))
    differ = [(m, base.member_tier.get(m), candidate.member_tier.get(m)) for m in members
              if base.member_tier.get(m) != candidate.member_tier.get(m)]
    earned = set(base.member_points) | set(candidate.member_points)
    by_difference = sorted(((candidate.member_points[m] - base.member_points[m], m) for m in earned),
                           key=lambda pair: (-abs(pair[0]), pair[1]))
    rules = sorted(set(b["points_by_rule"]) | set(c["points_by_rule"]))
    return {
        "base": {"rules": base_rules, **b},
        "candidate": {"rules": candidate_rules, **c},
        "difference": {
            "points_issued": c["points_issued"] - b["points_issued"],
            "points_by_rule": {r: c["points_by_rule"].get(r, 0) - b["points_by_rule"].get(r, 0) for r in rules},
            "liability": c["liability"] - b["liability"],
            "upgrades": c["upgrades"] - b["upgrades"],
            "downgrades": c["downgrades"] - b["downgrades"],
            "grants_face_value": str(Decimal(c["grants_face_value"]) - Decimal(b["grants_face_value"])),
        },
        "members_with_different_tier": {
            "count": len(differ),
            "transitions": dict(sorted(Counter(f"{x} -> {y}" for _, x, y in differ).items())),
            "members": [{"member": m, "base": x, "candidate": y} for m, x, y in differ[:LISTED]],
        },
        "top_members_by_difference": [
            {"member": m, "base_points": base.member_points[m], "candidate_points": candidate.member_points[m],
             "difference": d} for d, m in by_difference[:TOP] if d != 0],
    }


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    figures, page = out / "report.json", out / "report.html"
    figures.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    page.write_text(html(report), encoding="utf-8")
    return figures, page


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _over_days(runs: dict[str, dict[str, float]]) -> tuple[list[str], dict[str, list[float]]]:
    """Series by day, each carried forward over the days it lacks."""
    days = sorted({d for series in runs.values() for d in series})
    out: dict[str, list[float]] = {}
    for name, series in runs.items():
        last, points = 0.0, []
        for day in days:
            last = series.get(day, last)
            points.append(last)
        out[name] = points
    return days, out


def _charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    base, cand = report["base"], report["candidate"]
    rules = sorted(set(base["points_by_rule"]) | set(cand["points_by_rule"]))
    days, liability = _over_days({"base": base["liability_by_day"], "candidate": cand["liability_by_day"]})
    moments = sorted(set(base["members_by_tier_over_time"]) | set(cand["members_by_tier_over_time"]))
    tiers = sorted({t for run in (base, cand) for c in run["members_by_tier_over_time"].values() for t in c})
    per_tier = {f"{name} {tier}": [float(run["members_by_tier_over_time"].get(m, {}).get(tier, 0)) for m in moments]
                for name, run in (("base", base), ("candidate", cand)) for tier in tiers}
    change_days = sorted(set(base["tier_changes_by_day"]) | set(cand["tier_changes_by_day"]))
    changes = {f"{name} {d}": [float(run["tier_changes_by_day"].get(day, {}).get(d, 0)) for day in change_days]
               for name, run in (("base", base), ("candidate", cand)) for d in ("up", "down")}
    benefits = sorted(set(base["grants"]) | set(cand["grants"]))
    grant_value = {name: [float(run["grants"].get(b, {}).get("face_value", 0)) for b in benefits]
                   for name, run in (("base", base), ("candidate", cand))}
    differ = report["members_with_different_tier"]["transitions"]
    top = report["top_members_by_difference"]
    return [
        ("Points issued by rule", bar_chart("points-by-rule", "Points issued by rule", rules, {
            "base": [float(base["points_by_rule"].get(r, 0)) for r in rules],
            "candidate": [float(cand["points_by_rule"].get(r, 0)) for r in rules]})),
        ("Liability over time (points held)", line_chart("liability", "Points held", days, liability)),
        ("Members per tier over time", line_chart("members-per-tier", "Members per tier", moments, per_tier)),
        ("Upgrades and downgrades by day", line_chart("tier-changes", "Tier changes by day", change_days, changes)),
        ("Grants: face value by benefit", bar_chart("grants", "Face value by benefit", benefits, grant_value)),
        ("Members whose tier would differ", bar_chart("tier-differs", "Members by base -> candidate tier",
                                                      list(differ), {"members": [float(v) for v in differ.values()]})),
        ("Top members by difference in points issued", bar_chart(
            "top-members", "Candidate minus base points", [t["member"] for t in top],
            {"difference": [float(t["difference"]) for t in top]})),
    ]


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f4f4f4}")


def html(report: dict[str, Any]) -> str:
    """The report as a well-formed (XHTML-serialised) HTML page; charts are inline SVG."""
    base, cand, diff = report["base"], report["candidate"], report["difference"]
    summary = _table(["", "base", "candidate", "difference"], [
        ["rules", base["rules"], cand["rules"], ""],
        ["events", base["events"], cand["events"], ""],
        ["members", base["members"], cand["members"], ""],
        ["points issued", base["points_issued"], cand["points_issued"], diff["points_issued"]],
        ["points held at the end", base["liability"], cand["liability"], diff["liability"]],
        ["upgrades", base["upgrades"], cand["upgrades"], diff["upgrades"]],
        ["downgrades", base["downgrades"], cand["downgrades"], diff["downgrades"]],
        ["grants' face value", base["grants_face_value"], cand["grants_face_value"], diff["grants_face_value"]],
        ["members whose tier would differ", "", "", report["members_with_different_tier"]["count"]],
    ])
    benefits = sorted(set(base["grants"]) | set(cand["grants"]))
    grants = _table(["benefit", "base count", "base face value", "candidate count", "candidate face value"], [
        [b, base["grants"].get(b, {}).get("count", 0), base["grants"].get(b, {}).get("face_value", "0"),
         cand["grants"].get(b, {}).get("count", 0), cand["grants"].get(b, {}).get("face_value", "0")]
        for b in benefits])
    differ = _table(["member", "base tier", "candidate tier"], [
        [m["member"], m["base"], m["candidate"]] for m in report["members_with_different_tier"]["members"]])
    top = _table(["member", "base points", "candidate points", "difference"], [
        [t["member"], t["base_points"], t["candidate_points"], t["difference"]]
        for t in report["top_members_by_difference"]])
    sections = "\n".join(f"<h2>{escape(title)}</h2>\n{svg}" for title, svg in _charts(report))
    return (
        "<!DOCTYPE html>\n"
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">\n<head><meta charset="utf-8"/>'
        f"<title>memberflow what-if simulation</title><style>{STYLE}</style></head>\n<body>\n"
        "<h1>What-if simulation</h1>\n"
        f"{summary}\n{sections}\n<h2>Grants</h2>\n{grants}\n<h2>Members whose tier would differ (first "
        f"{len(report['members_with_different_tier']['members'])})</h2>\n{differ}\n"
        f"<h2>Top members by difference</h2>\n{top}\n</body>\n</html>\n"
    )
