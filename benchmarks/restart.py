"""How long a SIGKILLed worker takes to process again once restarted (`make bench-restart`).

One embedded broker, 4 partitions, a backlog of BENCH_RESTART_EVENTS (default
150,000) demo events; the worker is killed once it has consumed 3,000 and
started again over its data directory.  Timed from the restart: when its
``/metrics`` answers, and when it has consumed again.  Done alternately with
static membership (the shipped default: the worker rejoins its group as the
same member) and without it (the group waits for the dead member's 10 s
timeout first), BENCH_RESTART_ROUNDS times each (default 2).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.engine import consumed
from memberflow.dev.cluster import LocalCluster
from memberflow.dev.demo.stream import generate


def restart_seconds(events: list, static: bool) -> tuple[float, float]:
    env = {"MEMBERFLOW_STATIC_MEMBERSHIP": "true" if static else "false"}
    with LocalCluster(Path(tempfile.mkdtemp()) / "cluster", partitions=4, extra_env=env) as cluster:
        cluster.produce(events)
        worker = cluster.add_worker("restarted")
        while consumed(worker) < 3000:
            time.sleep(0.1)
        worker.kill()
        started = time.monotonic()
        cluster.restart(worker, wait=False)
        answered = None
        while True:
            if answered is None and worker.answers():
                answered = time.monotonic() - started
            if answered is not None and consumed(worker) > 0:
                return answered, time.monotonic() - started
            if time.monotonic() - started > 300:
                raise TimeoutError("the restarted worker consumed nothing within 300 s")
            time.sleep(0.1)


def main() -> None:
    count = int(os.environ.get("BENCH_RESTART_EVENTS", "150000"))
    rounds = int(os.environ.get("BENCH_RESTART_ROUNDS", "2"))
    events = []
    for event in generate(3000, 1, datetime(2026, 1, 1, tzinfo=UTC), days=120):
        events.append(event)
        if len(events) >= count:
            break
    print(f"SIGKILL after 3,000 of {count:,} events, restart over the same data directory")
    print(f"{'membership':<12} {'/metrics answers':>17} {'consuming again':>16}")
    for _ in range(rounds):
        for static in (True, False):
            answered, consuming = restart_seconds(events, static)
            print(f"{'static' if static else 'dynamic':<12} {answered:>16.1f}s {consuming:>15.1f}s", flush=True)


if __name__ == "__main__":
    main()
