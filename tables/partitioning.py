"""Which partition a member's key lands on: Kafka's default partitioner."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)  # murmur2 is pure Python; members recur within and across batches
def partition_for(member_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key ``member_id``."""
    return (murmur2(member_id.encode()) & 0x7FFFFFFF) % partitions
