"""The commands agent under Faust's test utilities (no broker): an ``evaluate``
command fans out one evaluation slice per partition, a bad command is
dead-lettered and counted, and each tenant's crontab issues the command.
The app's producer is a fake that records what is sent."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from datetime import datetime

import pytest
from faust.utils import cron

from config.rules import RuleBook
from engine.evaluation import evaluation_id
from models.evaluation import EvaluateCommand, EvaluateSlice
from tests.agents.fixtures import WAIT_SECONDS, FakeProducer, build_worker

PARTITIONS = 4
AS_OF = "2026-04-01T00:00:00+08:00"


@pytest.fixture
def worker(tmp_path):
    """A worker of four partitions (so a fan-out is not one slice by chance)."""
    return build_worker(tmp_path, partitions=PARTITIONS)


@pytest.fixture
def producer(worker) -> FakeProducer:
    worker.app.producer = FakeProducer()
    return worker.app.producer


def evaluate(tenant: str | None = None, as_of: str = AS_OF) -> bytes:
    return json.dumps({"type": "evaluate", "tenant_id": tenant, "as_of": as_of}).encode()


def counted(worker, reason: str) -> float:
    return worker.metrics.registry.get_sample_value("memberflow_dead_letters_total", {"reason": reason})


@pytest.mark.asyncio
async def test_an_evaluate_command_fans_out_one_slice_per_partition(worker, producer):
    async with worker.commands_agent.test_context() as agent:
        await agent.put(evaluate(), key=b"*")
        await producer.wait_for(PARTITIONS)
        await agent.put(evaluate("acme"), key=b"acme")
        await producer.wait_for(2 * PARTITIONS)
    assert {topic for topic, *_ in producer.sent} == {worker.settings.topic("evaluation-slices")}
    as_of = datetime.fromisoformat(AS_OF)
    for tenant, sent in ((None, producer.sent[:PARTITIONS]), ("acme", producer.sent[PARTITIONS:])):
        slices = sorted(((EvaluateSlice.model_validate(value), key, partition) for _, key, value, partition in sent),
                        key=lambda s: s[0].partition)
        assert [(key, partition) for _, key, partition in slices] == [
            (f"slice-{p}".encode(), p) for p in range(PARTITIONS)]  # keyed and sent to the partition it names
        assert [s.partition for s, _, _ in slices] == list(range(PARTITIONS))
        assert {(s.evaluation_id, s.tenant_id, s.as_of, s.after) for s, _, _ in slices} == {
            (evaluation_id(tenant, as_of), tenant, as_of, None)}
    assert evaluation_id(None, as_of) != evaluation_id("acme", as_of)
    assert counted(worker, "invalid_event") == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("value", [
    b"{nope",
    json.dumps({"type": "evaluate"}).encode(),  # no as_of
    json.dumps({"type": "evaluate", "as_of": "2026-04-01T00:00:00"}).encode(),  # naive
    json.dumps({"type": "evaluate_everything", "as_of": AS_OF}).encode(),
], ids=["malformed", "no-as-of", "naive-as-of", "unknown-type"])
async def test_a_bad_command_is_dead_lettered_with_reason_invalid_event_and_counted(worker, producer, value):
    async with worker.commands_agent.test_context() as agent:
        await agent.put(value, key=b"*", partition=0)
        ((topic, key, letter, partition),) = await producer.wait_for(1)
        await agent.put(evaluate(), key=b"*")  # the agent goes on with the next command
        await producer.wait_for(1 + PARTITIONS)
    assert topic == worker.settings.topic("dead-letters") and partition is None
    assert letter["reason"] == "invalid_event" and letter["source_topic"] == "commands"
    assert letter["payload"] == value.decode(errors="replace") and letter["key"] == "*" and letter["detail"]
    assert (letter["partition"], letter["offset"]) == (0, 0)
    assert counted(worker, "invalid_event") == 1
    assert len(producer.to(worker.settings.topic("evaluation-slices"))) == PARTITIONS


@pytest.fixture
def schedules(monkeypatch) -> tuple[list, asyncio.Event]:
    """Faust's crontab loop made to fire at once, then to wait an hour: the (cron, zone)
    each asked for, and an event set on its second ask (its first turn is over)."""
    asked: list = []
    second = asyncio.Event()

    def secs_for_next(cron_format, tz):
        asked.append((cron_format, tz))
        if len(asked) > 1:
            second.set()
        return 0 if len(asked) == 1 else 3600

    monkeypatch.setattr(cron, "secs_for_next", secs_for_next)
    return asked, second


async def run_until(task, done) -> None:
    """Run an app task (a crontab) until ``done`` is awaited, then cancel it."""
    running = asyncio.ensure_future(task())
    try:
        await asyncio.wait_for(done, WAIT_SECONDS)
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running


@pytest.mark.asyncio
async def test_the_crontab_issues_an_evaluate_command_on_the_leader(worker, producer, schedules, monkeypatch):
    asked, _ = schedules
    monkeypatch.setattr(worker.app, "is_leader", lambda: True)
    rules = worker.rules.book.default
    (crontab,) = worker.app._app_tasks  # one schedule: the default rules'
    before = datetime.now(rules.tz).replace(second=0, microsecond=0)
    await run_until(crontab, producer.wait_for(1))
    after = datetime.now(rules.tz)
    assert asked[0] == (rules.evaluation.schedule, rules.tz)
    ((topic, key, value, partition),) = producer.sent
    assert topic == worker.settings.topic("commands") and key == b"*" and partition is None
    command = EvaluateCommand.model_validate(value)
    assert command.type == "evaluate" and command.tenant_id is None
    assert before <= command.as_of <= after and command.as_of.second == command.as_of.microsecond == 0
    assert command.as_of.utcoffset() == after.utcoffset()  # in the tenant's zone


@pytest.mark.asyncio
async def test_the_crontab_issues_nothing_on_a_worker_that_is_not_the_leader(worker, producer, schedules,
                                                                            monkeypatch):
    _, second = schedules
    monkeypatch.setattr(worker.app, "is_leader", lambda: False)
    (crontab,) = worker.app._app_tasks
    await run_until(crontab, second.wait())  # its turn came and went
    assert producer.sent == []


@pytest.mark.asyncio
async def test_each_tenant_with_rules_of_its_own_has_its_own_crontab(tmp_path, make_rules, schedules, monkeypatch):
    asked, _ = schedules
    acme = make_rules({"time_zone": "Europe/Berlin", "evaluation": {"schedule": "30 2 * * 1"}})
    worker = build_worker(tmp_path, RuleBook(make_rules(), {"acme": acme}), partitions=PARTITIONS)
    worker.app.producer = producer = FakeProducer()
    monkeypatch.setattr(worker.app, "is_leader", lambda: True)
    default_tab, acme_tab = worker.app._app_tasks
    await run_until(acme_tab, producer.wait_for(1))
    assert asked[0] == ("30 2 * * 1", acme.tz)
    ((_, key, value, _),) = producer.sent
    command = EvaluateCommand.model_validate(value)
    assert key == b"acme" and command.tenant_id == "acme"
    assert command.as_of.utcoffset() == datetime.now(acme.tz).utcoffset()  # now, in Berlin
    assert len(worker.app._app_tasks) == 2 and default_tab is not acme_tab
