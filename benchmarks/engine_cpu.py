"""The members agent's own work per event, without the broker (`make bench-cpu`).

The worker's throughput on this machine moves by a factor of two to three
between runs and shares its two cores with the broker, so a change to the
engine is easier to judge here.  The same mixed demo stream as ``make bench``
is cut into batches of BENCH_CPU_BATCH (default 500, the shipped fetch size)
per partition, and each batch goes through what the agent does with it, on
the agent's own classes:

- decode and evaluate every event (``agents.records``) over a ``BatchStore``
  with ``WarmStates``, as ``MemberProcessor.plan`` does;
- encode every changed state (``BatchStore.pending``) into a dict standing in
  for RocksDB;
- serialize every output as it is sent;
- build the ledger history rows (``record_history`` with ``KnownHeads``).

Kafka is left out: sending, the changelog publish and the RocksDB write.  It
prints microseconds per event per phase and events/s, the best of
BENCH_CPU_ROUNDS rounds (default 3), each from empty state.  Sizes:
BENCH_CPU_EVENTS (default 100000), BENCH_CPU_MEMBERS (10000).

``BENCH_CPU_EVENT_TIME=0`` measures the same work without the event-time layer
(``engine.event_time``: lateness checks, the journal stored with each state,
folding): every event is applied in arrival order by ``engine.apply`` alone,
as before event time existed.  Alternated with the default, it is what event
time costs on the in-order path.  ``BENCH_CPU_EVENT_TIME=both`` alternates the
two in this one process, a round of each per pair (the order swapped every
pair), and prints each pair's ratio: two rounds seconds apart on one heap
drift less than two processes minutes apart.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from types import SimpleNamespace

from agents import records
from agents.batch_store import BatchStore, WarmStates
from agents.history import KnownHeads, record_history
from agents.kafka.changelog import DeferredTable
from agents.kafka.routing import partition_for
from agents.records import Record, Result, decode, evaluate
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings
from engine.apply import apply_event
from engine.event_time import Arrival, apply_in_time
from engine.outcome import Outcome
from memberflow.cli import tune_gc
from memberflow.dev.demo.formats import encode
from memberflow.dev.demo.stream import generate
from models.events import MemberEvent
from models.journal import MemberRecord
from models.json_twins import output_json
from tables.current_event import MessageEvent
from tables.members import decode_record

PARTITIONS = 4


class Table(dict):
    """Stands in for a raw-bytes table: ``get`` like Faust's."""

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        return dict.get(self, key, default)


@dataclass
class Round:
    events: int = 0
    outputs: int = 0
    states: int = 0
    evaluate: float = 0.0
    encode: float = 0.0
    serialize: float = 0.0
    history: float = 0.0
    stored_bytes: float = 0.0  # a member's stored value at the end, on average (state, due mark, journal)
    state_bytes: float = 0.0  # the state's own part of it

    @property
    def total(self) -> float:
        return self.evaluate + self.encode + self.serialize + self.history


def batches(events: int, members: int, size: int) -> list[list[Record]]:
    """The demo stream per partition, cut into fetch-sized batches, the partitions' batches interleaved."""
    by_partition: dict[int, list[Record]] = {p: [] for p in range(PARTITIONS)}
    for n, (topic, key, value) in enumerate(generate(members, 1, datetime(2026, 1, 1, tzinfo=UTC), days=120)):
        if n >= events:
            break
        partition = partition_for(key, PARTITIONS) if key else 0
        by_partition[partition].append(Record(topic, encode(value), key.encode() if key else None, partition, n))
    cut = {p: [records[i:i + size] for i in range(0, len(records), size)] for p, records in by_partition.items()}
    out = []
    for i in range(max(len(c) for c in cut.values())):
        out += [c[i] for c in cut.values() if i < len(c)]
    return out


def in_arrival_order(record: MemberRecord | None, event: MemberEvent, arrival: Arrival,
                     rules: object) -> tuple[MemberRecord, Outcome]:
    """``engine.event_time.apply_in_time`` without event time: ``engine.apply`` alone, no journal."""
    outcome = apply_event(record.state if record is not None else None, event, rules)  # type: ignore[arg-type]
    if record is None:
        return MemberRecord(outcome.state), outcome
    record.state = outcome.state
    record.stored_json = None
    return record, outcome


def run(stream: list[list[Record]], rulebook: RuleBook, settings: Settings) -> Round:
    states, rows = Table(), Table()
    warm, heads = WarmStates(settings.warm_states), KnownHeads(settings.warm_states)
    warm.check(1)
    heads.check(1)
    owners = {p: MessageEvent(SimpleNamespace(partition=p)) for p in range(PARTITIONS)}  # type: ignore[arg-type]
    r = Round()
    clock = time.perf_counter
    for batch in stream:
        t0 = clock()
        store, outputs = BatchStore(states, warm), []
        for record in batch:
            decoded = decode(record, settings.max_payload_bytes)
            if isinstance(decoded, Result):
                outputs += decoded.outputs
                continue
            store.current = owners[record.partition]
            outputs += evaluate(record, decoded, store, rulebook).outputs
        t1 = clock()
        for key, value, _ in store.pending():
            states[key] = value
        t2 = clock()
        payloads = [output_json(out.value) for out in outputs]
        t3 = clock()
        history = DeferredTable(rows)
        written = record_history(history, rulebook, outputs, store.dirty, payloads, heads)
        for key, value, _ in history.pending():
            rows[key] = value
        heads.keep(written.items())
        warm.give_back(store.cache)
        t4 = clock()
        r.events += len(batch)
        r.outputs += len(outputs)
        r.states += len(store.dirty)
        r.evaluate += t1 - t0
        r.encode += t2 - t1
        r.serialize += t3 - t2
        r.history += t4 - t3
    r.stored_bytes = sum(map(len, states.values())) / len(states)
    r.state_bytes = sum(len(decode_record(value).stored_json or b"") for value in states.values()) / len(states)
    return r


def alternate(stream: list[list[Record]], rulebook: RuleBook, settings: Settings,
              pairs: int) -> list[tuple[Round, Round]]:
    """``pairs`` pairs of rounds (with event time, without), each pair's order the other way round
    from the last's; prints each pair's µs per event and ratio of events/s."""
    out = []
    try:
        for i in range(pairs):
            rounds: dict[bool, Round] = {}
            for event_time in (True, False) if i % 2 == 0 else (False, True):
                records.apply_in_time = apply_in_time if event_time else in_arrival_order  # type: ignore[assignment]
                rounds[event_time] = run(stream, rulebook, settings)
            with_time, without = rounds[True], rounds[False]
            print(f"pair {i + 1}: {with_time.total / with_time.events * 1e6:.1f} / "
                  f"{without.total / without.events * 1e6:.1f} µs per event with / without event time: "
                  f"{without.total / with_time.total:.2f} of the events/s", flush=True)
            out.append((with_time, without))
    finally:  # the layer as it was found, whatever a round raised
        records.apply_in_time = apply_in_time
    return out


def main() -> int:
    events = int(os.environ.get("BENCH_CPU_EVENTS", "100000"))
    members = int(os.environ.get("BENCH_CPU_MEMBERS", "10000"))
    size = int(os.environ.get("BENCH_CPU_BATCH", "500"))
    rounds = int(os.environ.get("BENCH_CPU_ROUNDS", "3"))
    settings = Settings.from_env()
    rulebook = RuleBook.load(SHIPPED_RULES_DIR)
    stream = batches(events, members, size)
    tune_gc(settings.gc_threshold)  # as the worker does after start-up
    mode = os.environ.get("BENCH_CPU_EVENT_TIME", "1")
    if mode == "both":
        ratios = [without.total / with_time.total for with_time, without in
                  alternate(stream, rulebook, settings, rounds)]
        print(json.dumps({"kind": "engine_cpu_event_time", "events": sum(map(len, stream)), "pairs": rounds,
                          "ratios": [round(r, 3) for r in ratios], "median_ratio": round(median(ratios), 3)}),
              flush=True)
        return 0
    event_time = mode != "0"
    if not event_time:
        records.apply_in_time = in_arrival_order  # type: ignore[assignment]
    best: Round | None = None
    for i in range(rounds):
        r = run(stream, rulebook, settings)
        print(f"round {i + 1}: {r.events / r.total:,.0f} events/s", flush=True)
        if best is None or r.total < best.total:
            best = r
    assert best is not None
    n = best.events

    def us(seconds: float) -> str:
        return f"{seconds / n * 1e6:6.1f} µs"

    print(f"\n{n:,} events, {members:,} members, batches of {size}: best of {rounds} rounds")
    print(f"evaluate (decode + apply)   {us(best.evaluate)}/event")
    print(f"encode changed states       {us(best.encode)}/event ({best.states:,} states)")
    print(f"serialize outputs           {us(best.serialize)}/event ({best.outputs:,} outputs)")
    print(f"ledger history rows         {us(best.history)}/event")
    print(f"total                       {us(best.total)}/event = {n / best.total:,.0f} events/s on one core")
    print(f"stored value per member     {best.stored_bytes:,.0f} B at the end (the state {best.state_bytes:,.0f} B, "
          "the rest its event-time journal)")
    print(json.dumps({"kind": "engine_cpu", "event_time": event_time, "events": n,
                      "events_per_s": round(n / best.total),
                      "us_per_event": round(best.total / n * 1e6, 1),
                      "stored_bytes_per_member": round(best.stored_bytes),
                      "state_bytes_per_member": round(best.state_bytes)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
