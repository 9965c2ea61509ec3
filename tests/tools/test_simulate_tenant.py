"""``memberflow simulate --tenant T``: only the tenant's lines are simulated (the admin service's simulations)."""

from __future__ import annotations

import json

from memberflow.cli import main
from memberflow.tools.simulate.report import compare
from memberflow.tools.simulate.run import simulate
from memberflow.tools.simulate.tenant import keep_tenant, tenant_of
from tests.tools.simulate_fixtures import SHIPPED, demo_lines, doubled_diamond, write_lines


def _as_acme(line: dict) -> dict:
    value = line["value"]
    return {**line, "value": {**value, "tenant_id": "acme"} if isinstance(value, dict) else value}


def test_a_line_s_tenant_is_its_value_s():
    assert tenant_of({"value": {"tenant_id": "acme"}}) == "acme"
    assert tenant_of({"value": {"member_id": "m1"}}) == "default"
    assert tenant_of({"value": "not json"}) is None


def test_only_the_tenant_s_lines_are_simulated(tmp_path):
    default, acme = demo_lines(8, 6, seed=2), [_as_acme(line) for line in demo_lines(6, 6, seed=9)]
    both = write_lines(tmp_path / "both.jsonl", [*default, *acme])
    mine = tmp_path / "acme.jsonl"
    assert keep_tenant(both, "acme", mine) == sum(isinstance(line["value"], dict) for line in acme)

    candidate = doubled_diamond(tmp_path / "candidate.yaml")
    out = tmp_path / "report"
    assert main(["simulate", "--base", str(SHIPPED), "--candidate", str(candidate), "--events", str(both),
                 "--tenant", "acme", "--evaluate", "daily", "--out", str(out)]) == 0
    figures = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = json.loads(json.dumps(compare(*simulate(SHIPPED, candidate, mine, daily=True), str(SHIPPED),
                                             str(candidate))))
    assert figures == expected
    assert figures["base"]["members"] == len({line["value"]["member_id"] for line in acme
                                              if isinstance(line["value"], dict) and "member_id" in line["value"]})
