"""Send a batch's outputs as whole Kafka batches, one per topic partition.

Going through aiokafka's batch API instead of one ``send()`` per message is
what keeps output cost small next to Faust's per-event cost.  Partitions are
chosen like Kafka's default partitioner (murmur2 of the key), so consumers see
each member's outputs in order on one partition.

Batches are built up to ``batch_bytes`` (not the producer's 16 KiB default)
and closed before they are queued: aiokafka lets an open batch linger for
``linger_ms``, and queues a partition's next batch only once the previous one
is drained, so small lingering batches turned one publish of a few hundred
states into tens of serial round trips.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Protocol

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from agents.kafka.routing import partition_for

#: under Kafka's default 1 MiB ``message.max.bytes``, with room for the batch header
DEFAULT_BATCH_BYTES = 900 * 1024


Message = tuple[str, bytes, bytes | None, list | None, int | None]  # topic, key, value, headers, partition or None


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Message]) -> dict[str, dict[int, int]]: ...


class BatchPublisher:
    """Publishes through the aiokafka producer ``producer()`` returns (asked when first
    needed: a Faust app's producer exists only once the app has started)."""

    def __init__(self, producer: Callable[[], AIOKafkaProducer], batch_bytes: int = DEFAULT_BATCH_BYTES) -> None:
        self._producer = producer
        self.batch_bytes = batch_bytes
        self._partitions: dict[str, int] = {}

    @classmethod
    def of_app(cls, app: faust.App) -> BatchPublisher:
        return cls(lambda: app.producer._ensure_producer())

    @cached_property
    def producer(self) -> AIOKafkaProducer:
        return self._producer()

    def _new_batch(self) -> BatchBuilder:
        # the accumulator holds the compression as the codec attribute BatchBuilder wants
        return BatchBuilder(self.batch_bytes, self.producer._message_accumulator._compression_type)

    async def partitions(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def _send(self, batch: BatchBuilder, topic: str, partition: int) -> asyncio.Future:
        batch.close()  # ready at once: no linger
        return await self.producer.send_batch(batch, topic, partition=partition)

    async def publish(self, messages: Sequence[Message]) -> dict[str, dict[int, int]]:
        """(topic, key, value, headers, partition or None) in order; returns when the broker
        acked all, with the last offset written per topic and partition."""
        grouped: dict[tuple[str, int], list[tuple[bytes, bytes, list | None]]] = defaultdict(list)
        for topic, key, value, headers, explicit in messages:
            partition = explicit if explicit is not None else partition_for(key.decode(), await self.partitions(topic))
            grouped[(topic, partition)].append((key, value, headers))
        pending = []
        for (topic, partition), items in grouped.items():
            batch = self._new_batch()
            count = 0
            for key, value, headers in items:
                while batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                    pending.append((topic, partition, count, await self._send(batch, topic, partition)))
                    batch, count = self._new_batch(), 0
                count += 1
            pending.append((topic, partition, count, await self._send(batch, topic, partition)))
        last: dict[str, dict[int, int]] = defaultdict(dict)
        # wait for every batch even when one fails, so none is left with an unretrieved error
        results = await asyncio.gather(*(fut for *_, fut in pending), return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        for (topic, partition, count, _), meta in zip(pending, results, strict=True):
            if count and meta is not None and meta.offset is not None:
                end = meta.offset + count - 1
                last[topic][partition] = max(last[topic].get(partition, -1), end)
        return last
