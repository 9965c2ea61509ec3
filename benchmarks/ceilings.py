"""Reference consumers on the same topic as the engine, for ceilings and baseline.

    python -m benchmarks.ceilings bare|count|naive BOOTSTRAP TOPIC[,TOPIC...] N DATADIR
    python -m benchmarks.ceilings echo BOOTSTRAP TOPIC[,TOPIC...] OUTPUT_TOPIC

``bare``: an aiokafka consumer + json.loads (the transport's ceiling);
``count``: a Faust agent that only counts (the framework's ceiling);
``naive``: a Faust agent writing one RocksDB table key per event (the baseline).
Prints one JSON line: {"kind", "events", "seconds", "events_per_s"}.

``echo`` (the transport's latency floor): an aiokafka consumer that answers every
new event with ``{"cause_event_id": ...}`` on OUTPUT_TOPIC, a fetch's answers sent
and acknowledged together, as the worker does with its outputs; runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


async def bare(bootstrap: str, topic: str, n: int) -> tuple[int, float]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topic.split(","), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    seen, start = 0, None
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for record in records:
                    try:
                        json.loads(record.value)
                    except ValueError:
                        pass  # the mixed stream holds deliberately malformed events
                    if start is None:
                        start = time.perf_counter()
                    seen += 1
    finally:
        await consumer.stop()
    return seen, time.perf_counter() - (start or time.perf_counter())


async def echo(bootstrap: str, topic: str, output: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(*topic.split(","), bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    await consumer.getmany(timeout_ms=1000)  # positions taken: only what is published from now on
    print(json.dumps({"kind": "echo", "ready": True}), flush=True)
    while True:
        batch = await consumer.getmany(timeout_ms=1000)
        sent = []
        for records in batch.values():
            for record in records:
                try:
                    cause = json.loads(record.value).get("event_id")
                except (ValueError, AttributeError):
                    continue
                if cause:
                    sent.append(await producer.send(output, json.dumps({"cause_event_id": cause}).encode()))
        await asyncio.gather(*sent)


def faust_app(kind: str, bootstrap: str, topic: str, n: int, datadir: str) -> None:
    import faust

    app = faust.App(f"ceiling-{kind}-{os.getpid()}", broker=f"kafka://{bootstrap}", store="rocksdb://",
                    datadir=datadir, web_enabled=False, broker_session_timeout=10,
                    recovery_consistency_check=False, topic_partitions=4)
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(*topic.split(","), **raw)
    table = app.Table(f"naive-{os.getpid()}", default=int, partitions=4) if kind == "naive" else None
    state = {"seen": 0, "start": None}

    @app.agent(source)
    async def consume(stream):
        async for _key, value in stream.items():
            try:
                event = json.loads(value)
            except ValueError:
                event = {}
            if state["start"] is None:
                state["start"] = time.perf_counter()
            if table is not None:
                table[str(event.get("member_id"))] += 1
            state["seen"] += 1
            if state["seen"] >= n:
                seconds = time.perf_counter() - state["start"]
                print(json.dumps({"kind": kind, "events": n, "seconds": round(seconds, 2),
                                  "events_per_s": round(n / seconds)}), flush=True)
                os._exit(0)

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


def main() -> None:
    kind, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    if kind == "echo":
        asyncio.run(echo(bootstrap, topic, sys.argv[4]))
    elif kind == "bare":
        seen, seconds = asyncio.run(bare(bootstrap, topic, int(sys.argv[4])))
        print(json.dumps({"kind": kind, "events": seen, "seconds": round(seconds, 2),
                          "events_per_s": round(seen / seconds)}), flush=True)
    else:
        faust_app(kind, bootstrap, topic, int(sys.argv[4]), sys.argv[5])


if __name__ == "__main__":
    main()
