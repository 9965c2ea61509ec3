"""`make bench-event-time`: the worker's events/s with and without event time, alternated in one run.

One embedded broker and the demo stream published once.  Then, in turn, a worker
with event time (``memberflow worker``) and one without
(``benchmarks.arrival_order_worker``), each with a fresh data directory and its
own consumer group, read the whole stream; each one's rate is taken between 10%
and 90% of it from its ``/metrics``, and its CPU time per event (from the moment it
answered to the last event: steadier than the rate, which waits on the broker
sharing the machine).  The pairs alternate which goes first, and the ratios of
each pair are printed: what event time costs the worker, transport and all,
beside ``make bench-cpu``'s figure for the engine alone.

Sizes: BENCH_EVENTS (default 100000), BENCH_MEMBERS (10000), BENCH_PAIRS (2).
Prints one JSON line per run and one for the ratios.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from benchmarks.engine import consumed
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.dev.demo.stream import generate

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"event time": "memberflow.cli", "arrival order": "benchmarks.arrival_order_worker"}


def outcomes(worker: WorkerProcess) -> dict[str, int]:
    """How the worker's consumed events ended (applied, rewound -- put in their place in time --, ...),
    and why those dead-lettered were."""
    counts: dict[str, int] = {}
    text = worker.metrics()
    for outcome, value in re.findall(r'^memberflow_events_consumed_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)$',
                                     text, re.M):
        counts[outcome] = counts.get(outcome, 0) + int(float(value))
    for reason, value in re.findall(r'^memberflow_dead_letters_total\{reason="([^"]+)"\} (\S+)$', text, re.M):
        if float(value):
            counts[f"dead_lettered:{reason}"] = int(float(value))
    return counts


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_rate(cluster: LocalCluster, mode: str, run: int, n: int) -> tuple[float, float, dict[str, int]]:
    """A fresh worker reading the whole stream: its events/s (10% to 90% of it), its CPU time per
    event in microseconds from the moment it answered to the last event, and how its events ended."""
    name = f"{'time' if mode == 'event time' else 'arrival'}-{run}"
    worker = cluster.add_worker(name, env={"MEMBERFLOW_APP_ID": f"bench-{name}"}, module=MODULES[mode])
    assert worker.proc is not None
    try:
        samples: list[tuple[float, float]] = []
        started, cpu = time.monotonic(), cpu_seconds(worker.proc.pid)
        while not samples or samples[-1][1] < n * 0.9:
            if time.monotonic() - started > 1800:
                raise TimeoutError(f"the {mode} worker consumed {samples[-1][1]:.0f} of {n} events in 30 minutes")
            samples.append((time.monotonic(), consumed(worker)))
            time.sleep(0.25)
        first = next(s for s in samples if s[1] >= n * 0.1)
        last = samples[-1]
        while consumed(worker) < n and time.monotonic() - started < 1800:
            time.sleep(0.1)
        cpu = cpu_seconds(worker.proc.pid) - cpu
        return (last[1] - first[1]) / (last[0] - first[0]), cpu / n * 1e6, outcomes(worker)
    finally:
        cluster.stop(worker)
        cluster.workers.remove(worker)


def main() -> int:
    n = int(os.environ.get("BENCH_EVENTS", "100000"))
    members = int(os.environ.get("BENCH_MEMBERS", "10000"))
    pairs = int(os.environ.get("BENCH_PAIRS", "2"))
    rates: dict[str, list[float]] = {mode: [] for mode in MODULES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODULES}
    with LocalCluster(ROOT / "bench-results" / "event-time", partitions=4) as cluster:
        cluster.produce(islice(generate(members, 1, datetime(2026, 1, 1, tzinfo=UTC), days=120), n))
        print(f"published {n:,} events for {members:,} members", flush=True)
        for i in range(pairs):
            for mode in (list(MODULES) if i % 2 == 0 else list(reversed(MODULES))):
                rate, us, ended = worker_rate(cluster, mode, i, n)
                rates[mode].append(rate)
                cpu[mode].append(us)
                print(json.dumps({"kind": "worker", "mode": mode, "pair": i + 1, "events_per_s": round(rate),
                                  "cpu_us_per_event": round(us, 1), "outcomes": ended}), flush=True)
    ratios = [t / a for t, a in zip(rates["event time"], rates["arrival order"], strict=True)]
    cpu_ratios = [a / t for t, a in zip(cpu["event time"], cpu["arrival order"], strict=True)]
    print("\nthe worker with event time over the worker without, per pair:")
    print(f"  events/s             {', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})")
    print(f"  events per CPU second {', '.join(f'{r:.2f}' for r in cpu_ratios)} "
          f"(median {statistics.median(cpu_ratios):.2f})")
    print(json.dumps({"kind": "event_time_cost", "events": n, "members": members,
                      "events_per_s": {mode: [round(r) for r in rs] for mode, rs in rates.items()},
                      "cpu_us_per_event": {mode: [round(u, 1) for u in us] for mode, us in cpu.items()},
                      "ratios": [round(r, 3) for r in ratios], "cpu_ratios": [round(r, 3) for r in cpu_ratios]}),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
