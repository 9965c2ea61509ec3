"""What the batches of one consumer generation stored lately, kept so later batches need not read it again."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class RecentWrites(Generic[K, V]):
    """At most ``size`` values, least recently stored dropped first.  Only what a
    batch has stored belongs here (a failed batch leaves nothing), and all of it
    is forgotten when the consumer generation changes: the partitions may have
    moved, and another worker may have written them meanwhile."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stored: OrderedDict[K, V] = OrderedDict()
        self.generation: int | None = None

    def check(self, generation: int) -> None:
        if generation != self.generation:
            self.stored.clear()
            self.generation = generation

    def keep(self, items: Iterable[tuple[K, V]]) -> None:
        if not self.size:
            return
        for key, value in items:
            self.stored.pop(key, None)
            self.stored[key] = value
        while len(self.stored) > self.size:
            self.stored.popitem(last=False)
