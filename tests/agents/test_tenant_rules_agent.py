"""Tenant rules versions on a worker (agents.tenant_rules), no broker: the group agent dead-letters
invalid versions as ``invalid_rules`` (the app's producer a fake), and every worker's reader folds each
version into the rules in force, swapping the book whole (``RulesReader.apply``)."""

from __future__ import annotations

import pytest

from agents.rules_in_force import RulesInForce
from tests.agents.fixtures import FakeProducer
from tests.engine.badge_fixtures import shipped
from tests.engine.test_published_lines import NEW_LINE
from tests.engine.test_published_rules import document, earned, version


def sample(worker, name: str, **labels: str) -> float:
    return worker.metrics.registry.get_sample_value(name, labels) or 0


@pytest.mark.asyncio
async def test_the_checker_dead_letters_an_invalid_version_only(worker):
    worker.app.producer = producer = FakeProducer()
    bad = document(worker.rules.book)
    bad["currency"] = 7
    async with worker.tenant_rules_agent.test_context() as agent:
        await agent.put(version("default", 1, document(worker.rules.book)), key=b"default")
        await agent.put(version("default", 2, bad), key=b"default")
        ((topic, key, letter, _),) = await producer.wait_for(1)
    assert topic == worker.settings.topic("dead-letters") and key == b"default"
    assert letter["reason"] == "invalid_rules" and letter["source_topic"] == "tenant-rules"
    assert letter["detail"].startswith("rules.currency:")
    assert sample(worker, "memberflow_dead_letters_total", reason="invalid_rules") == 1


def test_the_reader_swaps_the_book_and_keeps_it_on_stale_or_invalid_versions(worker):
    reader = worker.app.tenant_rules
    base = earned(worker.rules.book)[0]
    reader.apply(version("default", 3, document(worker.rules.book, points_per_unit=2)))
    assert earned(worker.rules.book) == (2 * base, "v3")
    book = worker.rules.book
    reader.apply(version("default", 3, document(book, points_per_unit=7)))  # duplicate
    reader.apply(version("default", 2, document(book, points_per_unit=7)))  # stale
    reader.apply(b"{nope")
    assert worker.rules.book is book
    assert {v: sample(worker, "memberflow_rules_versions_total", verdict=v) for v in ("applied", "ignored",
                                                                                      "invalid")} == {
        "applied": 1, "ignored": 2, "invalid": 1}
    assert reader.describe() == "default=v3"


def test_the_worker_is_ready_only_once_every_topic_is_read():
    rules = RulesInForce(shipped())
    rules.read_to_end("business-lines")
    assert not rules.ready.is_set()
    rules.read_to_end("tenant-rules")
    assert not rules.ready.is_set()
    rules.read_to_end("membership-plans")
    assert rules.ready.is_set()


def test_a_version_that_brings_a_business_line_declares_its_badge_series(worker):
    line = {k: v for k, v in NEW_LINE.items() if k != "line_id"}
    rules = document(worker.rules.book)
    rules["business_lines"] = {**rules["business_lines"], "jd_plus": line}
    assert worker.metrics.registry.get_sample_value("memberflow_badge_members", {"line": "jd_plus", "level": "1"}) \
        is None
    worker.app.tenant_rules.apply(version("default", 1, rules))
    assert worker.metrics.registry.get_sample_value("memberflow_badge_members", {"line": "jd_plus", "level": "1"}) \
        == 0
