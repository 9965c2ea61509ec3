"""The device agent under Faust's test utilities (no broker): each report's outputs are sent and
acknowledged before the device's state is stored, a redelivered report sends nothing, and a bad
report is dead-lettered and counted.  The app's producer is a fake that records what is sent."""

from __future__ import annotations

import json

import pytest

from models.devices import DeviceState
from tables import devices as devices_table
from tests.agents.fixtures import FakeProducer, build_worker


@pytest.fixture
def worker(tmp_path):
    return build_worker(tmp_path)


class TableProducer(FakeProducer):
    """Also takes the table's changelog writes (Faust sends them with ``send_soon``)."""

    def __init__(self) -> None:
        super().__init__()
        self.changelog: list[tuple[str, bytes]] = []

    def send_soon(self, fut) -> None:
        self.changelog.append((fut.message.topic, fut.message.key))


@pytest.fixture
def producer(worker) -> TableProducer:
    worker.app.producer = TableProducer()
    return worker.app.producer


def report(member: str, minute: int = 0) -> bytes:
    return json.dumps({"activity_id": f"da-{member}", "kind": "registration", "device_id": "d1",
                       "member_id": member, "occurred_at": f"2026-03-01T10:{minute:02d}:00+08:00",
                       "cause_event_id": f"reg-{member}"}).encode()


def stored(worker) -> DeviceState:
    return devices_table.decode(worker.devices[b"default/d1"])


@pytest.mark.asyncio
async def test_four_registrations_three_verdicts_allowed_one_refused_and_flagged(worker, producer):
    async with worker.devices_agent.test_context() as agent:
        for i, member in enumerate(["a", "b", "c", "d"]):
            await agent.put(report(member, i), key=b"default/d1")
        await producer.wait_for(5)
    verdicts = {value["member_id"]: value["allowed"]
                for _, value, _ in producer.to(worker.settings.topic("member-commands"))}
    assert verdicts == {"a": True, "b": True, "c": True, "d": False}
    (flag,) = producer.to(worker.settings.topic("risk-flags"))
    assert flag[0] == b"default/d1"
    assert set(stored(worker).registrations) == {"a", "b", "c", "d"}
    assert [r.allowed for r in stored(worker).registrations.values()] == [True, True, True, False]
    assert {key for _, key in producer.changelog} == {b"default/d1"}  # one state, written after each report
    assert worker.metrics.registry.get_sample_value("memberflow_outputs_sent_total", {"topic": "risk-flags"}) == 1


@pytest.mark.asyncio
async def test_a_redelivered_report_sends_nothing(worker, producer):
    async with worker.devices_agent.test_context() as agent:
        await agent.put(report("a"), key=b"default/d1")
        await producer.wait_for(1)
        await agent.put(report("a"), key=b"default/d1")
        await agent.put(report("b", 1), key=b"default/d1")
        await producer.wait_for(2)
    assert len(producer.sent) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(("value", "reason"), [(b"{nope", "malformed_json"),
                                              (json.dumps({"kind": "registration"}).encode(), "invalid_event")])
async def test_a_bad_report_is_dead_lettered_and_counted(worker, producer, value, reason):
    async with worker.devices_agent.test_context() as agent:
        await agent.put(value, key=b"default/d1")
        await producer.wait_for(1)
    ((key, letter, _),) = producer.to(worker.settings.topic("dead-letters"))
    assert letter["source_topic"] == "device-activity" and letter["reason"] == reason
    assert worker.metrics.registry.get_sample_value("memberflow_dead_letters_total", {"reason": reason}) == 1
    assert worker.devices.get(b"default/d1") is None
