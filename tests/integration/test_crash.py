"""SIGKILL the worker in the middle of a stream; the restarted worker must end
exactly where an uninterrupted run ends: same final states, same output ids.
Workers joining and leaving mid-stream must leave no event behind either, and
neither must the broker becoming unreachable for a while."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from datetime import datetime

from config.rules import RuleBook
from engine.views import member_summary
from memberflow.dev.broker import free_port
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.tools.replay import MemoryStore
from tables.members import state_key
from tests.integration.fixtures import (
    OUTPUTS,
    consumed_total,
    effective,
    metric,
    mixed_events,
    replayed,
    wait_until,
)
from tests.integration.proxy import CuttableProxy

AS_OF = "2026-04-01T00:00:00+08:00"
COMPARED = ("tier", "status", "growth", "spend_30d", "spend_365d", "points")


def test_sigkill_mid_stream_then_restart_matches_an_uninterrupted_run(cluster, stream_rules):
    """Every topic produced at once, as fast as the producer can, the worker killed in the
    middle: once restarted it ends with the outputs in force and the states of the offline
    replay, which reads the events in time order."""
    events = mixed_events(6000, members=300, seed=23, order_sensitive=False)
    rules = RuleBook.load(stream_rules)
    store = MemoryStore()
    expected = effective(replayed(events, rules, store))
    assert len(expected) > 6000

    worker = cluster.add_worker("crashy")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= 2000, timeout=120, interval=0.05)
    worker.kill()
    killed_after = len(effective(v for _, v in cluster.consume(OUTPUTS, idle=0.5)))
    assert 0 < killed_after < len(expected), "the kill must land mid-stream"

    cluster.restart(worker)
    in_force = until_in_force(cluster, expected, timeout=240)
    assert in_force == expected

    as_of = datetime.fromisoformat(AS_OF)
    members = sorted({k for _, k, _ in events})
    for member in members:
        want = member_summary(store.states[state_key("default", member)], rules.default, as_of)
        status, got = worker.get_json(f"/members/{member}?as_of=2026-04-01T00:00:00%2B08:00")
        assert status == 200, member
        assert {k: got[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, member


def until_in_force(cluster: LocalCluster, expected: dict[str, dict], timeout: float) -> dict[str, dict]:
    """The outputs in force on the topics (``fixtures.effective``: the last published under each
    id, retracted ones left out) once they are ``expected``, or as they are at ``timeout``.
    A batch processed again after a crash may publish an output again under its id with
    another value (it may find a late event's place sooner than the first attempt did):
    consumers take the last one published under an id."""
    got: dict[str, dict] = {}

    def arrived() -> bool:
        got.clear()
        got.update(effective(v for _, v in cluster.consume(OUTPUTS, idle=0.5)))
        return got == expected

    try:
        wait_until(arrived, timeout=timeout, interval=1.0)
    except AssertionError:
        pass  # not there in time: the caller compares, naming what differs
    return got


class Progress:
    """Events the workers have consumed so far, by their metrics (duplicates and
    redeliveries included); a worker that cannot be asked counts as when last asked."""

    def __init__(self, *workers: WorkerProcess) -> None:
        self.workers = list(workers)
        self.last: dict[str, float] = {}

    def consumed(self) -> float:
        for worker in list(self.workers):
            try:
                self.last[worker.name] = consumed_total(worker)
            except (OSError, http.client.HTTPException):
                pass  # starting or stopping
        return sum(self.last.values())


class PacedFeed(threading.Thread):
    """Produces ``events`` while keeping the workers busy but never far behind: the next
    chunk goes out once at most ``window`` events sent are unconsumed.  Until ``released``
    a chunk carries a few new events and, to fill it, events sent before again --
    duplicates, which the engine drops without an output -- so the stream's events are
    spread over however long the test's rebalances take and every batch in flight
    holds new ones; the events from ``hold_from`` on wait for ``released``."""

    CHUNK = 50
    FRESH = 2  # new events per chunk until released: 4,000 last through 100,000 events sent (a slow join needs them)

    def __init__(self, cluster: LocalCluster, events: list, progress: Progress, *, hold_from: int,
                 window: int = 300) -> None:
        super().__init__(daemon=True)
        self.cluster, self.events, self.progress = cluster, events, progress
        self.hold_from, self.window = hold_from, window
        self.released = threading.Event()
        self.sent = 0
        self.fresh = 0
        self.duplicates = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.cluster.produce(self._paced())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def _room(self) -> None:
        wait_until(lambda: self.released.is_set() or self.sent - self.progress.consumed() <= self.window,
                   timeout=120, interval=0.05)

    def _send(self, events) -> Iterator:
        for event in events:
            self.sent += 1
            yield event

    def _paced(self) -> Iterator:
        again = 0
        while True:
            self._room()
            if self.released.is_set():
                break
            new = self.events[self.fresh:min(self.fresh + self.FRESH, self.hold_from)]
            self.fresh += len(new)
            yield from self._send(new)
            filler = [self.events[(again + i) % self.fresh] for i in range(self.CHUNK - len(new))]
            again = (again + len(filler)) % self.fresh
            self.duplicates += len(filler)
            yield from self._send(filler)
        yield from self._send(self.events[self.fresh:])


def test_workers_joining_and_leaving_mid_stream_leave_no_event_behind(tmp_path, stream_rules):
    """Two rebalances with batches in flight: every output of the stream still
    arrives (no batch stuck until some later rebalance), each id once per value."""
    events = mixed_events(6000, members=300, seed=29, order_sensitive=False)
    expected = effective(replayed(events, RuleBook.load(stream_rules)))
    with LocalCluster(tmp_path / "cluster", partitions=4,
                      extra_env={"MEMBERFLOW_RULES_DIR": str(stream_rules)}) as cluster:  # starts its own broker
        first = cluster.add_worker("first")
        progress = Progress(first)
        feed = PacedFeed(cluster, events, progress, hold_from=4000)
        feed.start()  # the last 2,000 events wait until both rebalances are over
        wait_until(lambda: consumed_total(first) >= 1000, timeout=120, interval=0.05)
        second = cluster.add_worker("second")  # rebalance with batches in flight
        progress.workers.append(second)
        wait_until(lambda: consumed_total(second) > 0, timeout=120, interval=0.2)
        second.stop()  # and another one
        assert feed.fresh < feed.hold_from, "new events must be in flight until both rebalances are over"
        feed.released.set()
        feed.join(120)
        assert not feed.is_alive() and feed.error is None, feed.error
        assert until_in_force(cluster, expected, timeout=60) == expected


def test_the_broker_unreachable_mid_stream_loses_nothing_and_counts_nothing_twice(tmp_path, stream_rules):
    """Every connection to the broker is cut for longer than a publish may wait: the
    batch in flight fails, is tried again until the broker is back, and the stream
    ends exactly where the replay ends (same output ids, one value each, same states)."""
    events = mixed_events(6000, members=300, seed=31, order_sensitive=False)
    rules = RuleBook.load(stream_rules)
    store = MemoryStore()
    expected = effective(replayed(events, rules, store))
    proxy = CuttableProxy(free_port()).start()
    cluster = LocalCluster(tmp_path / "cluster", partitions=4,
                           extra_env={"MEMBERFLOW_PRODUCER_REQUEST_TIMEOUT_S": "2",
                                      "MEMBERFLOW_RULES_DIR": str(stream_rules)})
    try:
        cluster.start_broker(port=proxy.target_port, advertised_port=proxy.port)  # every client goes through it
        cluster.produce(events)
        worker = cluster.add_worker("cut")
        wait_until(lambda: consumed_total(worker) >= 1000, timeout=120, interval=0.05)
        proxy.cut()
        # the cut lasts until the batch in flight has failed (a publish waits 2 s at most)
        wait_until(lambda: metric(worker, "memberflow_batch_retries_total") > 0, timeout=60, interval=0.2)
        stalled = consumed_total(worker)
        assert stalled < len(events), "the cut must land mid-stream"
        assert worker.proc.poll() is None
        proxy.restore()
        assert until_in_force(cluster, expected, timeout=120) == expected
        as_of = datetime.fromisoformat(AS_OF)
        for member in sorted({k for _, k, _ in events}):
            want = member_summary(store.states[state_key("default", member)], rules.default, as_of)
            status, summary = worker.get_json(f"/members/{member}?as_of=2026-04-01T00:00:00%2B08:00")
            assert status == 200, member
            assert {k: summary[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, member
    finally:
        cluster.close()
        proxy.stop()
