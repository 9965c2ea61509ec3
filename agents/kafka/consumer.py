"""Faust's consumer, handing each fetch of the member topics to an agent as one batch.

Faust delivers every message through its per-event path (conductor callback,
``wait_first`` with three futures, a queue, the stream, the event, its ack);
on this machine that path alone costs ~170 µs per event, more than the engine
itself (README, "Figures").  For the topics mapped to a batch channel
(``app.batch_channels``) this consumer keeps everything Faust does around a
message (consumer group and assignor, co-partitioned tables and their
recovery, read offsets, gaps, acks and commits, flow control on rebalance)
and replaces only the delivery: a fetch's messages of those topics go to the
channel as one ``FetchedBatch``, and the agent reading the channel tracks and
acks them (``track``/``ack``) as a Faust stream would.  Other topics take
Faust's normal per-event path.

Rebalances behave like Faust's own streams: the revocation stops the flow,
waits for the batch in process to be acked (``stream_wait_empty``) and
commits; a batch of an older generation is skipped by the agent and unread,
and a batch still waiting for room on the channel is given up and unread.

No fetched record may be dropped quietly: Faust commits the first run of
consecutive acked offsets wherever it starts, so a record skipped while later
ones are acked is committed over and lost.  Whatever is fetched but not
processed is therefore *unread* (its partition sought back to it): records of
a partition paused meanwhile, a fetch met by a stopped flow, a batch the agent
finds stale.  (Faust seeks back to the committed offsets instead, which
leaves a partition never committed where it is.)  Seeks only ever go back.

Table recovery reads a changelog partition up to its end offset, which Tansu
reports wrongly (first offset of the last batch + 1, so all but the first
record of the last batch would be lost).  ``highwaters`` therefore learns the
end of a changelog partition by appending one record to it: a tombstone for a
key no table holds, whose offset the broker acknowledges exactly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.protocol.group import LeaveGroupRequest
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message

from agents.kafka.in_step import InStep

log = logging.getLogger(__name__)

#: Key of the tombstone ``highwaters`` appends to a changelog (no table key starts with NUL).
END_MARKER_KEY = b"\x00memberflow:end-of-changelog"


@dataclass(slots=True)
class FetchedBatch:
    """One fetch's messages of a batch channel's topics, as the broker returned them."""

    messages: list[Message]
    generation: int


def kept_queue(channel: Any) -> Any:
    """A channel's queue that the flow resuming does not empty.

    Faust empties channel queues whenever the flow resumes -- even when it was not
    stopped: its recovery resumes twice on a first start -- and what is emptied away
    is lost: its records were read, and Faust commits over them once later ones are
    acked.  (A group agent's records fetched between the two resumes vanished so.)
    What a rebalance made stale is still processed once more, which every agent
    tolerates: it is at-least-once, with deterministic ids."""
    if channel._queue is None:
        maxsize = channel.maxsize if channel.maxsize is not None else channel.app.conf.stream_buffer_maxsize
        channel._queue = channel.app.FlowControlQueue(maxsize=maxsize, clear_on_resume=False)
    return channel._queue


class KeptTopic(faust.Topic):
    """The app's topics (its ``Topic`` setting): their queues keep what they hold (``kept_queue``)."""

    @property
    def queue(self) -> Any:
        return kept_queue(self)


class BatchChannel(faust.Channel):
    """The channel fetches reach the agent by.  Its queue keeps what it holds
    (``kept_queue``); the agent itself skips (and unreads) a batch a rebalance made stale.

    ``idle`` is set while the agent has no batch, and the consumer fetches for this
    channel only then (or after ``IDLE_WAIT_SECONDS``): a batch fetched ahead would
    wait a whole batch's time in the queue while newer records waited behind it, so
    an event's latency was about three batch times; fetched when the agent is ready,
    a batch holds everything received so far and is processed at once.  aiokafka
    keeps fetching into its own buffer meanwhile, so little throughput is lost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def queue(self) -> Any:
        return kept_queue(self)


#: longest the consumer waits for an agent to finish its batch before fetching anyway
#: (a bound, so that a batch lost to a rebalance can never stall fetching for good)
IDLE_WAIT_SECONDS = 1.0


def track(app: Any, messages: list[Message]) -> None:
    """Mark messages in process: a rebalance waits for them to be acked (``stream_wait_empty``)."""
    app.consumer._unacked_messages.update(messages)


def untrack(app: Any, messages: list[Message]) -> None:
    """No longer in process, and not acked: a batch given up to be fetched again.  Left
    tracked, it would hold the next rebalance until Faust's wait for acks timed out."""
    app.consumer._unacked_messages.difference_update(messages)


def ack(app: Any, messages: list[Message]) -> None:
    """Ack like a Faust stream does; the commit then advances over them."""
    consumer_ack = app.consumer.ack
    for message in messages:
        consumer_ack(message)


def first_offsets(messages: list[Message]) -> dict[TP, int]:
    """The lowest offset of each partition among the messages."""
    first: dict[TP, int] = {}
    for message in messages:
        first[message.tp] = min(first.get(message.tp, message.offset), message.offset)
    return first


def changelog_topics(app: Any) -> set[str]:
    return {table.changelog_topic.get_topic_name() for table in app.tables.values()}


async def _leave_group(coordinator: Any) -> None:
    """aiokafka's leave on close, for a static member too.  A static member (``group.instance.id``)
    keeps its place when it crashes, so a restart gets its partitions back at once; one that stops
    cleanly must leave, or the group would wait for it before handing its partitions on."""
    if coordinator.member_id:  # not the generation: Tansu numbers its first generation 0
        try:
            await coordinator._send_req(LeaveGroupRequest(coordinator.group_id, coordinator.member_id))
        except KafkaError as err:
            log.warning("leaving the consumer group failed: %r", err)
    coordinator.reset_generation()


class ConsumerThread(driver.AIOKafkaConsumerThread):
    async def on_start(self) -> None:
        await super().on_start()
        coordinator = getattr(self._consumer, "_coordinator", None)
        if coordinator is not None and coordinator._group_instance_id is not None:
            coordinator._maybe_leave_group = partial(_leave_group, coordinator)

    def answered_ago(self, tp: TP) -> float | None:
        """Seconds since the broker last answered a fetch of ``tp`` with or without records (None: not yet)."""
        try:
            answered_ms = self._ensure_consumer().last_poll_timestamp(tp)
        except (AssertionError, AttributeError, IllegalStateError):  # not assigned now: a rebalance is under way
            return None
        return None if answered_ms is None else time.time() - answered_ms / 1000

    def pending(self, tp: TP) -> bool:
        """Whether records of ``tp`` fetched from the broker wait in aiokafka to be handed out."""
        return tp in self._ensure_consumer()._fetcher._records

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust fixes 1.5 s.  Kafka answers a fetch as soon as data arrives whatever this is;
        # Tansu does not (a consumer saw new records a median 124 ms late with 500 ms, 9 ms with 10).
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        log.info("consumer fetches wait at most %d ms for data", consumer._fetch_max_wait_ms)
        return consumer


class BatchingConsumer(driver.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: fetched records of the member topics, handed over in step (``agents.kafka.in_step``)
        self._in_step = InStep(self.app.conf.broker_max_poll_records or 500)
        #: topic partitions not fetched while their records wait in step (``InStep.held``)
        self._held: set[TP] = set()

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Records waiting to go out in step are read again: the revoked ones by their new
        owner (from the committed offsets), the others by this worker once the rebalance is over."""
        dropped = self._in_step.drop()
        self._in_step.drop(revoked)
        self._held.clear()  # Faust resumes every stream partition once the rebalance is over
        await self._unread({tp: offset for tp, offset in dropped.items() if tp not in revoked})
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._in_step.assigned(assigned, time.monotonic())
        await super().on_partitions_assigned(assigned, generation_id)

    def more_to_read(self, tp: TP, last_fetched: int | None) -> bool:
        """Whether the broker has records of ``tp`` after ``last_fetched`` (``in_step.Fetches``)."""
        last = last_fetched if last_fetched is not None else self._read_offset.get(tp)
        end = self.highwater(tp)
        return end is None or (last if last is not None else -1) + 1 < end

    def answered_ago(self, tp: TP) -> float | None:
        """Seconds since the broker last answered a fetch of ``tp`` (``in_step.Fetches``)."""
        return self._thread.answered_ago(tp)

    def pending(self, tp: TP) -> bool:
        """Whether records of ``tp`` the broker sent wait in aiokafka (``in_step.Fetches``)."""
        return self._thread.pending(tp)

    def _released(self, channels: Mapping[str, Any], now: float) -> dict[TP, list[Any]]:
        groups: dict[int, list[TP]] = {}
        for tp in self.assignment():
            if tp.topic in channels:
                groups.setdefault(tp.partition, []).append(tp)
        return self._in_step.release(groups, self, now)

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """End offsets; a table changelog's is the offset of a tombstone appended now + 1.

        Recovery trusts this bound to know it has read everything the previous owner
        wrote, and the broker's ListOffsets may understate it (Tansu: by all but one
        record of the last batch).  The previous owner's last write is acknowledged
        before the rebalance hands the partition over, so it lies below the marker.
        """
        ends = dict(await super().highwaters(*partitions))
        changelogs = changelog_topics(self.app)
        marked = [tp for tp in partitions if tp.topic in changelogs]
        producer = self.app.producer
        acked = await asyncio.gather(*(
            producer.send_and_wait(tp.topic, END_MARKER_KEY, None, tp.partition, None, None) for tp in marked))
        for tp, metadata in zip(marked, acked, strict=True):
            ends[tp] = max(ends.get(tp) or 0, metadata.offset + 1)
        return ends

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised through Kafka
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                await self._agents_idle()
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(0.0 if self._in_step.more_ready else 1.0)
                await self.sleep(0)
                if (records or self._in_step.waiting) and not self.should_stop:
                    if self.flow_active:
                        await self._deliver(records, active)
                    else:
                        unread = {tp: r[0].offset for tp, r in records.items() if r}
                        await self._unread({**self._in_step.drop(), **unread})
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _agents_idle(self) -> None:
        """Wait (bounded) until every batch channel's agent has finished its batch."""
        for channel in {id(c): c for c in self.app.batch_channels.values()}.values():
            if not channel.idle.is_set():
                try:
                    await asyncio.wait_for(channel.idle.wait(), IDLE_WAIT_SECONDS)
                except TimeoutError:
                    pass

    async def _deliver(self, records: dict[TP, list[Any]], active: set[TP] | None) -> None:
        """One fetch: Faust's bookkeeping per message, then one batch per channel.

        Whatever of the fetch is not handed over (a partition paused meanwhile, a
        rebalance beginning) is un-read: its partition is sought back to the first
        record not handed over.  Dropping it instead would let the next fetch jump
        ahead, and Faust counts such a jump as a gap it may commit over."""
        app = self.app
        generation = app.consumer_generation_id
        acks_enabled_for = app.topics.acks_enabled_for
        read_offset = self._read_offset
        channels = app.batch_channels
        batches: dict[Any, list[Message]] = {}
        unread: dict[TP, int] = {}
        now = time.monotonic()
        handed: dict[TP, list[Any]] = {}
        for tp, tp_records in records.items():
            if not tp_records:
                continue
            if (not self.flow_active or not app.flow_control.is_active()
                    or app.consumer_generation_id != generation
                    or active is not None and tp not in active and tp not in self._buffered_partitions):
                unread[tp] = tp_records[0].offset
            elif tp.topic in channels:
                self._in_step.add(tp, tp_records, now)
            else:
                handed[tp] = tp_records
        if self.flow_active and app.flow_control.is_active() and app.consumer_generation_id == generation:
            handed.update(self._released(channels, now))
            self._hold()
        else:
            unread.update(self._in_step.drop())
        for tp, tp_records in handed.items():
            app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            channel = channels.get(tp.topic)
            for record in tp_records:
                message = self._to_message(tp, record)
                offset = message.offset
                r_offset = read_offset[tp]
                if r_offset is not None and offset < r_offset:
                    continue  # already read (Faust drops these too)
                if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                if channel is None:
                    await self.wait_first(self.callback(message), self.suspend_flow.wait())
                else:
                    message.time_in = now
                    batches.setdefault(channel, []).append(message)
                read_offset[tp] = offset
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        offered = True
        for channel, messages in batches.items():
            channel.idle.clear()  # set again once the agent is done with it (or it is given up)
            offered = offered and await self._offer(channel, FetchedBatch(messages, generation))
            if not offered:
                unread.update(first_offsets(messages))  # a partition's records go to one channel only
                channel.idle.set()
        if unread:
            await self._unread(unread)

    def _hold(self) -> None:
        """Fetch no more of a topic partition while ``FULL_AT`` records of it wait in step
        (``InStep.held``), and fetch it again once fewer wait.  (Faust's pause: a fetch of it
        already made stays with aiokafka, which asks the broker for the others.)"""
        held = {TP(tp.topic, tp.partition) for tp in self._in_step.held()}  # Faust's own kind of TP
        if held != self._held:
            assigned = self.assignment()
            self.resume_partitions({tp for tp in self._held - held if tp in assigned})
            self.pause_partitions(held - self._held)
            self._held = held

    async def unread(self, messages: list[Message]) -> None:
        """Fetch these messages again (a batch handed over but not processed)."""
        await self._unread(first_offsets(messages))

    async def _unread(self, positions: dict[TP, int]) -> None:
        """Seek partitions back so these records are fetched again -- only ever back: a
        rebalance may have sought a partition to its committed offset meanwhile, and
        seeking forward from there would skip records.  A partition a rebalance took
        away is the new owner's business (aiokafka raises)."""
        for tp, offset in positions.items():
            try:
                position = await self.position(tp)
                if position is None or offset < position:
                    await self.seek(tp, offset)
            except Exception as exc:
                log.info("not re-reading %s from %d: %r", tp, offset, exc)

    async def _offer(self, channel: Any, batch: FetchedBatch) -> bool:
        """Put the batch on the channel, waiting while it is full (back-pressure), but
        give up when a rebalance begins: the batch is then fetched again.  (A rebalance
        clears the channels without waking a blocked ``put``, so waiting on it alone
        could wait forever.)"""
        put = asyncio.ensure_future(channel.put(batch))
        suspended = asyncio.ensure_future(self.suspend_flow.wait())
        try:
            await asyncio.wait({put, suspended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (put, suspended):
                if not waiter.done():
                    waiter.cancel()
        return put.done() and not put.cancelled()


class BatchingTransport(driver.Transport):
    Consumer = BatchingConsumer
