"""Where a plain aiokafka consumer (outside Faust's group) reads: every partition of some
topics, and whether it has read them to given end offsets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str],
                        retry_s: float = 1.0) -> list[TopicPartition]:
    """Every partition of ``topics``, once the broker knows them all (waiting for it)."""
    names = list(topics)
    while True:
        await consumer.topics()  # refreshes the metadata
        found = {name: consumer.partitions_for_topic(name) for name in names}
        missing = [name for name, parts in found.items() if not parts]
        if not missing:
            return [TopicPartition(name, p) for name, parts in found.items() for p in sorted(parts)]
        log.warning("topics not found yet: %s", ", ".join(missing))
        await asyncio.sleep(retry_s)


async def reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether the consumer's position is at or past ``ends`` in every partition."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
