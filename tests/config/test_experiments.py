"""Live experiments in the rules: assignment by hash, overlays validated at load, an arm's rules."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.experiments import HOLDOUT, Arm, Experiment, arm_of, assign, merge_overlay
from config.rules import RuleBook, RulesError, TenantRules, load_rules_file

DEFAULT = Path(__file__).resolve().parents[2] / "config" / "rules" / "default.yaml"
START = datetime(2026, 3, 1, tzinfo=UTC)


def experiment(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "diamond-x2",
        "population": {"starts_at": START.isoformat()},
        "holdout": "0.1",
        "variants": [
            {"name": "A"},
            {"name": "B", "overlay": {"points": {"earning": {"tier_multipliers": {"tiers": {"DIAMOND": 2}}}}}},
        ],
    }
    return {**base, **over}


def rules_with(*experiments: dict[str, Any]) -> TenantRules:
    data = yaml.safe_load(DEFAULT.read_text())
    data["experiments"] = list(experiments)
    return TenantRules.model_validate(data)


def test_assignment_of_100000_members_splits_within_1_percent_of_the_shares_and_is_stable() -> None:
    exp = Experiment.model_validate(experiment(
        population={"starts_at": START.isoformat(), "share": "0.5"}, holdout="0.2",
        variants=[{"name": "A", "weight": 1}, {"name": "B", "weight": 3}]))
    members = [f"m{i}" for i in range(100_000)]
    first = [arm_of(exp, "acme", m) for m in members]
    assert first == [arm_of(exp, "acme", m) for m in members]
    counts = Counter(a.variant if a else None for a in first)
    # half outside; of the half in, 20 % holdout, the rest 1:3
    expected = {None: 0.5, HOLDOUT: 0.5 * 0.2, "A": 0.5 * 0.8 * 0.25, "B": 0.5 * 0.8 * 0.75}
    for arm, share in expected.items():
        assert abs(counts[arm] / len(members) - share) < 0.01, (arm, counts[arm])


def test_assignment_is_independent_across_experiments_and_tenants() -> None:
    one = Experiment.model_validate(experiment(id="one"))
    two = Experiment.model_validate(experiment(id="two"))
    members = [f"m{i}" for i in range(20_000)]
    same = sum(arm_of(one, "acme", m) .variant == arm_of(two, "acme", m).variant for m in members)  # type: ignore[union-attr]
    other_tenant = sum(arm_of(one, "acme", m) == arm_of(one, "beta", m) for m in members)
    # independent: agreement near 0.1^2 + 0.45^2 * 2 = 0.415, far from 1
    assert 0.38 < same / len(members) < 0.45
    assert 0.38 < other_tenant / len(members) < 0.45


def test_time_window_stop_and_tier_population() -> None:
    exp = Experiment.model_validate(experiment(
        population={"starts_at": START.isoformat(), "ends_at": "2026-04-01T00:00:00+00:00", "tiers": ["GOLD"]},
        holdout="0", stopped_at="2026-03-15T00:00:00+00:00"))
    inside = datetime(2026, 3, 10, tzinfo=UTC)
    assert assign([exp], "acme", "m1", "GOLD", inside) is not None
    assert assign([exp], "acme", "m1", "SILVER", inside) is None
    assert assign([exp], "acme", "m1", "GOLD", datetime(2026, 2, 28, tzinfo=UTC)) is None
    assert assign([exp], "acme", "m1", "GOLD", datetime(2026, 3, 15, tzinfo=UTC)) is None  # stopped
    assert exp.until() == datetime(2026, 3, 15, tzinfo=UTC)


def test_the_first_running_experiment_holding_a_member_wins() -> None:
    first = Experiment.model_validate(experiment(id="first", holdout="0"))
    second = Experiment.model_validate(experiment(id="second", holdout="0"))
    arm = assign([first, second], "acme", "m1", "NORMAL", START)
    assert arm is not None and arm.experiment == "first"


def test_an_arms_rules_carry_the_overlay_the_arm_and_the_base_version() -> None:
    rules = rules_with(experiment())
    members = {arm_of(rules.experiments[0], "acme", f"m{i}"): f"m{i}" for i in range(200)}
    b = rules.for_member("acme", members[Arm("diamond-x2", "B")], "DIAMOND", START)
    a = rules.for_member("acme", members[Arm("diamond-x2", "A")], "DIAMOND", START)
    held = rules.for_member("acme", members[Arm("diamond-x2", HOLDOUT)], "DIAMOND", START)
    assert b.points.earning.tier_multipliers.tiers["DIAMOND"] == Decimal(2)
    assert a.points.earning.tier_multipliers.tiers["DIAMOND"] == Decimal("1.5")
    assert held.points.earning == rules.points.earning
    assert (b.arm, a.arm, held.arm) == (Arm("diamond-x2", "B"), Arm("diamond-x2", "A"), Arm("diamond-x2", HOLDOUT))
    assert b.version == a.version == rules.version
    assert rules.arm is None
    assert rules.for_member("acme", "m1", "DIAMOND", datetime(2026, 2, 1, tzinfo=UTC)) is rules
    assert rules.for_member("acme", members[Arm("diamond-x2", "B")], "DIAMOND", START) is b  # built once


def test_a_copy_of_the_rules_builds_arms_carrying_its_own_private_facts() -> None:
    rules = rules_with(experiment(holdout="0"))
    member = next(f"m{i}" for i in range(100) if arm_of(rules.experiments[0], "acme", f"m{i}").variant == "B")  # type: ignore[union-attr]
    before = rules.for_member("acme", member, "NORMAL", START)
    copy = rules.model_copy()
    copy._membership_plans = "facts"
    after = copy.for_member("acme", member, "NORMAL", START)
    assert after is not before
    assert after.__pydantic_private__["_membership_plans"] == "facts"  # type: ignore[index]


def test_the_ladder_merges_by_tier_id() -> None:
    rules = rules_with(experiment(variants=[{"name": "B", "overlay": {"tiers": {"tiers": [
        {"id": "GOLD", "qualify": [{"metric": {"kind": "spend", "window_days": 30}, "threshold": 450}]}]}}}]))
    b = rules._variants[Arm("diamond-x2", "B")]
    gold = {t.id: t for t in b.tiers.tiers}["GOLD"]
    assert gold.qualify[0].threshold == Decimal(450)
    assert gold.benefits == {t.id: t for t in rules.tiers.tiers}["GOLD"].benefits
    assert [t.id for t in b.tiers.tiers] == [t.id for t in rules.tiers.tiers]


def test_merge_overlay() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "l": [{"id": "x", "v": 1}, {"id": "y", "v": 2}]}
    over = {"a": {"c": [3]}, "l": [{"id": "y", "v": 5}]}
    assert merge_overlay(base, over) == {"a": {"b": 1, "c": [3]}, "l": [{"id": "x", "v": 1}, {"id": "y", "v": 5}]}


@pytest.mark.parametrize(("bad", "path"), [
    ({"variants": [{"name": "B", "overlay": {"points": {"earning": {"tier_multipliers": {"tiers": {"X": 2}}}}}}]},
     "experiments.0.variants.0.overlay.points.earning.tier_multipliers.tiers"),
    ({"variants": [{"name": "B", "overlay": {"tiers": {"tiers": [{"id": "PLATINUM", "qualify": [
        {"metric": {"kind": "spend"}, "threshold": 1}]}]}}}]},
     "experiments.0.variants.0.overlay.tiers.tiers: unknown tier(s) ['PLATINUM']"),
    ({"variants": [{"name": "A"}, {"name": "B", "overlay": {"growth": {"per_unit": -1}}}]},
     "experiments.0.variants.1.overlay.growth.per_unit"),
    ({"population": {"starts_at": START.isoformat(), "tiers": ["PLATINUM"]}},
     "experiments.0.population.tiers: unknown tier(s) ['PLATINUM']"),
    ({"variants": [{"name": "holdout"}]}, "reserved"),
    ({"variants": [{"name": "B", "overlay": {"tenant_id": "other"}}]}, "cannot change ['tenant_id']"),
])
def test_a_bad_experiment_is_refused_at_load_with_its_path(tmp_path: Path, bad: dict[str, Any], path: str) -> None:
    data = yaml.safe_load(DEFAULT.read_text())
    data["experiments"] = [experiment(**bad)]
    file = tmp_path / "default.yaml"
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(RulesError) as info:
        load_rules_file(file)
    assert path in str(info.value)
    assert str(file) in str(info.value)


def test_rules_without_experiments_keep_their_fingerprint() -> None:
    book = RuleBook.load(DEFAULT.parent)
    assert book.default.experiments == []
    dumped = book.default.model_dump_json(exclude={"experiments"})
    from hashlib import blake2b
    assert book.default.fingerprint == int.from_bytes(blake2b(dumped.encode(), digest_size=8).digest(), "big")
