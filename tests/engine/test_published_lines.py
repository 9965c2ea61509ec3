"""Runtime onboarding (seed 000's SaaS goal): published definitions supersede
the shipped ones by version, per tenant; invalid ones change nothing and are
refused with the path of the bad part."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import pytest

from engine.apply import apply_event
from engine.outcome import Applied
from engine.published_lines import PublishedLines, Verdict, error_path, lines_for, parse_definition
from models.outputs import BadgeChange
from tests.config.fixtures import definition
from tests.engine.badge_fixtures import Holder, shipped, snapshot, wealth, wealth_v


def raw(definition: dict[str, Any]) -> bytes:
    return json.dumps(definition).encode()


NEW_LINE = {
    "line_id": "jd_plus", "version": 1, "name": "JD Plus",
    "fields": {"plus_score": "int"},
    "levels": [{"level": 1, "name": "Plus", "rule": {"field": "plus_score", "op": ">=", "value": 100},
                "rights": [{"benefit": "plus_coupon", "value": 5}]}],
}


@pytest.fixture
def live() -> PublishedLines:
    return PublishedLines(shipped())


def test_a_higher_version_supersedes_and_lower_or_equal_ones_are_ignored(live):
    assert live.in_force("default")["wealth"].version == 1
    assert live.offer(raw(wealth_v(1, 100)), 65536).verdict is Verdict.IGNORED  # == shipped version 1
    offer = live.offer(raw(wealth_v(3, 100)), 65536)
    assert (offer.verdict, offer.previous_version) == (Verdict.APPLIED, 1)
    assert live.in_force("default")["wealth"].version == 3
    for stale in (2, 3):
        assert live.offer(raw(wealth_v(stale, 900)), 65536).verdict is Verdict.IGNORED
    line = live.in_force("default")["wealth"]
    assert line.version == 3 and line.rule_of(1).threshold == 100
    # the other lines keep their shipped definitions
    assert {k: v.version for k, v in live.in_force("default").items() if k != "wealth"} == {
        "baitiao": 1, "gold_bar": 1, "small_treasury": 1}


def test_an_invalid_definition_leaves_the_previous_version_in_force(live):
    live.offer(raw(wealth_v(2, 100)), 65536)
    bad = wealth_v(5, 100)
    bad["levels"][0]["rule"]["field"] = "lc_scor"
    offer = live.offer(raw(bad), 65536)
    assert offer.verdict is Verdict.INVALID and offer.detail.startswith("levels.0.rule.field:")
    assert live.offer(b"not json", 65536).verdict is Verdict.INVALID
    assert live.in_force("default")["wealth"].version == 2


def test_definitions_are_per_tenant(live):
    live.offer(raw(wealth_v(2, 100, tenant="acme")), 65536)
    live.offer(raw({**NEW_LINE, "tenant_id": "acme"}), 65536)
    assert live.in_force("acme")["wealth"].version == 2 and "jd_plus" in live.in_force("acme")
    assert live.in_force("default")["wealth"].version == 1 and "jd_plus" not in live.in_force("default")
    # acme has no rules file: it shares the default rules object, which carries every tenant's catalog
    rules = live.book.for_tenant("acme")
    assert rules is live.book.default
    assert lines_for(rules, "acme")["wealth"].version == 2 and lines_for(rules, "default")["wealth"].version == 1


def test_the_fold_does_not_depend_on_the_order_across_lines():
    definitions = [raw(wealth_v(2, 100)), raw(wealth_v(4, 200)), raw(NEW_LINE),
                   raw({**NEW_LINE, "version": 2, "name": "JD Plus 2"})]
    results = set()
    for order in permutations(definitions):
        live = PublishedLines(shipped())
        for d in order:
            live.offer(d, 65536)
        results.add(tuple(sorted((k, v.version, v.name) for k, v in live.in_force("default").items())))
    assert results == {(("baitiao", 1, "Baitiao"), ("gold_bar", 1, "Gold Bar"), ("jd_plus", 2, "JD Plus 2"),
                        ("small_treasury", 1, "Small Treasury"), ("wealth", 4, "Wealth"))}


def test_snapshots_are_evaluated_with_the_version_in_force_and_name_it(live):
    rules_v1 = live.book.default
    m = Holder(rules_v1)
    m.send("2022-11-01", **wealth(200, 0))
    assert m.level("wealth") == 0
    live.offer(raw(wealth_v(2, 150)), 65536)
    m.rules = live.book.default
    m.send("2022-11-02", **wealth(200, 0))
    (change,) = [c for c in m.changes if c.line_id == "wealth"]
    assert (change.to_level, change.rule_version) == (1, 2)
    assert m.state.badges["wealth"].rule_version == 2


def test_a_new_line_onboarded_at_run_time(live):
    assert live.offer(raw(NEW_LINE), 65536).verdict is Verdict.APPLIED
    out = apply_event(None, snapshot(plus_score="120"), live.book.default)
    assert out.result is Applied.APPLIED
    changes = [o.value for o in out.outputs if isinstance(o.value, BadgeChange)]
    assert [(c.line_id, c.to_level, c.rule_version) for c in changes] == [("jd_plus", 1, 1)]


# -- refused definitions name the bad part ----------------------------------------


def problem(data: dict[str, Any]) -> str:
    parsed = parse_definition(json.dumps(data).encode(), 65536)
    assert isinstance(parsed, str), "expected the definition to be invalid"
    return parsed


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        (lambda d: d["levels"][1]["rule"]["all"][1]["any"][0].update(field="nope"),
         "levels.1.rule.all.1.any.0.field", "not one of the line's fields"),
        (lambda d: d["levels"][0]["rule"].update(field="plus_flag", op=">="),
         "levels.0.rule.op", "does not apply to flag"),
        (lambda d: d["levels"][0]["rule"].update(value="lots"),
         "levels.0.rule.value", "not an integer"),
        (lambda d: d["levels"][0]["rule"].update(field="plus_city", op="in", value="bj"),
         "levels.0.rule.value", "needs a non-empty list"),
        (lambda d: d["levels"][0]["rule"].update(op=">=", value=[1, 2]),
         "levels.0.rule.value", "single value"),
        (lambda d: d["levels"][1].update(level=3), "levels", "numbered 1..2"),
        (lambda d: d["fields"].update(user_pin="string"), "fields.user_pin", "reserved"),
        (lambda d: d["fields"].update(plus_score="money"), "fields.plus_score", "Input should be"),
        (lambda d: d["levels"][0]["rule"].update(opp=">="), "levels.0.rule.opp", "Extra inputs"),
        (lambda d: d["levels"][1]["rule"].update(all=[]), "levels.1.rule.all", "at least 1"),
        (lambda d: d["levels"][0]["rights"][0].update(value=-1), "levels.0.rights.0.value", "greater than"),
        (lambda d: d.update(version=0), "version", "greater than or equal to 1"),
        (lambda d: d.pop("version"), "version", "Field required"),
        (lambda d: d.update(line_id="bad id!"), "line_id", "pattern"),
        (lambda d: d.update(levels=[]), "levels", "at least 1"),
    ],
)
def test_invalid_definitions_name_the_field_path(change, path, why):
    data = json.loads(json.dumps(definition()))
    change(data)
    detail = problem(data)
    assert detail.startswith(f"{path}:") or f" {path}:" in detail, detail
    assert why in detail, detail


def test_malformed_or_empty_definitions():
    assert parse_definition(b"{nope", 65536).startswith("malformed JSON")
    assert parse_definition(None, 65536) == "empty message"
    assert "bytes >" in parse_definition(b"{" + b" " * 100 + b"}", 50)


def test_error_paths_drop_the_rule_trees_union_tags():
    assert error_path(("levels", 2, "rule", "all", "all", 1, "any", "any", 0, "condition", "op")) == \
        "levels.2.rule.all.1.any.0.op"
    assert error_path(()) == "<root>"
