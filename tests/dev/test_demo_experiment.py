"""The demo's live experiment (``make run``): valid rules, and the demo stream replayed under them puts
NORMAL and SILVER members in its arms from its third week, GOLD coming sooner to the 450 arm."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from config.rules import RuleBook
from memberflow.dev.demo.experiment import STARTS_AFTER, demo_rules_dir
from memberflow.dev.demo.stream import generate
from memberflow.tools.replay import replay
from models.outputs import Output, TierChange
from tests.dev.test_demo import START


def test_the_demo_stream_under_the_demo_rules_fills_the_experiment_s_arms(tmp_path: Path) -> None:
    book = RuleBook.load(demo_rules_dir(tmp_path / "rules", START))
    (experiment,) = book.default.experiments
    assert experiment.population.starts_at == START + STARTS_AFTER
    lines = [{"topic": topic, "key": key, "value": value}
             for topic, key, value in generate(300, 7, START)]
    outputs = [e.value for e in replay(lines, book) if isinstance(e.value, Output)]
    tagged = [o for o in outputs if o.experiment == "gold-at-450"]
    assert tagged and all(o.occurred_at >= START + STARTS_AFTER for o in tagged)
    assert {o.variant for o in tagged} == {"control", "gold-450", "holdout"}
    assert all(o.variant is None for o in outputs if o.occurred_at < START + STARTS_AFTER)
    upgrades = Counter(o.variant for o in tagged if isinstance(o, TierChange) and o.to_tier == "GOLD")
    assert upgrades["gold-450"] > 0
