"""Write a batch's table values the fast way: local store + batched changelog.

Faust's ``table[key] = value`` produces one changelog message per key through
its per-message buffer, which costs more than the engine itself.  Here the
changelog records of a whole batch go out as Kafka batches (one per
partition) and only then are the values put into the local RocksDB store;
the last changelog offset per partition is persisted like Faust does, so
recovery resumes from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TP

from agents.kafka.publisher import Publisher
from tables.current_event import MessageEvent, current

Write = tuple[bytes, bytes | None, MessageEvent]  # key, value (None deletes), message whose partition owns the key


@dataclass(slots=True)
class ChangelogRecord:
    """A changelog record as the store's ``apply_changelog_batch`` reads it
    (RocksDB reads ``.message.*``, the memory store ``.key``/``.value``)."""

    tp: TP
    offset: int
    key: bytes
    value: bytes | None

    @property
    def message(self) -> ChangelogRecord:
        return self

    @property
    def partition(self) -> int:
        return self.tp.partition


def _same(value: object) -> object:
    return value


async def write_values(publisher: Publisher, *tables: tuple[object, list[Write]]) -> None:
    """Store each table's writes: all changelog records in one publish, then the local
    stores, one RocksDB write batch per partition (Faust's own changelog-apply path,
    which also persists the changelog offsets recovery resumes from)."""
    tables = tuple((table, writes) for table, writes in tables if writes)
    if not tables:
        return
    names = [table.changelog_topic.get_topic_name() for table, _ in tables]  # type: ignore[attr-defined]
    offsets = await publisher.publish(
        [(name, key, value, None, owner.message.partition)
         for name, (_, writes) in zip(names, tables, strict=True) for key, value, owner in writes]
    )
    for name, (table, writes) in zip(names, tables, strict=True):
        last = offsets.get(name, {})
        records = [ChangelogRecord(TP(name, p), last[p], key, value)
                   for key, value, owner in writes if (p := owner.message.partition) in last]
        if len(records) != len(writes):
            raise RuntimeError(f"the broker acknowledged no offset for some {name} partitions")
        table.data.apply_changelog_batch(records, _same, _same)  # type: ignore[attr-defined]


class DeferredTable:
    """Stands in for a table while a batch is built: reads see the batch's own
    writes, writes are collected (bound to the current event) for ``write_values``."""

    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.writes: dict[bytes, tuple[bytes | None, MessageEvent]] = {}

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        if key in self.writes:
            value = self.writes[key][0]
            return default if value is None else value
        value = self.table.get(key)
        return default if value is None else value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = (value, current())

    def __delitem__(self, key: bytes) -> None:
        self.writes[key] = (None, current())

    def pending(self) -> list[tuple[bytes, bytes | None, MessageEvent]]:
        return [(key, value, event) for key, (value, event) in self.writes.items()]

