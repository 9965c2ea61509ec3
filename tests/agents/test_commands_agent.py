"""The commands agent under Faust's test utilities (no broker): an ``evaluate``
command fans out one evaluation slice per partition, a bad command is
dead-lettered and counted, and the leader issues the command on each tenant's schedule in the rules
in force.
The app's producer is a fake that records what is sent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from agents.commands import EvaluationSchedule
from config.rules import RuleBook
from engine.evaluation import evaluation_id
from models.evaluation import EvaluateCommand, EvaluateSlice
from tests.agents.fixtures import FakeProducer, build_worker
from tests.engine.test_published_rules import document, version

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
@pytest.mark.parametrize(("value", "reason", "path"), [
    (b"{nope", "malformed_json", ""),
    (json.dumps({"type": "evaluate"}).encode(), "invalid_event", "as_of:"),
    (json.dumps({"type": "evaluate", "as_of": "2026-04-01T00:00:00"}).encode(), "invalid_event", "as_of:"),
    (json.dumps({"type": "evaluate", "as_of": 1775000000}).encode(), "implausible_time", "as_of:"),  # epoch seconds
    (json.dumps({"type": "evaluate_everything", "as_of": AS_OF}).encode(), "invalid_event", "type"),
], ids=["malformed", "no-as-of", "naive-as-of", "numeric-as-of", "unknown-type"])
async def test_a_bad_command_is_dead_lettered_with_its_reason_and_field_and_counted(worker, producer, value, reason,
                                                                                    path):
    async with worker.commands_agent.test_context() as agent:
        await agent.put(value, key=b"*", partition=0)
        ((topic, key, letter, partition),) = await producer.wait_for(1)
        await agent.put(evaluate(), key=b"*")  # the agent goes on with the next command
        await producer.wait_for(1 + PARTITIONS)
    assert topic == worker.settings.topic("dead-letters") and partition is None
    assert letter["reason"] == reason and letter["source_topic"] == "commands"
    assert letter["payload"] == value.decode(errors="replace") and letter["key"] == "*" and letter["detail"]
    assert letter["detail"].startswith(path)
    assert (letter["partition"], letter["offset"]) == (0, 0)
    assert counted(worker, reason) == 1
    assert len(producer.to(worker.settings.topic("evaluation-slices"))) == PARTITIONS


class Clock:
    def __init__(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.at

    def to(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)


def schedule_of(worker, clock: Clock, leader: bool = True) -> EvaluationSchedule:
    """The worker's schedule on ``clock``, its producer a fake; ``leader`` or not."""
    schedule = worker.schedule
    schedule.now, schedule.since = clock, clock()
    schedule.is_leader = lambda: leader
    return schedule


@pytest.mark.asyncio
async def test_the_leader_issues_an_evaluate_command_at_the_scheduled_minute(worker, producer):
    clock = Clock("2026-04-01T23:59:30+08:00")  # the default schedule: daily at 00:00, Asia/Shanghai
    schedule = schedule_of(worker, clock)
    await schedule.tick()
    assert producer.sent == []
    clock.to("2026-04-02T00:00:10+08:00")
    await schedule.tick()
    clock.to("2026-04-02T00:00:30+08:00")
    await schedule.tick()  # the same minute again: nothing more
    ((topic, key, value, partition),) = producer.sent
    assert topic == worker.settings.topic("commands") and key == b"*" and partition is None
    command = EvaluateCommand.model_validate(value)
    assert command.type == "evaluate" and command.tenant_id is None
    assert command.as_of == datetime.fromisoformat("2026-04-02T00:00:00+08:00")
    assert command.as_of.utcoffset() == timedelta(hours=8)  # in the tenant's zone


@pytest.mark.asyncio
async def test_a_worker_that_is_not_the_leader_issues_nothing_but_keeps_looking(worker, producer):
    clock = Clock("2026-04-01T23:59:30+08:00")
    schedule = schedule_of(worker, clock, leader=False)
    clock.to("2026-04-02T00:00:10+08:00")
    await schedule.tick()
    assert producer.sent == [] and schedule.since == clock()  # a later leader does not issue it again


@pytest.mark.asyncio
async def test_each_tenant_with_rules_of_its_own_has_its_own_schedule_and_a_published_one_applies(
        tmp_path, make_rules):
    acme = make_rules({"time_zone": "Europe/Berlin", "evaluation": {"schedule": "30 2 * * 1"}})
    worker = build_worker(tmp_path, RuleBook(make_rules(), {"acme": acme}), partitions=PARTITIONS)
    worker.app.producer = producer = FakeProducer()
    clock = Clock("2026-04-06T02:29:00+02:00")  # a Monday, in Berlin
    schedule = schedule_of(worker, clock)
    clock.to("2026-04-06T02:30:05+02:00")
    await schedule.tick()
    ((_, key, value, _),) = producer.sent
    command = EvaluateCommand.model_validate(value)
    assert key == b"acme" and command.tenant_id == "acme"
    assert command.as_of == datetime.fromisoformat("2026-04-06T02:30:00+02:00")

    # a version published at run time moves acme's schedule, and onboards beta with its own
    worker.app.tenant_rules.apply(version("acme", 1, {**document(worker.rules.book, "acme"),
                                                      "evaluation": {"schedule": "0 3 * * *"}}))
    worker.app.tenant_rules.apply(version("beta", 1, {**document(worker.rules.book, "beta"),
                                                      "evaluation": {"schedule": "5 9 * * *"}}))  # Shanghai
    clock.to("2026-04-06T03:06:00+02:00")  # 09:06 in Shanghai: not the default's minute
    await schedule.tick()
    issued = [(key, EvaluateCommand.model_validate(value).as_of) for _, key, value, _ in producer.sent[1:]]
    assert issued == [(b"acme", datetime.fromisoformat("2026-04-06T03:00:00+02:00")),
                      (b"beta", datetime.fromisoformat("2026-04-06T09:05:00+08:00"))]
