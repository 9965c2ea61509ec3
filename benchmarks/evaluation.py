"""Periodic evaluation of many members on one worker's RocksDB (`make bench-eval`).

Fills a RocksDB partition store (the format the members table uses: raw
keys, pydantic JSON values) with BENCH_EVAL_MEMBERS members (default
1,000,000) of mixed tiers, lots and birthdays, then runs the same slice loop
the workers run -- ``tables.scan.keys_after`` + ``engine.evaluation.evaluate_member``
+ a write of the changed states -- and prints members/s, wall time and RSS
along the way (flat memory = slices, not the member count, bound it).
Kafka is left out: per slice a worker adds one continuation message and the
changelog records of the changed members, sent as batches.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from rocksdict import Options, Rdict, WriteBatch

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings
from engine.evaluation import evaluate_member, evaluation_id
from memberflow.cli import tune_gc
from models.state import MemberState, PointLot
from tables.members import decode, encode, state_key
from tables.scan import keys_after

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
    encoded = [encode(t).decode() for t in templates(rng)]
    batch = WriteBatch(raw_mode=True)
    for i in range(members):
        member = f"m{i:08d}"
        value = encoded[i % len(encoded)].replace('"MEMBER"', f'"{member}"', 1)
        batch.put(state_key("default", member), value.encode())
        if len(batch) >= 10_000:
            db.write(batch)
            batch = WriteBatch(raw_mode=True)
    db.write(batch)


def main() -> int:
    members = int(os.environ.get("BENCH_EVAL_MEMBERS", "1000000"))
    tune_gc(Settings.from_env().gc_threshold)  # as the worker does
    rules = RuleBook.load(SHIPPED_RULES_DIR)
    size = rules.default.evaluation.slice_size
    workdir = Path(tempfile.mkdtemp(prefix="mf-eval-"))
    try:
        db = Rdict(str(workdir / "members-0"), Options(raw_mode=True))
        t0 = time.perf_counter()
        fill(db, members)
        print(f"filled {members:,} members in {time.perf_counter() - t0:.1f}s; RSS {rss_mb():.0f} MB", flush=True)
        table = SimpleNamespace(data=SimpleNamespace(_db_for_partition=lambda p: db))
        cause = evaluation_id(None, AS_OF)
        after, done, changed_total, outputs_total = None, 0, 0, 0
        marks = {members // 4 * k for k in (1, 2, 3)}
        start = time.perf_counter()
        while True:
            keys = keys_after(table, 0, 1, after, size)
            if not keys:
                break
            batch = WriteBatch(raw_mode=True)
            for key in keys:
                state = decode(db[key])
                changed, outputs = evaluate_member(state, rules.default, AS_OF, cause)
                for out in outputs:
                    out.value.model_dump_json()  # what the worker sends
                if changed:
                    batch.put(key, encode(state))
                    changed_total += 1
                outputs_total += len(outputs)
            db.write(batch)
            done += len(keys)
            after = keys[-1]
            if any(done >= m > done - len(keys) for m in marks):
                print(f"  {done:,} members, {done / (time.perf_counter() - start):,.0f}/s, RSS {rss_mb():.0f} MB",
                      flush=True)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"evaluated {done:,} members in {wall:.1f}s: {done / wall:,.0f} members/s; "
              f"{changed_total:,} changed, {outputs_total:,} outputs; RSS {rss_mb():.0f} MB (peak {peak:.0f} MB)")
        db.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
