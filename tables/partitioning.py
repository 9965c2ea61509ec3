"""Which partition a member's key lands on: Kafka's default partitioner."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(member_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key ``member_id``."""
    return (murmur2(member_id.encode()) & 0x7FFFFFFF) % partitions
