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
clears the channels, waits for the batch in process to be acked
(``stream_wait_empty``) and commits; a batch of an older generation is
skipped by the agent and fetched again from the committed offsets, and a
batch still waiting for room on the channel is given up the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FetchedBatch:
    """One fetch's messages of a batch channel's topics, as the broker returned them."""

    messages: list[Message]
    generation: int


def track(app: Any, messages: list[Message]) -> None:
    """Mark messages in process: a rebalance waits for them to be acked (``stream_wait_empty``)."""
    app.consumer._unacked_messages.update(messages)


def ack(app: Any, messages: list[Message]) -> None:
    """Ack like a Faust stream does; the commit then advances over them."""
    consumer_ack = app.consumer.ack
    for message in messages:
        consumer_ack(message)


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust fixes 1.5 s.  Kafka answers a fetch as soon as data arrives whatever this is;
        # Tansu does not (a consumer saw new records a median 124 ms late with 500 ms, 9 ms with 10).
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        log.info("consumer fetches wait at most %d ms for data", consumer._fetch_max_wait_ms)
        return consumer


class BatchingConsumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised through Kafka
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records and not self.should_stop:
                    if self.flow_active:
                        await self._deliver(records, active)
                    else:
                        await self._seek_back()
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

    async def _seek_back(self) -> None:
        """Records fetched while the flow is stopped: seek back to the committed offsets,
        as Faust does.  A rebalance may have moved a partition meanwhile (aiokafka raises
        IllegalStateError); the assignment's own seek covers it, so that is not fatal --
        letting it escape crashed the fetcher and stopped the worker."""
        try:
            await self.perform_seek()
        except Exception as exc:
            log.warning("seek back to committed offsets failed (%r); the new assignment seeks", exc)

    async def _deliver(self, records: dict[TP, list[Any]], active: set[TP] | None) -> None:
        """One fetch: Faust's bookkeeping per message, then one batch per channel."""
        app = self.app
        generation = app.consumer_generation_id
        acks_enabled_for = app.topics.acks_enabled_for
        read_offset = self._read_offset
        channels = app.batch_channels
        batches: dict[Any, list[Message]] = {}
        now = time.monotonic()
        for tp, tp_records in records.items():
            if not self.flow_active or app.consumer_generation_id != generation:
                return
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
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
        for channel, messages in batches.items():
            if not await self._offer(channel, FetchedBatch(messages, generation)):
                return

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
