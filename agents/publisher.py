"""Send a batch's outputs as whole Kafka batches, one per topic partition.

Going through aiokafka's batch API instead of one ``send()`` per message is
what keeps output cost small next to Faust's per-event cost.  Partitions are
chosen like Kafka's default partitioner (murmur2 of the key), so consumers see
each member's outputs in order on one partition.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from agents.routing import partition_for


class BatchPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._partitions: dict[str, int] = {}

    async def partitions(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def publish(self, messages: Sequence[tuple[str, bytes, bytes, list | None]]) -> None:
        """(topic, key, value, headers) in order; returns when the broker acked all."""
        grouped: dict[tuple[str, int], list[tuple[bytes, bytes, list | None]]] = defaultdict(list)
        for topic, key, value, headers in messages:
            partition = partition_for(key.decode(), await self.partitions(topic))
            grouped[(topic, partition)].append((key, value, headers))
        pending = []
        for (topic, partition), items in grouped.items():
            batch = self.producer.create_batch()
            for key, value, headers in items:
                while batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                    pending.append(await self.producer.send_batch(batch, topic, partition=partition))
                    batch = self.producer.create_batch()
            pending.append(await self.producer.send_batch(batch, topic, partition=partition))
        if pending:
            await asyncio.gather(*pending)
