"""`make bench`: the full engine beside the transport's and the framework's ceilings.

One embedded broker, one worker, the same mixed events on the same topics,
all in one run so the ratios hold on a noisy machine:

- bare aiokafka consumer + json.loads (transport ceiling)
- Faust agent that only counts (framework ceiling)
- naive Faust agent, one table write per event (baseline)
- the memberflow worker, default rules, every output sent and acknowledged
- p50/p99 latency publish -> ledger/tier output at half the engine's rate
  (a fresh mixed stream for the same members), and then, the worker stopped,
  the same stream at the same rate through a bare aiokafka echo that answers
  the orders (the transport's latency floor: consume, answer, wait for the ack)
- peak RSS of the worker, RocksDB bytes per member
- the read-model projector over what the worker produced from the burst (every
  output topic and the member table's changelog, read from the start once the
  worker has consumed the burst: the projector's whole backlog as lag), into
  SQLite in a temporary directory and into a throwaway PostgreSQL on loopback
  (BENCH_PROJECTOR_DB, default ``sqlite,postgresql``): its records/s beside the
  engine's events/s, the ratio, and the seconds until its lag is back to zero
- the engine's own CPU ceiling: the members agent's classes over the same
  events with no broker (``benchmarks.engine_cpu``, one round, alone on the
  machine); the worker's rate over it says how much of the gap to 5,000
  events/s is the engine's own Python work and how much the transport

Prints a table and writes bench-results/engine.json.  Sizes: BENCH_EVENTS
(default 200000), BENCH_MEMBERS (10000).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from config.rules import RuleBook
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.dev.demo.formats import encode
from memberflow.dev.demo.stream import generate
from memberflow.dev.postgres import local_postgres
from memberflow.readmodel.database import open_database, prepare
from memberflow.readmodel.projector import Projector

ROOT = Path(__file__).resolve().parents[1]


def consumed(worker: WorkerProcess) -> float:
    text = worker.metrics()
    return sum(float(v) for v in re.findall(r"^memberflow_events_consumed_total\{[^}]*\} (\S+)$", text, re.M))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def reported(kind: str, out: subprocess.CompletedProcess) -> dict:
    """The last ``{"kind": kind, ...}`` line a benchmark process printed (in either
    stream: Faust's worker routes stdout through its logger)."""
    found = re.findall(rf'\{{"kind": "{kind}".*?\}}', out.stdout + out.stderr)
    if not found:
        raise RuntimeError(f"{kind} failed: {out.stderr[-2000:]}")
    return json.loads(found[-1])


def ceiling(kind: str, cluster: LocalCluster, n: int, inputs: list[str]) -> dict:
    """A reference consumer over the ``inputs`` topics, until it has read ``n`` events."""
    assert cluster.broker is not None
    topics = ",".join(cluster.settings().topic(t) for t in inputs)
    datadir = cluster.workdir / f"ceiling-{kind}"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ceilings", kind, cluster.broker.bootstrap, topics, str(n), str(datadir)],
        capture_output=True, text=True, timeout=1800, cwd=ROOT,
    )
    return reported(kind, out)


def engine_rate(cluster: LocalCluster, n: int) -> tuple[dict, WorkerProcess]:
    worker = cluster.add_worker("bench")
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    while True:
        samples.append((time.monotonic(), consumed(worker)))
        if samples[-1][1] >= n or time.monotonic() - started > 3600:
            break
        time.sleep(0.5)
    first = next(s for s in samples if s[1] >= n * 0.1)
    last = next(s for s in samples if s[1] >= n * 0.9)
    rate = (last[1] - first[1]) / (last[0] - first[0])
    return {"kind": "engine", "events": int(samples[-1][1]), "events_per_s": round(rate)}, worker


def latency(cluster: LocalCluster, rate: float, seconds: float, members: int) -> dict:
    """Publish a fresh mixed demo stream at ``rate`` for ``seconds``; time each event to
    its first ledger or tier output (events that earn nothing are not timed; the echo
    answers each order on the ledger topic)."""
    from kafka import KafkaConsumer, KafkaProducer

    assert cluster.broker is not None
    settings = cluster.settings()
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    ready = threading.Event()

    def watch() -> None:
        consumer = KafkaConsumer(settings.topic("points-ledger"), settings.topic("tier-changes"),
                                 bootstrap_servers=cluster.broker.bootstrap, auto_offset_reset="latest",
                                 group_id=None, consumer_timeout_ms=200, fetch_max_wait_ms=10)
        consumer.poll(timeout_ms=1000)
        ready.set()
        while not stop.is_set():
            for msg in consumer:
                cause = json.loads(msg.value).get("cause_event_id", "")
                if cause in sent and cause not in seen:
                    seen[cause] = time.monotonic()
        consumer.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(30)
    # another seed: new event and order ids, same members, event time after the first stream
    stream = generate(members, 2, datetime(2026, 5, 2, tzinfo=UTC), days=30)
    producer = KafkaProducer(bootstrap_servers=cluster.broker.bootstrap, linger_ms=0)
    start = time.monotonic()
    i = 0
    for topic, key, value in stream:
        if time.monotonic() - start >= seconds:
            break
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        producer.send(settings.topic(topic), key=key.encode() if key else None, value=encode(value))
        if isinstance(value, dict) and "event_id" in value:
            sent[value["event_id"]] = time.monotonic()
        i += 1
    producer.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        before = len(seen)
        time.sleep(2)
        if len(seen) == before:
            break
    stop.set()
    thread.join(5)
    waits = sorted((seen[k] - sent[k]) * 1000 for k in seen)
    if not waits:
        return {"rate": rate, "published": i, "timed": 0}
    return {"rate": round(rate), "published": i, "timed": len(waits),
            "p50_ms": round(statistics.median(waits), 1), "p99_ms": round(waits[int(len(waits) * 0.99) - 1], 1),
            "max_ms": round(waits[-1], 1)}


def echo_latency(cluster: LocalCluster, rate: float, seconds: float, members: int) -> dict:
    """``latency`` through the bare echo instead of the worker (which must be stopped).
    The echo answers the orders only, so about as many answers reach the timing
    consumer as ledger and tier outputs did from the worker (its load is part of
    what is measured)."""
    assert cluster.broker is not None
    settings = cluster.settings()
    echo = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.ceilings", "echo", cluster.broker.bootstrap, settings.topic("orders"),
         settings.topic("points-ledger")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        if "ready" not in (echo.stdout.readline() if echo.stdout else ""):
            raise RuntimeError("the echo consumer did not start")
        return latency(cluster, rate, seconds, members)
    finally:
        echo.terminate()
        echo.wait(10)


@contextmanager
def read_model_url(kind: str):
    """A fresh, empty read model's URL: SQLite in a temporary directory or PostgreSQL on loopback."""
    if kind == "postgresql":
        with local_postgres("bench") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-readmodel-") as tmp:
            yield f"sqlite:///{tmp}/readmodel.db"


def projector_rate(cluster: LocalCluster, kind: str, events: int, engine_events_per_s: float) -> dict:
    """The projector reads what the worker wrote for the burst, from the start to the ends the topics have
    now, into an empty read model: the seconds until its lag is zero, records/s, and the input events/s
    that is (the burst's events over those seconds) beside the engine's."""
    settings = cluster.settings()
    with read_model_url(kind) as url:
        engine = open_database(url)
        try:
            prepare(engine)
            projector = Projector(settings, engine, RuleBook.from_path(settings.rules_dir))
            started = time.monotonic()
            records = asyncio.run(projector.catch_up())
            seconds = time.monotonic() - started
            lag = sum(s.value for m in projector.metrics.lag.collect() for s in m.samples)
            by_topic = {s.labels["topic"]: int(s.value) for m in projector.metrics.records.collect()
                        for s in m.samples if s.name.endswith("_total")}
        finally:
            engine.dispose()
    return {"kind": f"projector ({kind})", "records": records, "records_per_input_event": round(records / events, 2),
            "seconds_to_zero_lag": round(seconds, 1), "lag_at_end": int(lag), "records_per_s": round(records / seconds),
            "input_events_per_s": round(events / seconds),
            "input_events_per_s/engine_events_per_s": round(events / seconds / engine_events_per_s, 2),
            "records_by_topic": by_topic}


def cpu_ceiling(n: int, members: int) -> dict:
    """``make bench-cpu`` over the same events in one round, in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.engine_cpu"], capture_output=True, text=True, timeout=1800, cwd=ROOT,
        env={**os.environ, "BENCH_CPU_EVENTS": str(n), "BENCH_CPU_MEMBERS": str(members), "BENCH_CPU_ROUNDS": "1"},
    )
    return reported("engine_cpu", out)


def processing_buckets(worker: WorkerProcess) -> list[tuple[float, float]]:
    return [(float(le), float(n)) for le, n in re.findall(
        r'^memberflow_event_processing_seconds_bucket\{le="([^"+]+)"\} (\S+)$', worker.metrics(), re.M)]


def processing_quantiles(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> dict:
    """Upper bucket bounds of p50/p99 of the worker's own time from fetch to outputs acked
    and state stored, for the events between two scrapes."""
    buckets = [(le, n - m) for (le, n), (_, m) in zip(after, before, strict=True)]
    total = max((n for _, n in buckets), default=0.0)
    if not total:
        return {}

    def bound(q: float) -> float:
        return next(le for le, n in buckets if n >= q * total) * 1000

    return {"p50_ms_at_most": bound(0.5), "p99_ms_at_most": bound(0.99)}


def main() -> int:
    n = int(os.environ.get("BENCH_EVENTS", "200000"))
    members = int(os.environ.get("BENCH_MEMBERS", "10000"))
    workdir = ROOT / "bench-results" / "work"
    results: dict = {"events": n, "members": members, "cores": os.cpu_count()}
    with LocalCluster(workdir, partitions=4) as cluster:
        print(f"generating and publishing {n} events for {members} members ...", flush=True)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        events = []
        for event in generate(members, 1, start, days=120):
            events.append(event)
            if len(events) >= n:
                break
        inputs = sorted({str(topic) for topic, _, _ in events})  # every topic the demo stream writes
        t0 = time.monotonic()
        cluster.produce(events)
        results["publish_events_per_s"] = round(n / (time.monotonic() - t0))
        print(f"published at {results['publish_events_per_s']:,} events/s", flush=True)
        rows = []
        for kind in ("bare", "count", "naive"):
            print(f"running the {kind} reference consumer ...", flush=True)
            rows.append(ceiling(kind, cluster, n, inputs))
            print("   ", rows[-1], flush=True)
        print("running the memberflow worker ...", flush=True)
        engine, worker = engine_rate(cluster, n)
        rows.append(engine)
        print("   ", engine, flush=True)
        results["throughput"] = rows
        results["projector"] = []
        for kind in os.environ.get("BENCH_PROJECTOR_DB", "sqlite,postgresql").split(","):
            print(f"running the read-model projector over the worker's outputs into {kind} ...", flush=True)
            results["projector"].append(projector_rate(cluster, kind.strip(), n, engine["events_per_s"]))
            print("   ", results["projector"][-1], flush=True)
        before = processing_buckets(worker)
        results["latency"] = latency(cluster, engine["events_per_s"] / 2, 20, members)
        results["worker_processing"] = processing_quantiles(before, processing_buckets(worker))
        results["worker_peak_rss_mb"] = round(peak_rss_mb(worker.proc.pid), 1)
        data = Path(worker.env["MEMBERFLOW_DATA_DIR"])
        results["state_bytes_per_member"] = round(dir_bytes(data) / members)
        worker.stop()
        print("timing the same stream through a bare aiokafka echo ...", flush=True)
        results["latency_echo"] = echo_latency(cluster, engine["events_per_s"] / 2, 20, members)
    print("timing the engine's own work on the same events without the broker ...", flush=True)
    results["engine_cpu"] = cpu_ceiling(n, members)
    by = {r["kind"]: r["events_per_s"] for r in rows}
    results["ratios"] = {
        "engine/naive": round(by["engine"] / by["naive"], 2),
        "engine/count_only": round(by["engine"] / by["count"], 2),
        "engine/bare_consumer": round(by["engine"] / by["bare"], 4),
    }
    print()
    print(f"{'consumer':<28}{'events/s':>12}")
    for label, kind in (("bare aiokafka (transport)", "bare"), ("Faust count-only (framework)", "count"),
                        ("Faust naive table (baseline)", "naive"), ("memberflow engine", "engine")):
        print(f"{label:<28}{by[kind]:>12,}")
    for p in results["projector"]:
        label = p["kind"]
        results["ratios"][f"{label} input events/engine"] = p["input_events_per_s/engine_events_per_s"]
        print(f"{label:<28}{p['records_per_s']:>12,} records/s = {p['input_events_per_s']:,} input events/s, "
              f"{p['input_events_per_s/engine_events_per_s']}x the engine's ({p['records_per_input_event']} records "
              f"per event); lag back to zero {p['seconds_to_zero_lag']} s after the burst")
    print(f"ratios: {results['ratios']}")
    lat = results["latency"]
    print(f"latency at {lat.get('rate')} ev/s (half the engine's rate, mixed events): p50 {lat.get('p50_ms')} ms, "
          f"p99 {lat.get('p99_ms')} ms, max {lat.get('max_ms')} ms ({lat.get('timed')} of {lat.get('published')} "
          f"events timed: those with a ledger or tier output)")
    echo = results["latency_echo"]
    print(f"the same stream through a bare aiokafka echo (transport floor): p50 {echo.get('p50_ms')} ms, "
          f"p99 {echo.get('p99_ms')} ms, max {echo.get('max_ms')} ms ({echo.get('timed')} events timed)")
    if echo.get("p50_ms") and lat.get("p50_ms"):
        results["ratios"]["latency_p50_engine/echo"] = round(lat["p50_ms"] / echo["p50_ms"], 1)
        results["ratios"]["latency_p99_engine/echo"] = round(lat["p99_ms"] / echo["p99_ms"], 1)
        print(f"latency ratios engine/echo: p50 {results['ratios']['latency_p50_engine/echo']}x, "
              f"p99 {results['ratios']['latency_p99_engine/echo']}x")
    print(f"the worker's own time, fetch -> outputs acknowledged -> state stored, same events: "
          f"p50 <= {results['worker_processing'].get('p50_ms_at_most')} ms, "
          f"p99 <= {results['worker_processing'].get('p99_ms_at_most')} ms (histogram bucket bounds)")
    cpu = results["engine_cpu"]
    results["ratios"]["engine/engine_cpu"] = round(by["engine"] / cpu["events_per_s"], 2)
    print(f"the engine's own work on the same events without the broker (one core, nothing else running): "
          f"{cpu['events_per_s']:,} events/s ({cpu['us_per_event']} µs/event); "
          f"the worker ran at {results['ratios']['engine/engine_cpu']}x that")
    print(f"worker peak RSS {results['worker_peak_rss_mb']} MB; RocksDB {results['state_bytes_per_member']} B/member "
          f"(ledger history, logs and SST overhead included); a member's stored value "
          f"{cpu['stored_bytes_per_member']:,} B, its state {cpu['state_bytes_per_member']:,} B")
    out = ROOT / "bench-results" / "engine.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
