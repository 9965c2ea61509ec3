"""Periodic evaluation of many members on one worker's RocksDB (`make bench-eval`).

Fills a RocksDB partition store (the format the members table uses: raw
keys, values as ``tables.members.encode`` writes them) with BENCH_EVAL_MEMBERS members (default
1,000,000) of mixed tiers, lots and birthdays, written as events leave them
(no due mark).  Then it runs the worker's own slice code --
``agents.evaluation.SliceRunner`` over ``agents.batch_store.BatchStore``, each
slice's changed states written back in one RocksDB batch, every output
serialized as the worker sends it -- for two daily evaluations:

1. the first, as of AS_OF: every member is read and evaluated in full, and
   each is stored with its due mark;
2. the next day's, after events touched BENCH_EVAL_TOUCHED (default 5%) of
   the members (their stored values lose the mark, as an event's write
   does): members not due are passed over without being decoded.

It prints members/s, wall time and RSS along the way (flat memory = slices,
not the member count, bound it).  Kafka is left out: per slice a worker adds
one continuation message and the changelog records of the changed members,
sent as batches.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry
from rocksdict import Options, Rdict, WriteBatch

from agents.batch_store import BatchStore, WarmStates
from agents.evaluation import SliceRunner
from agents.metrics import ExperimentMetrics
from agents.records import Record
from agents.rules_in_force import RulesInForce
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings
from config.topics import Topic
from engine.evaluation import evaluation_id
from memberflow.cli import tune_gc
from models.evaluation import EvaluateSlice
from models.journal import MemberRecord
from models.json_twins import output_json
from models.state import MemberState, PointLot
from tables.current_event import MessageEvent
from tables.members import encode, state_key, unmarked

AS_OF = datetime.fromisoformat("2026-06-01T00:00:00+08:00")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def templates(rng: random.Random) -> list[MemberState]:
    out = []
    for tier, spend, share in (("NORMAL", 0, 14), ("SILVER", 260, 3), ("GOLD", 700, 2), ("DIAMOND", 1500, 1)):
        for variant in range(share):
            day0 = date(2026, 5, 1) + timedelta(days=rng.randrange(30))
            lots = [PointLot(lot_id=f"lot-{i}", amount=rng.randrange(10, 500),
                             earned_at=datetime(2025, 1 + i, 10, tzinfo=AS_OF.tzinfo),
                             expires_at=datetime(2026, 1, 1, tzinfo=AS_OF.tzinfo) if variant % 3 == 0 else
                             datetime(2027, 1, 1, tzinfo=AS_OF.tzinfo)) for i in range(rng.randrange(1, 5))]
            out.append(MemberState(
                tenant_id="default", member_id="MEMBER", tier=tier, lots=lots, growth=spend,
                spend_days={day0: Decimal(spend)} if spend else {},
                birthday=date(1990, rng.randrange(1, 13), 15) if variant % 2 else None,
                last_login_at=datetime(2026, 5, rng.randrange(1, 28), tzinfo=AS_OF.tzinfo),
                recent_event_ids=[f"ev-{i}" for i in range(rng.randrange(5, 40))],
            ))
    return out


def fill(db: Rdict, members: int) -> None:
    rng = random.Random(5)
    encoded = [encode(MemberRecord(t)).decode() for t in templates(rng)]
    batch = WriteBatch(raw_mode=True)
    for i in range(members):
        member = f"m{i:08d}"
        value = encoded[i % len(encoded)].replace('"MEMBER"', f'"{member}"', 1)
        batch.put(state_key("default", member), value.encode())
        if len(batch) >= 10_000:
            db.write(batch)
            batch = WriteBatch(raw_mode=True)
    db.write(batch)


class Tally:
    """Stands in for a Prometheus counter."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        self.value += amount


class Store:
    """The members table as ``SliceRunner`` and ``BatchStore`` read it: one RocksDB partition."""

    def __init__(self, db: Rdict) -> None:
        self.db = db
        self.data = SimpleNamespace(_db_for_partition=lambda partition: db)

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)


def evaluate_all(db: Rdict, rules: RuleBook, as_of: datetime, members: int) -> None:
    """One evaluation of partition 0, slice after slice, as a worker runs it."""
    table = Store(db)
    metrics = SimpleNamespace(members_evaluated=Tally(), members_not_due=Tally(),
                              experiments=ExperimentMetrics(CollectorRegistry()))  # as the worker counts
    runner = SliceRunner(table, RulesInForce(rules), metrics, partitions=1)  # type: ignore[arg-type]
    piece = EvaluateSlice(evaluation_id=evaluation_id(None, as_of), tenant_id=None, as_of=as_of, partition=0)
    owner = MessageEvent(SimpleNamespace(partition=0))  # type: ignore[arg-type]
    written = outputs = 0
    kinds: Counter[str] = Counter()
    marks = {members // 4 * k for k in (1, 2, 3)}
    start = time.perf_counter()
    while piece is not None:
        store = BatchStore(table, WarmStates(0), current=owner)
        result = runner.run(Record(Topic.EVALUATION_SLICES, piece.model_dump_json().encode(), partition=0), store)
        piece = None
        for out in result.outputs:
            if out.topic == Topic.EVALUATION_SLICES:
                piece = out.value
            else:
                output_json(out.value)  # what the worker sends
                outputs += 1
                kinds[out.topic] += 1
        batch = WriteBatch(raw_mode=True)
        for key, value, _ in store.pending():
            batch.put(key, value)
            written += 1
        db.write(batch)
        done = metrics.members_evaluated.value + metrics.members_not_due.value
        if piece is not None and any(done >= m for m in marks):
            marks = {m for m in marks if m > done}
            print(f"  {done:,} members, {done / (time.perf_counter() - start):,.0f}/s, RSS {rss_mb():.0f} MB",
                  flush=True)
    wall = time.perf_counter() - start
    done = metrics.members_evaluated.value + metrics.members_not_due.value
    print(f"as of {as_of.date()}: {done:,} members in {wall:.1f}s = {done / wall:,.0f} members/s; "
          f"{metrics.members_evaluated.value:,} evaluated, {metrics.members_not_due.value:,} passed over (not due); "
          f"{written:,} states written, {outputs:,} outputs {dict(kinds)}; RSS {rss_mb():.0f} MB", flush=True)


def touch(db: Rdict, every: int) -> int:
    """Drop the due mark of every ``every``-th member, as an event's write does."""
    touched = 0
    batch = WriteBatch(raw_mode=True)
    for i, (key, value) in enumerate(db.items()):
        if i % every == 0 and unmarked(value) != value:
            batch.put(key, unmarked(value))
            touched += 1
    db.write(batch)
    return touched


def main() -> int:
    members = int(os.environ.get("BENCH_EVAL_MEMBERS", "1000000"))
    touched_share = float(os.environ.get("BENCH_EVAL_TOUCHED", "0.05"))
    tune_gc(Settings.from_env().gc_threshold)  # as the worker does
    rules = RuleBook.load(SHIPPED_RULES_DIR)
    workdir = Path(tempfile.mkdtemp(prefix="mf-eval-"))
    try:
        db = Rdict(str(workdir / "members-0"), Options(raw_mode=True))
        t0 = time.perf_counter()
        fill(db, members)
        print(f"filled {members:,} members in {time.perf_counter() - t0:.1f}s; RSS {rss_mb():.0f} MB", flush=True)
        print("first evaluation (no member has a due mark yet):", flush=True)
        evaluate_all(db, rules, AS_OF, members)
        touched = touch(db, max(1, round(1 / touched_share))) if touched_share else 0
        print(f"events touched {touched:,} members; the next day's evaluation:", flush=True)
        evaluate_all(db, rules, AS_OF + timedelta(days=1), members)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MB")
        db.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
