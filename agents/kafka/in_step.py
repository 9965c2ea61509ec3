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
one handed over.  A topic with nothing left to read holds nothing back, nor
does one the broker has gone on answering for ``idle_s`` without records
though it said it had more (a stale end offset must not stop a partition for
good).  Records the broker sent that the client still holds count as brought:
aiokafka hands out its buffered fetches 500 records at a time, in the order
they arrived, so a lagging topic's may wait there for seconds.  A topic the
broker has not answered yet holds the others back however long its first
fetch takes (up to ``unanswered_s``, for fetches that fail).  Counting such
waits as idleness let the topics handed over first run days ahead whenever a
worker caught up a backlog.

A topic partition with ``full_at`` records waiting is not fetched until fewer
wait (``held``; Kafka Streams' ``buffered.records.per.partition``); beyond
``max_waiting`` records waiting, everything goes out.  At most a batch goes
out at a time, earliest first.  Kafka Streams synchronises the partitions of a
task the same way (``max.task.idle.ms``).  A live worker is rarely held: a
topic it has read to the end holds nothing back.  Producers should stamp
records with when the event happened, or publish in that order: the engine
stays exact either way, only slower when events arrive out of order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from faust.types import TP

#: a topic partition the broker answered for this long without records, though it said it had more,
#: no longer holds the others back (a stale end offset must not stop a partition for good)
IDLE_SECONDS = 10.0
#: a topic partition the broker has not answered at all for this long while records of the others wait
#: no longer holds them back (its fetches fail)
UNANSWERED_SECONDS = 60.0
#: records waiting at most (all partitions); beyond, everything goes out
MAX_WAITING = 100_000
#: records waiting in one topic partition from which it is no longer fetched until fewer wait
FULL_AT = 1_000


def _run(tp: TP, records: list[Any], bound: float) -> Iterator[tuple[int, int, TP]]:
    """A topic partition's waiting records up to ``bound`` (each topic partition's are in timestamp order)."""
    for i, record in enumerate(records):
        if record.timestamp > bound:
            return
        yield record.timestamp, i, tp


def _order(item: tuple[int, int, TP]) -> tuple[int, int]:
    return item[0], item[1]


class Fetches(Protocol):
    """What the consumer knows of a topic partition's fetches."""

    def more_to_read(self, tp: TP, last_fetched: int | None) -> bool:
        """Whether the broker has records of ``tp`` after ``last_fetched`` (None: the last one read)."""

    def answered_ago(self, tp: TP) -> float | None:
        """Seconds since the broker last answered a fetch of ``tp`` (None: not yet)."""

    def pending(self, tp: TP) -> bool:
        """Whether records of ``tp`` the broker sent are still with the client, not yet handed over."""


class InStep:
    """Fetched records of the member topics, waiting per topic partition until they may go out."""

    def __init__(self, batch: int, idle_s: float = IDLE_SECONDS, max_waiting: int = MAX_WAITING,
                 full_at: int = FULL_AT, unanswered_s: float = UNANSWERED_SECONDS) -> None:
        self.batch = batch
        self.full_at = full_at
        self.idle_s = idle_s
        self.unanswered_s = unanswered_s
        self.max_waiting = max_waiting
        self.waiting: dict[TP, list[Any]] = {}
        self.handed: dict[TP, int] = {}  # timestamp of the last record handed over
        self.seen: dict[TP, float] = {}  # when the topic partition last brought records (or was assigned)
        self.silent: dict[TP, float] = {}  # since when the broker has answered it without records
        self.weighed: dict[TP, float] = {}  # when it first counted in where a partition stands (since assigned)
        #: the last release left records that could have gone out: the next must not wait for a fetch
        self.more_ready = False

    def assigned(self, tps: Iterable[TP], now: float) -> None:
        for tp in tps:
            self.seen[tp] = now
            self.silent.pop(tp, None)
            self.weighed.pop(tp, None)

    def add(self, tp: TP, records: list[Any], now: float) -> None:
        self.waiting.setdefault(tp, []).extend(records)
        self.seen[tp] = now
        self.silent.pop(tp, None)

    def release(self, groups: Mapping[int, list[TP]], fetches: Fetches, now: float) -> dict[TP, list[Any]]:
        """The records that may go out now (at most ``batch``, earliest first), per topic
        partition (each a prefix of what waits).  ``groups``: partition -> its member topic
        partitions."""
        flood = sum(len(w) for w in self.waiting.values()) > self.max_waiting
        runs = []  # per topic partition, its records that may go out: (timestamp, position, topic partition)
        for group in groups.values():
            if not any(self.waiting.get(tp) for tp in group):
                continue
            bound = math.inf if flood else min((self._stands_at(tp, fetches, now) for tp in group),
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

    def held(self) -> set[TP]:
        """The topic partitions not to fetch for now: ``full_at`` records of theirs wait."""
        return {tp for tp, waiting in self.waiting.items() if len(waiting) >= self.full_at}

    @property
    def count(self) -> int:
        return sum(len(w) for w in self.waiting.values())

    def _stands_at(self, tp: TP, fetches: Fetches, now: float) -> float:
        waiting = self.waiting.get(tp)
        if not fetches.more_to_read(tp, waiting[-1].offset if waiting else None):
            return math.inf
        if waiting:
            return waiting[-1].timestamp
        if fetches.pending(tp):  # it brought records the client has not handed over yet
            self.silent.pop(tp, None)
            return self.handed.get(tp, -1)
        answered_ago = fetches.answered_ago(tp)
        answered = -math.inf if answered_ago is None else now - answered_ago
        if now - max(answered, self.weighed.setdefault(tp, now)) > self.unanswered_s:
            return math.inf  # not answered at all for that long: its fetches fail
        if answered > self.seen.get(tp, -math.inf) and now - self.silent.setdefault(tp, answered) > self.idle_s:
            return math.inf  # answered without records for idle_s: a stale end offset
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
                self.silent.pop(tp, None)
                self.weighed.pop(tp, None)
        return dropped
