"""SIGKILL the worker in the middle of a stream; the restarted worker must end
exactly where an uninterrupted run ends: same final states, same output ids.
Workers joining and leaving mid-stream must leave no event behind either, and
neither must the broker becoming unreachable for a while."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from datetime import datetime

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.views import member_summary
from memberflow.dev.broker import free_port
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.tools.replay import MemoryStore, replay
from tables.members import state_key
from tests.integration.fixtures import OUTPUTS, consumed_total, metric, mixed_events, output_id, wait_until
from tests.integration.proxy import CuttableProxy

AS_OF = "2026-04-01T00:00:00+08:00"
COMPARED = ("tier", "status", "growth", "spend_30d", "spend_365d", "points")


def test_sigkill_mid_stream_then_restart_matches_an_uninterrupted_run(cluster):
    events = mixed_events(6000, members=300, seed=23, order_sensitive=False)
    rules = RuleBook.load(SHIPPED_RULES_DIR)
    store = MemoryStore()
    expected = [json.loads(e.value.model_dump_json())
                for e in replay(({"topic": t, "key": k, "value": v} for t, k, v in events), rules, store=store)]
    expected_ids = {output_id(v) for v in expected}
    assert len(expected_ids) == len(expected) > 6000

    worker = cluster.add_worker("crashy")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= 2000, timeout=120, interval=0.05)
    worker.kill()
    killed_after = len({output_id(v) for _, v in cluster.consume(OUTPUTS, idle=0.5)})
    assert 0 < killed_after < len(expected_ids), "the kill must land mid-stream"

    cluster.restart(worker)

    def live_ids() -> set[str]:
        return {output_id(v) for _, v in cluster.consume(OUTPUTS, idle=0.5)}

    wait_until(lambda: len(live_ids()) >= len(expected_ids), timeout=240, interval=1.0)
    assert live_ids() == expected_ids

    as_of = datetime.fromisoformat(AS_OF)
    members = sorted({k for _, k, _ in events})
    for member in members:
        want = member_summary(store.states[state_key("default", member)], rules.default, as_of)
        status, got = worker.get_json(f"/members/{member}?as_of=2026-04-01T00:00:00%2B08:00")
        assert status == 200, member
        assert {k: got[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, member


def outputs_by_id(cluster: LocalCluster, count: int, timeout: float) -> dict[str, set[str]]:
    """Every output on the topics, id -> the distinct values sent under it, once at
    least ``count`` ids have arrived (a redelivery may repeat an id, never change it)."""
    got: dict[str, set[str]] = {}

    def arrived() -> int:
        got.clear()
        for _, v in cluster.consume(OUTPUTS, idle=0.5):
            got.setdefault(output_id(v), set()).add(json.dumps(v, sort_keys=True))
        return len(got)

    wait_until(lambda: arrived() >= count, timeout=timeout, interval=1.0)
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
    FRESH = 5  # new events per chunk until released

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


def test_workers_joining_and_leaving_mid_stream_leave_no_event_behind(tmp_path):
    """Two rebalances with batches in flight: every output of the stream still
    arrives (no batch stuck until some later rebalance), each id once per value."""
    events = mixed_events(6000, members=300, seed=29, order_sensitive=False)
    rules = RuleBook.load(SHIPPED_RULES_DIR)
    expected = {output_id(json.loads(e.value.model_dump_json()))
                for e in replay(({"topic": t, "key": k, "value": v} for t, k, v in events), rules,
                                store=MemoryStore())}
    with LocalCluster(tmp_path / "cluster", partitions=4) as cluster:  # starts its own broker
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
        got = outputs_by_id(cluster, len(expected), timeout=60)
        assert set(got) == expected
        assert all(len(values) == 1 for values in got.values()), "a redelivery must re-emit the same output"


def test_the_broker_unreachable_mid_stream_loses_nothing_and_counts_nothing_twice(tmp_path):
    """Every connection to the broker is cut for longer than a publish may wait: the
    batch in flight fails, is tried again until the broker is back, and the stream
    ends exactly where the replay ends (same output ids, one value each, same states)."""
    events = mixed_events(6000, members=300, seed=31, order_sensitive=False)
    rules = RuleBook.load(SHIPPED_RULES_DIR)
    store = MemoryStore()
    expected = {output_id(json.loads(e.value.model_dump_json()))
                for e in replay(({"topic": t, "key": k, "value": v} for t, k, v in events), rules, store=store)}
    proxy = CuttableProxy(free_port()).start()
    cluster = LocalCluster(tmp_path / "cluster", partitions=4,
                           extra_env={"MEMBERFLOW_PRODUCER_REQUEST_TIMEOUT_S": "2"})
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
        got = outputs_by_id(cluster, len(expected), timeout=120)
        assert set(got) == expected
        assert all(len(values) == 1 for values in got.values()), "a batch tried again must re-emit the same output"
        as_of = datetime.fromisoformat(AS_OF)
        for member in sorted({k for _, k, _ in events}):
            want = member_summary(store.states[state_key("default", member)], rules.default, as_of)
            status, summary = worker.get_json(f"/members/{member}?as_of=2026-04-01T00:00:00%2B08:00")
            assert status == 200, member
            assert {k: summary[k] for k in COMPARED} == {k: want[k] for k in COMPARED}, member
    finally:
        cluster.close()
        proxy.stop()
