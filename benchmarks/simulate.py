"""What-if simulation over the demo mix, against the plain replay in the same run (`make bench-simulate`).

Writes BENCH_SIMULATE_EVENTS (default 1,000,000) events of the demo stream
(``memberflow.dev.demo``) over BENCH_SIMULATE_DAYS days (default 56, members
sized to fit) to a JSONL file, then times on this machine:

1. the plain replay of the file (``memberflow.tools.replay``: every line parsed
   and applied, no evaluation, outputs dropped), and
2. ``memberflow simulate`` of the file (``memberflow.tools.simulate``): the
   shipped rules and a candidate doubling DIAMOND's tier multiplier, each with
   the daily periodic evaluation of the shipped schedule, figures summed, the
   report written, in BENCH_SIMULATE_PROCESSES processes (default: the CLI's, one per core).

It prints events/s of each (history events over wall time: the simulation
runs the history twice), their ratio, CPU time beside wall time, and the peak
RSS.  The target: one million events simulated in under five minutes of wall
time on this machine.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import datetime
from itertools import islice
from pathlib import Path

import yaml

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings
from memberflow.cli import tune_gc
from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.stream import generate
from memberflow.tools.replay import replay
from memberflow.tools.simulate.run import cores

START = datetime(2025, 3, 3, tzinfo=CST)
SEED = 11
EVENTS_PER_MEMBER_DAY = 0.66  # the demo mix's rate (14,810 events for 400 members over 56 days)
TARGET_SECONDS = 300.0


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss_mb() -> float:
    """The peak RSS of the largest finished child (a simulating process; 0 when none ran)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def write_history(path: Path, events: int, days: int) -> int:
    members = math.ceil(events / (EVENTS_PER_MEMBER_DAY * days))
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for topic, key, value in islice(generate(members, SEED, START, days=days), events):
            fh.write(json.dumps({"topic": str(topic), "key": key, "value": value}) + "\n")
            count += 1
    return count


def candidate_rules(path: Path) -> Path:
    data = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text(encoding="utf-8"))
    data["points"]["earning"]["tier_multipliers"]["tiers"]["DIAMOND"] *= 2
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the machine is shared: wall time moves with load)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_replay(history: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    with history.open("rb") as fh:
        deque(replay((json.loads(text) for text in fh), RuleBook.load(SHIPPED_RULES_DIR)), maxlen=0)
    return time.perf_counter() - start, cpu_seconds() - cpu


def time_simulation(history: Path, work: Path, processes: int) -> tuple[float, float, dict]:
    """``memberflow simulate`` of the history as a user runs it: a process of its own, started
    fresh (a parent that has just replayed a million events hands its children a heap full of
    holes, which cost the simulation a sixth of its time in one measurement)."""
    out = work / "report"
    command = [str(Path(sys.executable).with_name("memberflow")), "simulate",
               "--base", str(SHIPPED_RULES_DIR / "default.yaml"),
               "--candidate", str(candidate_rules(work / "candidate.yaml")),
               "--events", str(history), "--out", str(out), "--processes", str(processes)]
    t0, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return time.perf_counter() - t0, cpu_seconds() - cpu, report


def main() -> None:
    events = int(os.environ.get("BENCH_SIMULATE_EVENTS", "1000000"))
    days = int(os.environ.get("BENCH_SIMULATE_DAYS", "56"))
    processes = int(os.environ.get("BENCH_SIMULATE_PROCESSES", "0")) or cores()
    tune_gc(Settings.from_env().gc_threshold)
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as work:
        history = Path(work) / "history.jsonl"
        t0 = time.perf_counter()
        events = write_history(history, events, days)
        print(f"history: {events:,} demo events over {days} days ({history.stat().st_size / 1e6:.0f} MB) "
              f"written in {time.perf_counter() - t0:.0f}s", flush=True)
        replayed, replay_cpu = time_replay(history)
        print(f"plain replay: {replayed:.1f}s wall = {events / replayed:,.0f} events/s; {replay_cpu:.1f}s CPU = "
              f"{events / replay_cpu:,.0f} events/s per core; RSS {rss_mb():.0f} MB", flush=True)
        simulated, simulated_cpu, report = time_simulation(history, Path(work), processes)
        rate, per_core = events / simulated, events / simulated_cpu
        print(f"simulation, 2 rule sets, {processes} process(es): {simulated:.1f}s wall = {rate:,.0f} events/s "
              f"({rate / (events / replayed):.2f} of the replay's); {simulated_cpu:.1f}s CPU = {per_core:,.0f} "
              f"events/s per core ({per_core / (events / replay_cpu):.2f} of the replay's); members "
              f"{report['base']['members']:,}; points issued {report['base']['points_issued']:,} -> "
              f"{report['candidate']['points_issued']:,}", flush=True)
        print(f"1,000,000 events at these rates: {1e6 / rate:.0f}s wall (target {TARGET_SECONDS:.0f}s), "
              f"{1e6 / per_core:.0f}s of CPU; peak RSS {rss_mb():.0f} MB, of a simulating process "
              f"{child_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
