"""One simulated run per rule set and shard over a JSONL history, and the simulation as a whole."""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from config.rules import RuleBook
from config.topics import Role, Topic
from engine.outcome import Emitted
from memberflow.tools.offline import OfflineEngine, read_line
from memberflow.tools.simulate.figures import Figures
from memberflow.tools.simulate.lines import event_time, head_of, member_of
from memberflow.tools.simulate.progress import Progress
from memberflow.tools.simulate.schedule import Schedule
from memberflow.tools.simulate.shards import DEFINITIONS, MemberLinks, shard_of

#: lines the simulation does not apply: the schedule issues the evaluations, and the
#: engine's own member commands come from the simulated engine, not the recording
SKIPPED = frozenset({Topic.COMMANDS, *(t for t in Topic if t.role is Role.INTERNAL)})
PROGRESS_EVERY = 2048  # lines between progress reports


@dataclass(frozen=True)
class Job:
    """One rule set over the history, for the members of one shard."""

    rules: Path
    events: Path
    daily: bool = False
    shard: int = 0
    shards: int = 1
    links: MemberLinks | None = None
    until: datetime | None = None


def run_shard(job: Job, progress: Callable[[int], None] | None = None,
              observe: Callable[[Emitted], None] | None = None) -> Figures:
    """The figures of ``job``'s members (``observe`` sees every output too).  Every shard reads
    every line, so the evaluations fall between the same lines whatever the number of shards."""
    rulebook = RuleBook.from_path(job.rules)
    engine = OfflineEngine(rulebook, feedback=True)
    schedule = Schedule(rulebook, job.daily)
    figures = Figures(rulebook.default.tz)
    links = job.links or MemberLinks()
    add = figures.add if observe is None else lambda out: (observe(out), figures.add(out))

    def evaluate(until: datetime) -> None:
        for command in schedule.due(until):
            for out in engine.evaluate(command):
                add(out)
            figures.sample_tiers(command.as_of, Counter(r.state.tier for r in engine.store.records.values()))

    with job.events.open("rb") as fh:
        for count, text in enumerate(fh, 1):
            if not text.strip():
                continue
            line = read_line(text)
            head = head_of(line)
            figures.events += 1
            moment = event_time(head)
            if moment is not None:
                if schedule.started:
                    evaluate(moment)
                else:
                    schedule.start(moment)
            topic = line.get("topic")
            if topic in SKIPPED:
                continue
            if topic not in DEFINITIONS and shard_of(member_of(line, head), links, job.shards) != job.shard:
                continue
            for out in engine.feed(line):
                add(out)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(fh.tell())
        if progress is not None:
            progress(fh.tell())
    if schedule.started:  # the history's last period is evaluated too
        evaluate(job.until if job.until is not None else schedule.next_moment)
    figures.member_tier = {f"{r.state.tenant_id}/{r.state.member_id}": r.state.tier
                           for r in engine.store.records.values()}
    return figures


_shared: Any = None  # the pool's progress counters (bytes read per job), set in each worker


def _init_worker(shared: Any) -> None:
    global _shared
    _shared = shared


def _pooled(index: int, job: Job) -> Figures:
    def report(done: int) -> None:
        _shared[index] = done

    return run_shard(job, report)


def run_jobs(jobs: list[Job], processes: int, bar: Progress) -> list[Figures]:
    """Every job's figures, in ``processes`` processes (1: in this one)."""
    if processes == 1 or len(jobs) == 1:
        results = []
        for index, job in enumerate(jobs):
            results.append(run_shard(job, lambda done, i=index: bar.update(i, done)))
        return results
    context = multiprocessing.get_context("fork")
    shared = context.Array("q", len(jobs), lock=False)
    with context.Pool(min(processes, len(jobs)), initializer=_init_worker, initargs=(shared,)) as pool:
        pending = [pool.apply_async(_pooled, (index, job)) for index, job in enumerate(jobs)]
        while not all(p.ready() for p in pending):
            for index in range(len(jobs)):
                bar.update(index, shared[index])
            time.sleep(0.1)
        results = [p.get() for p in pending]
    for index, job in enumerate(jobs):
        bar.update(index, job.events.stat().st_size)
    return results


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shards_for(processes: int) -> int:
    """Members split in this many shards per rule set: the two rule sets take a process each
    first (they share nothing), shards fill the processes beyond two."""
    return max(1, math.ceil(processes / 2))


def simulate(base: Path, candidate: Path, events: Path, *, daily: bool = False, processes: int | None = None,
             until: datetime | None = None, stderr: IO[str] | None = None) -> tuple[Figures, Figures]:
    """The base and candidate figures over ``events``, in ``processes`` processes (default: one
    per core).  Raises ``RulesError`` (file, field path, why) before anything runs when either
    rule set does not load."""
    for path in (base, candidate):
        RuleBook.from_path(path)
    processes = processes or cores()
    shards = shards_for(processes)
    links = None
    if shards > 1:
        with events.open(encoding="utf-8") as fh:
            links = MemberLinks.of_lines(fh)
    jobs = [Job(rules, events, daily, shard, shards, links, until)
            for rules in (base, candidate) for shard in range(shards)]
    bar = Progress(len(jobs) * events.stat().st_size, len(jobs), stderr)
    results = run_jobs(jobs, processes, bar)
    bar.close()
    runs = []
    for first in (0, shards):
        merged = results[first]
        for other in results[first + 1:first + shards]:
            merged.merge(other)
        runs.append(merged)
    return runs[0], runs[1]
