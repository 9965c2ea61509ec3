"""Business-line definitions on a worker (agents.business_lines), no broker: the
group agent dead-letters invalid definitions (``DefinitionChecker``, under Faust's
test utilities, the app's producer a fake), and every worker's follower folds each
definition into the rules in force (``DefinitionFollower.apply``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.business_lines import DefinitionFollower
from engine.published_lines import lines_for
from tests.agents.fixtures import FakeProducer
from tests.config.fixtures import definition
from tests.engine.badge_fixtures import wealth_v


def raw(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def sample(worker, name: str, **labels: str) -> float | None:
    return worker.metrics.registry.get_sample_value(name, labels)


def consumed(worker, outcome: str) -> float | None:
    return sample(worker, "memberflow_events_consumed_total", topic="business-lines", outcome=outcome)


def verdicts(worker) -> dict[str, float]:
    """Definitions the worker read, by verdict (a series appears with its first count)."""
    return {v: sample(worker, "memberflow_business_line_definitions_total", verdict=v) or 0
            for v in ("applied", "ignored", "invalid")}


# -- the group agent: dead letters -------------------------------------------------


@pytest.mark.asyncio
async def test_the_checker_dead_letters_an_invalid_definition_and_counts_a_valid_one_as_applied(worker):
    worker.app.producer = producer = FakeProducer()
    book = worker.rules.book
    bad = raw({**definition(), "levels": []})
    async with worker.definitions_agent.test_context() as agent:
        await agent.put(raw(definition()), key=b"default/jd_plus")
        await agent.put(bad, key=b"default/jd_plus", partition=1)
        ((topic, key, letter, partition),) = await producer.wait_for(1)  # the agent checks them in order
    assert topic == worker.settings.topic("dead-letters") and key == b"default/jd_plus" and partition is None
    assert letter["reason"] == "invalid_definition" and letter["source_topic"] == "business-lines"
    assert letter["detail"].startswith("levels:") and letter["payload"] == bad.decode()
    assert (letter["partition"], letter["offset"]) == (1, 1)
    assert consumed(worker, "applied") == 1 and consumed(worker, "dead_lettered") == 1
    assert sample(worker, "memberflow_dead_letters_total", reason="invalid_definition") == 1
    assert worker.rules.book is book  # folding definitions in is the follower's part, not the checker's


@pytest.mark.asyncio
async def test_the_checker_sends_nothing_for_valid_definitions(worker):
    worker.app.producer = producer = FakeProducer()
    async with worker.definitions_agent.test_context() as agent:
        for version in (2, 3):
            await agent.put(raw(wealth_v(version, 100)), key=b"default/wealth")
        await agent.put(b"{nope", key=b"default/wealth")
        await producer.wait_for(1)
    assert [letter["reason"] for _, letter, _ in producer.to(worker.settings.topic("dead-letters"))] == [
        "invalid_definition"]
    assert consumed(worker, "applied") == 2 and consumed(worker, "dead_lettered") == 1


# -- every worker's follower: the rules in force -------------------------------------


@pytest.fixture
def follower(worker) -> DefinitionFollower:
    return worker.app.definitions


def in_force(book, tenant: str = "default") -> dict:
    """The lines a member of ``tenant`` is evaluated with under ``book``."""
    return dict(lines_for(book.for_tenant(tenant), tenant))


def wealth(worker):
    return in_force(worker.rules.book)["wealth"]


def test_a_newer_version_swaps_the_book_in_force(worker, follower):
    shipped = worker.rules.book
    assert wealth(worker).version == 1 and verdicts(worker) == {"applied": 0, "ignored": 0, "invalid": 0}
    follower.apply(raw(wealth_v(2, 100)))
    assert worker.rules.book is not shipped  # swapped whole: a batch under way keeps the book it started with
    assert wealth(worker).version == 2 and wealth(worker).rule_of(1).threshold == 100
    assert in_force(shipped)["wealth"].version == 1  # the previous book is left as it was
    assert verdicts(worker) == {"applied": 1, "ignored": 0, "invalid": 0}


def test_an_older_or_equal_version_is_ignored(worker, follower):
    follower.apply(raw(wealth_v(3, 100)))
    in_force = worker.rules.book
    for version in (3, 2, 1):
        follower.apply(raw(wealth_v(version, 900)))
    assert worker.rules.book is in_force and wealth(worker).rule_of(1).threshold == 100
    assert verdicts(worker) == {"applied": 1, "ignored": 3, "invalid": 0}


def test_an_invalid_definition_keeps_the_previous_one_in_force(worker, follower):
    follower.apply(raw(wealth_v(2, 100)))
    in_force = worker.rules.book
    follower.apply(raw({**wealth_v(3, 50), "levels": []}))
    follower.apply(b"{nope")
    follower.apply(None)
    assert worker.rules.book is in_force and wealth(worker).version == 2
    assert verdicts(worker) == {"applied": 1, "ignored": 0, "invalid": 3}
    follower.apply(raw(wealth_v(3, 50)))  # the same version, valid this time
    assert wealth(worker).version == 3


def test_a_new_line_is_onboarded_with_its_badge_series(worker, follower):
    assert "jd_plus" not in in_force(worker.rules.book)
    assert sample(worker, "memberflow_badge_members", line="jd_plus", level="2") is None
    follower.apply(raw(definition()))
    assert in_force(worker.rules.book)["jd_plus"].version == 2
    assert "jd_plus" not in in_force(worker.rules.book, "acme")  # published for the default tenant only
    assert sample(worker, "memberflow_badge_members", line="jd_plus", level="2") == 0  # declared up front
    assert "default/jd_plus=v2" in follower.describe()
