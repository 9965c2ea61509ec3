"""The members agent under Faust's test utilities (no broker): memory store,
``agent.test_context()``, and a fake publisher standing in for Kafka.  The
agent reads fetched batches (agents/kafka/consumer.py), so each test delivers
one as the consumer does and waits until the agent is done with it (its
channel's ``idle`` event, which the agent sets after every batch)."""

from __future__ import annotations

import asyncio
import json

import pytest
from faust.types import TP, Message

from agents.kafka.consumer import BatchChannel, FetchedBatch, first_offsets
from agents.kafka.routing import SOURCE_HEADER
from tables.members import decode, state_key
from tests.agents.fixtures import WAIT_SECONDS, FakePublisher


def changelog(publisher: FakePublisher) -> list:
    """Member-state changelog records the agent published."""
    return [m for m in publisher.sent if m[0].endswith("members-v1-changelog")]


def order(event_id: str, member: str, amount: str) -> bytes:
    return json.dumps({"event_id": event_id, "member_id": member, "occurred_at": "2026-03-01T10:00:00+08:00",
                       "type": "order_paid", "order_id": f"o-{event_id}", "amount": amount}).encode()


OFFSETS = iter(range(10**6))


def fetched(app, *values: bytes, source: str, key: bytes | None = b"m1") -> FetchedBatch:
    """A fetch of the rekey topic (any member topic would do; the header names the source)."""
    topic = "member-rekey"
    messages = [
        Message(topic, 0, next(OFFSETS), 0.0, 0, [(SOURCE_HEADER, source.encode())], key, value, None,
                tp=TP(topic, 0), generation_id=app.consumer_generation_id)
        for value in values
    ]
    return FetchedBatch(messages, app.consumer_generation_id)


def members_channel(app) -> BatchChannel:
    (channel,) = {id(c): c for c in app.batch_channels.values()}.values()
    return channel


def record_unread(agent, monkeypatch) -> list:
    """The consumer's ``unread`` replaced by a recorder: the messages it is given."""
    unread: list = []

    async def record(messages) -> None:
        unread.extend(messages)

    monkeypatch.setattr(agent.app.consumer, "unread", record)
    return unread


async def deliver(agent, batch: FetchedBatch) -> FetchedBatch:
    """Hand the agent a batch as the consumer does, and wait until it has finished with it."""
    idle = members_channel(agent.app).idle
    idle.clear()  # what the consumer does as it hands a batch over
    await agent.put(batch)
    await asyncio.wait_for(idle.wait(), WAIT_SECONDS)
    return batch


async def put(agent, value: bytes, source: str, key: bytes | None = b"m1") -> FetchedBatch:
    """Deliver a one-message fetch and wait until the agent has finished with it."""
    return await deliver(agent, fetched(agent.app, value, source=source, key=key))


@pytest.mark.asyncio
async def test_an_order_updates_state_and_publishes_ledger_and_tier(worker):
    processor_publisher = FakePublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = processor_publisher
        batch = await put(agent, order("e1", "m1", "230.00"), "orders")
    topics = [t for t, *_ in processor_publisher.sent]
    assert topics.count("points-ledger") == 3 and topics.count("tier-changes") == 1
    state = decode(worker.members.data[state_key("default", "m1")])
    assert state.tier == "SILVER" and sum(lot.amount for lot in state.lots) == 244
    assert len(changelog(processor_publisher)) == 1  # one state write for the member
    assert all(message.acked for message in batch.messages)


@pytest.mark.asyncio
async def test_malformed_input_is_dead_lettered_and_nothing_is_stored(worker):
    publisher = FakePublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        await put(agent, b"{nope", "orders")
        await put(agent, order("e2", "m1", "-1"), "orders")
    letters = [body for topic, _, body, _, _ in publisher.sent if topic == "dead-letters"]
    assert [d["reason"] for d in letters] == ["malformed_json", "invalid_event"]
    assert state_key("default", "m1") not in worker.members.data
    consumed = worker.metrics.events_consumed.labels("orders", "dead_lettered")._value.get()
    assert consumed == 2


@pytest.mark.asyncio
async def test_a_duplicate_changes_nothing_and_sends_nothing(worker):
    publisher = FakePublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        await put(agent, order("e3", "m1", "50.00"), "orders")
        sent_once = len(publisher.sent)
        again = await put(agent, order("e3", "m1", "50.00"), "orders")
    assert sent_once > 0 and len(publisher.sent) == sent_once  # no outputs and no state write
    assert worker.metrics.events_consumed.labels("orders", "duplicate")._value.get() == 1
    assert all(message.acked for message in again.messages)


@pytest.mark.asyncio
async def test_one_fetch_is_one_batch_with_one_state_write_per_member(worker):
    publisher = FakePublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        batch = await deliver(agent, fetched(agent.app, order("b1", "m1", "120.00"), order("b2", "m1", "100.00"),
                                             source="orders"))
    assert len(changelog(publisher)) == 1
    state = decode(worker.members.data[state_key("default", "m1")])
    assert state.tier == "SILVER"  # 220 in 30 days, from both events of the batch
    assert all(message.acked for message in batch.messages)


@pytest.mark.asyncio
async def test_a_batch_fetched_before_a_rebalance_is_skipped_left_unacked_and_unread(worker, monkeypatch):
    publisher = FakePublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        unread = record_unread(agent, monkeypatch)
        batch = fetched(agent.app, order("s1", "m1", "300.00"), source="orders")
        batch.generation = agent.app.consumer_generation_id - 1
        await deliver(agent, batch)
    assert publisher.sent == []
    assert state_key("default", "m1") not in worker.members.data
    assert not any(message.acked for message in batch.messages)
    assert unread == batch.messages  # sought back, so Faust cannot commit over them


@pytest.mark.asyncio
async def test_the_members_channel_and_the_apps_topics_keep_what_is_queued_when_the_flow_resumes(worker):
    """Faust empties its channel queues on every resume, even without a stop before it
    (its recovery resumes twice on a first start); a record emptied away would be lost
    (read, and later offsets acked) -- a plan step or a command fetched at start-up so."""
    app = worker.app
    kept, plain = BatchChannel(app, maxsize=1), app.channel(maxsize=1)
    plan_steps = app.topic("membership-plans")
    for queue in (kept.queue, plain.queue, plan_steps.queue):
        await queue.put("fetched")
    app.flow_control.resume()
    assert plain.queue.qsize() == 0  # what Faust's own channel does
    assert kept.queue.qsize() == 1
    assert plan_steps.queue.qsize() == 1


@pytest.mark.asyncio
async def test_the_consumer_fetches_for_the_members_agent_only_once_it_has_finished_its_batch(worker, monkeypatch):
    """A batch fetched ahead would wait in the queue for the one in process; the
    consumer waits for the agent instead (bounded, so nothing can stall it for good)."""
    monkeypatch.setattr("agents.kafka.consumer.IDLE_WAIT_SECONDS", 0.2)
    publisher = FakePublisher()
    channel = members_channel(worker.app)
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        consumer = agent.app.consumer
        await asyncio.wait_for(consumer._agents_idle(), 0.05)  # idle: fetch at once
        channel.idle.clear()  # what the consumer does as it hands a batch over
        started = asyncio.get_running_loop().time()
        await consumer._agents_idle()  # nothing processed: gives up waiting after the bound
        assert asyncio.get_running_loop().time() - started >= 0.19
        monkeypatch.setattr("agents.kafka.consumer.IDLE_WAIT_SECONDS", 3600)  # only the agent can release it now
        waiting = asyncio.ensure_future(consumer._agents_idle())
        await agent.put(fetched(agent.app, order("i1", "m1", "10.00"), source="orders"))
        await asyncio.wait_for(waiting, WAIT_SECONDS)  # released by the agent finishing its batch
    assert channel.idle.is_set()
    assert len(changelog(publisher)) == 1


class FlakyPublisher(FakePublisher):
    """The broker refuses the first ``failures`` publishes, then comes back; ``failed``
    is set once a publish has been refused."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__()
        self.failures = failures
        self.failed = asyncio.Event()

    async def publish(self, messages) -> dict:
        if self.failures:
            self.failures -= 1
            self.failed.set()
            raise ConnectionError("broker away")
        return await super().publish(messages)


@pytest.mark.asyncio
async def test_a_batch_that_fails_to_publish_is_tried_again_until_it_is_stored(worker, monkeypatch):
    monkeypatch.setattr("agents.members.RETRY_FIRST_SECONDS", 0.01)
    publisher = FlakyPublisher()
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        batch = await put(agent, order("f1", "m1", "230.00"), "orders")
    assert publisher.failures == 0 and worker.metrics.batch_retries._value.get() == 1
    assert [t for t, *_ in publisher.sent].count("tier-changes") == 1
    state = decode(worker.members.data[state_key("default", "m1")])
    assert state.tier == "SILVER"
    assert all(message.acked for message in batch.messages)


@pytest.mark.asyncio
async def test_a_failing_batch_that_a_rebalance_makes_stale_is_given_up_unread_and_untracked(worker, monkeypatch):
    monkeypatch.setattr("agents.members.RETRY_FIRST_SECONDS", 0.01)
    publisher = FlakyPublisher(failures=10**6)  # the broker stays away
    channel = members_channel(worker.app)
    async with worker.members_agent.test_context() as agent:
        worker.processor.publisher = publisher
        unread = record_unread(agent, monkeypatch)
        batch = fetched(agent.app, order("r1", "m1", "230.00"), source="orders")
        channel.idle.clear()
        await agent.put(batch)
        await asyncio.wait_for(publisher.failed.wait(), WAIT_SECONDS)
        assert set(batch.messages) <= agent.app.consumer._unacked_messages  # in process, being retried
        assert not channel.idle.is_set()
        agent.app.consumer_generation_id += 1  # a rebalance
        await asyncio.wait_for(channel.idle.wait(), WAIT_SECONDS)  # the agent gave the batch up
        assert not any(message in agent.app.consumer._unacked_messages for message in batch.messages)
    assert unread == batch.messages
    assert publisher.sent == []
    assert not any(message.acked for message in batch.messages)
    assert state_key("default", "m1") not in worker.members.data


def test_unread_goes_back_to_the_lowest_offset_of_each_partition():
    def at(partition: int, offset: int) -> Message:
        return Message("orders", partition, offset, 0.0, 0, [], b"m", b"{}", None, tp=TP("orders", partition))

    assert first_offsets([at(0, 7), at(1, 3), at(0, 5), at(1, 4)]) == {TP("orders", 0): 5, TP("orders", 1): 3}
