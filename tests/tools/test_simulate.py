"""The what-if simulation (memberflow.tools.simulate): the candidate's difference to the
hand-computed point, figures that are sums over the simulated outputs, a well-formed
report with its charts, the same figures in several processes, and invalid rules refused."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from memberflow import cli
from memberflow.cli import main
from memberflow.tools.simulate.progress import WIDTH, Progress
from memberflow.tools.simulate.report import compare, html
from memberflow.tools.simulate.run import Job, run_shard, shards_for, simulate
from models.outputs import BenefitGrant, LedgerEntry, LedgerKind, TierChange
from tests.engine.intake_fixtures import order
from tests.tools.simulate_fixtures import (
    DOUBLED_DIAMOND,
    GOLD_AT_450,
    SHIPPED,
    demo_lines,
    doubled_diamond,
    rules_file,
    write_lines,
)


@pytest.fixture(autouse=True)
def _gc_as_it_is(monkeypatch):
    """``memberflow simulate`` tunes the collector for its process; not the test run's."""
    monkeypatch.setattr(cli, "tune_gc", lambda threshold: None)


CHARTS = ["points-by-rule", "liability", "members-per-tier", "tier-changes", "grants", "tier-differs", "top-members"]


def _order(n: int, day: str, amount: str) -> dict:
    value = order(event_id=f"e{n}", order_id=f"o{n}", amount=amount, occurred_at=f"2026-03-{day}T10:00:00+08:00",
                  items=[{"sku": "s1", "category": "general", "unit_price": amount, "quantity": 1}])
    return {"topic": "orders", "key": "m1", "value": value}


def test_doubling_diamonds_multiplier_issues_the_hand_computed_extra_points(tmp_path):
    # 1000.00 lifts m1 to DIAMOND (its points are earned as NORMAL); then, as DIAMOND, the tier
    # multiplier's line is floor(amount * (factor - 1)): 1.5 gives 100 and 16, 3 gives 400 and 66.
    events = write_lines(tmp_path / "h.jsonl", [_order(1, "02", "1000.00"), _order(2, "03", "200.00"),
                                                _order(3, "04", "33.33")])
    base, candidate = simulate(SHIPPED, doubled_diamond(tmp_path / "c.yaml"), events)
    report = compare(base, candidate, "base", "candidate")
    extra = (400 - 100) + (66 - 16)
    assert report["base"]["points_by_rule"]["tier_multiplier"] == 100 + 16
    assert report["candidate"]["points_by_rule"]["tier_multiplier"] == 400 + 66
    assert report["difference"]["points_issued"] == extra == 350
    assert {r: d for r, d in report["difference"]["points_by_rule"].items() if d} == {"tier_multiplier": 350}
    assert report["difference"]["liability"] == 350
    assert report["top_members_by_difference"] == [
        {"member": "default/m1", "base_points": report["base"]["points_issued"],
         "candidate_points": report["base"]["points_issued"] + 350, "difference": 350}]
    assert report["base"]["members_by_tier"] == report["candidate"]["members_by_tier"] == {"DIAMOND": 1}


def _sums(outputs: list) -> dict:
    """The report's figures, summed here straight from the outputs."""
    by_rule: Counter[str] = Counter()
    held = 0
    changes: Counter[str] = Counter()
    grants: Counter[str] = Counter()
    value: defaultdict[str, Decimal] = defaultdict(Decimal)
    tiers: dict[str, str] = {}
    for out in outputs:
        v = out.value
        sign = -1 if getattr(v, "retracts", None) else 1
        if isinstance(v, LedgerEntry):
            held += v.delta
            if v.kind is LedgerKind.EARN:
                by_rule[v.rule] += v.delta
        elif isinstance(v, TierChange):
            changes[v.direction.value] += sign
            tiers[v.member_id] = v.to_tier if sign > 0 else v.from_tier
        elif isinstance(v, BenefitGrant):
            grants[v.benefit] += sign
            value[v.benefit] += sign * (v.value or 0) * v.quantity
    return {"points_by_rule": dict(by_rule), "liability": held, "upgrades": changes["up"],
            "downgrades": changes["down"], "grants": {b: (grants[b], value[b]) for b in grants},
            "tiers_changed": tiers}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_lines(tmp_path_factory.mktemp("demo") / "demo.jsonl", demo_lines(80, 28))


def test_the_reports_figures_are_sums_over_the_simulated_outputs(demo, tmp_path):
    candidate = doubled_diamond(tmp_path / "c.yaml")
    for rules in (SHIPPED, candidate):
        outputs: list = []
        figures = run_shard(Job(rules, demo), observe=outputs.append)
        summary, sums = figures.summary(), _sums(outputs)
        assert summary["points_by_rule"] == {r: p for r, p in sums["points_by_rule"].items()}
        assert summary["points_issued"] == sum(p for r, p in sums["points_by_rule"].items() if r != "gift")
        assert sums["points_by_rule"]["gift"] > 0  # a gift's credit moves points: earned, not issued
        assert summary["liability"] == sums["liability"] == list(summary["liability_by_day"].values())[-1]
        assert (summary["upgrades"], summary["downgrades"]) == (sums["upgrades"], sums["downgrades"])
        assert summary["upgrades"] > 0
        assert {b: (g["count"], Decimal(g["face_value"])) for b, g in summary["grants"].items()} == sums["grants"]
        assert summary["outputs"] == dict(Counter(out.topic for out in outputs))
        changed = {m.split("/", 1)[1]: t for m, t in figures.member_tier.items() if t != "NORMAL"}
        assert changed == {m: t for m, t in sums["tiers_changed"].items() if t != "NORMAL"}
        last = summary["members_by_tier_over_time"][max(summary["members_by_tier_over_time"])]
        assert sum(last.values()) == summary["members"]


def test_the_html_report_is_well_formed_and_has_every_chart(demo, tmp_path):
    out = tmp_path / "report"
    candidate = rules_file(tmp_path / "c.yaml", {**DOUBLED_DIAMOND, **GOLD_AT_450})
    assert main(["simulate", "--base", str(SHIPPED), "--candidate", str(candidate),
                 "--events", str(demo), "--out", str(out), "--evaluate", "daily"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n")
    root = ET.fromstring(page.split("\n", 1)[1])  # XHTML-serialised: an XML parser reads it whole
    svg = "{http://www.w3.org/2000/svg}"
    charts = {el.get("id"): el for el in root.iter(f"{svg}svg")}
    assert sorted(charts) == sorted(CHARTS)
    for chart_id in ("points-by-rule", "grants", "tier-differs", "top-members"):
        assert charts[chart_id].findall(f".//{svg}rect"), chart_id
    for chart_id in ("liability", "members-per-tier", "tier-changes"):
        assert charts[chart_id].findall(f".//{svg}polyline"), chart_id
    figures = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert figures["difference"]["points_issued"] > 0
    assert figures["members_with_different_tier"]["count"] > 0
    assert html(figures) == page  # the page is drawn from exactly the JSON figures


def test_several_processes_give_the_figures_of_one(demo, tmp_path):
    gifts = sum(1 for line in demo.read_text().splitlines() if '"kind": "gift"' in line)
    assert gifts > 0  # gift hand-offs cross members: linked members share a process
    candidate = doubled_diamond(tmp_path / "c.yaml")
    one = compare(*simulate(SHIPPED, candidate, demo, processes=1), "b", "c")
    assert shards_for(2) == 1  # two processes: a rule set each
    two = compare(*simulate(SHIPPED, candidate, demo, processes=2), "b", "c")
    assert json.dumps(two, sort_keys=True) == json.dumps(one, sort_keys=True)
    assert shards_for(4) == 2  # four: each rule set's members in two shards
    four = compare(*simulate(SHIPPED, candidate, demo, processes=4), "b", "c")
    assert json.dumps(four, sort_keys=True) == json.dumps(one, sort_keys=True)
    assert one["base"]["outputs"]["member-commands"] > 0


def test_an_invalid_candidate_is_refused_with_its_file_and_field_path(demo, tmp_path, capsys):
    bad = rules_file(tmp_path / "bad.yaml", {"limits.max_items": 0})
    out = tmp_path / "report"
    assert main(["simulate", "--base", str(SHIPPED), "--candidate", str(bad), "--events", str(demo),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: limits.max_items:" in err
    assert not out.exists()


def test_the_progress_bar_draws_on_a_terminal_only(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown, hidden = Terminal(), io.StringIO()
    for stream in (shown, hidden):
        bar = Progress(200, 2, stream)
        bar.update(0, 100)
        bar.update(1, 100)
        bar.close()
    assert "100.0%" in shown.getvalue() and "#" * WIDTH in shown.getvalue()
    assert hidden.getvalue() == ""
