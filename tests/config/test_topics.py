"""The topic registry (config.topics): each topic carries its contract's adapter,
whose JSON Schema is what ``memberflow schemas`` exports."""

from __future__ import annotations

from config.topics import Topic
from models.redemptions import RedemptionResult


def test_contracts_are_registered_and_exported():
    for topic in Topic:
        assert (topic.adapter is None) == (topic.contract is None), topic
    assert Topic.REDEMPTION_RESULTS.adapter.json_schema()["title"] == RedemptionResult.__name__
