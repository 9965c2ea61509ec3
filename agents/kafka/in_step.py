"""Member topics of one partition read in step, by record timestamp.

A fetch brings what the broker had ready, often of one topic partition only.
While a worker catches up a backlog, one member topic can run days of event
time ahead of another, and every event of the lagging topic would reach its
member after later ones: each a late event the engine must put in its place by
replaying the events after it (``engine.event_time``).  So fetched records of
the member topics wait here, per topic partition, and go out in step: no
record later (by its Kafka timestamp) than where another member topic of the
same partition is known to stand while that one has more to read.

Where a topic stands: the timestamp of its last record waiting (its next ones
are not earlier, for a producer that publishes in time order), else of the last
one handed over; a topic with nothing left to read holds nothing back, nor does
one that has brought nothing for ``idle_s`` though the broker said it had more;
beyond ``max_waiting`` records waiting, everything goes out.  At most a batch
goes out at a time, earliest first.  Kafka Streams synchronises the partitions
of a task the same way (``max.task.idle.ms``).  A live worker is rarely held:
a topic it has read to the end holds nothing back.  Producers should stamp records with when the event
happened, or publish in that order: the engine stays exact either way, only
slower when events arrive out of order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from faust.types import TP

#: a topic partition with more to read that brought nothing for this long no longer holds the others
#: back (a stale end offset must not stop a partition for good)
IDLE_SECONDS = 10.0
#: records waiting at most (all partitions); beyond, everything goes out
MAX_WAITING = 100_000


def _run(tp: TP, records: list[Any], bound: float) -> Iterator[tuple[int, int, TP]]:
    """A topic partition's waiting records up to ``bound`` (each topic partition's are in timestamp order)."""
    for i, record in enumerate(records):
        if record.timestamp > bound:
            return
        yield record.timestamp, i, tp


def _order(item: tuple[int, int, TP]) -> tuple[int, int]:
    return item[0], item[1]


class InStep:
    """Fetched records of the member topics, waiting per topic partition until they may go out."""

    def __init__(self, batch: int, idle_s: float = IDLE_SECONDS, max_waiting: int = MAX_WAITING) -> None:
        self.batch = batch
        self.idle_s = idle_s
        self.max_waiting = max_waiting
        self.waiting: dict[TP, list[Any]] = {}
        self.handed: dict[TP, int] = {}  # timestamp of the last record handed over
        self.seen: dict[TP, float] = {}  # when the topic partition last brought records (or was assigned)
        #: the last release left records that could have gone out: the next must not wait for a fetch
        self.more_ready = False

    def assigned(self, tps: Iterable[TP], now: float) -> None:
        for tp in tps:
            self.seen[tp] = now

    def add(self, tp: TP, records: list[Any], now: float) -> None:
        self.waiting.setdefault(tp, []).extend(records)
        self.seen[tp] = now

    def release(self, groups: Mapping[int, list[TP]], more_to_read: Callable[[TP, int | None], bool],
                now: float) -> dict[TP, list[Any]]:
        """The records that may go out now (at most ``batch``, earliest first), per topic
        partition (each a prefix of what waits).  ``groups``: partition -> its member topic
        partitions; ``more_to_read(tp, last_offset)`` says whether the broker has records of
        ``tp`` after the last one fetched."""
        flood = sum(len(w) for w in self.waiting.values()) > self.max_waiting
        runs = []  # per topic partition, its records that may go out: (timestamp, position, topic partition)
        for group in groups.values():
            if not any(self.waiting.get(tp) for tp in group):
                continue
            bound = math.inf if flood else min((self._stands_at(tp, more_to_read, now) for tp in group),
                                               default=math.inf)
            for tp in group:
                if self.waiting.get(tp):
                    runs.append(_run(tp, self.waiting[tp], bound))
        taken: dict[TP, int] = {}
        count = 0
        for _, _, tp in heapq.merge(*runs, key=_order):
            if count == self.batch:
                self.more_ready = True
                break
            taken[tp] = taken.get(tp, 0) + 1
            count += 1
        else:
            self.more_ready = False
        out: dict[TP, list[Any]] = {}
        for tp, number in taken.items():
            waiting = self.waiting[tp]
            out[tp], self.waiting[tp] = waiting[:number], waiting[number:]
            self.handed[tp] = max(self.handed.get(tp, -1), waiting[number - 1].timestamp)
        return out

    @property
    def count(self) -> int:
        return sum(len(w) for w in self.waiting.values())

    def _stands_at(self, tp: TP, more_to_read: Callable[[TP, int | None], bool], now: float) -> float:
        waiting = self.waiting.get(tp)
        if not more_to_read(tp, waiting[-1].offset if waiting else None):
            return math.inf
        if waiting:
            return waiting[-1].timestamp
        if now - self.seen.get(tp, -math.inf) > self.idle_s:
            return math.inf
        return self.handed.get(tp, -1)

    def drop(self, tps: Iterable[TP] | None = None) -> dict[TP, int]:
        """Forget what waits (of ``tps``, or all): the offset each topic partition must be read from again."""
        dropped = {}
        for tp in list(self.waiting) if tps is None else tps:
            waiting = self.waiting.pop(tp, None)
            if waiting:
                dropped[tp] = waiting[0].offset
            if tps is not None:
                self.handed.pop(tp, None)
                self.seen.pop(tp, None)
        return dropped
