"""`make bench-quote`: the checkout quote on a warm worker, beside the worker's own member lookup.

One embedded broker, one worker, 4 partitions.  The demo stream (BENCH_QUOTE_EVENTS
events, default 20,000, for BENCH_QUOTE_MEMBERS members, default 2,000) is
published and consumed first, so the members have tiers, points and benefits.
Then, over one keep-alive HTTP connection with a service token, in turns of 100:

- ``POST /members/{id}/quote`` with a three-line cart, a coupon the member holds
  when it holds one, and points to pay with (the engine prices the cart, runs the
  order on a copy of the state for the points it would earn, and splits points
  and cash), as of the stream's last event;
- ``GET /members/{id}``: the same routing, token check and state read with a
  summary instead of a quote -- the reference in the same run.

BENCH_QUOTE_REQUESTS (default 3,000) of each after 300 of each to warm up.
Prints p50 / p99 / max of each and their ratio; writes bench-results/quote.json.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

from benchmarks.engine import consumed
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.dev.demo.stream import generate

ROOT = Path(__file__).resolve().parents[1]
TURN = 100


def cart(coupons: list[str], at: str) -> bytes:
    return json.dumps({"at": at,
        "items": [{"sku": "apple", "category": "fresh", "unit_price": "12.50", "quantity": 4},
                  {"sku": "kettle", "category": "home", "unit_price": "189.00", "quantity": 1},
                  {"sku": "tv", "category": "electronics", "unit_price": "2399.00", "quantity": 1}],
        "shipping_fee": "8", "coupons": coupons[:1], "points": 500}).encode()


def timed(conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body: bytes | None) -> float:
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
    return elapsed


def figures(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"requests": len(samples), "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2), "max_ms": round(ordered[-1], 2)}


def held_coupons(worker: WorkerProcess, members: list[str], at: str) -> dict[str, list[str]]:
    held = {}
    for member in members:
        status, view = worker.get_json(f"/members/{member}/entitlements?as_of={quote_plus(at)}")
        held[member] = [b["benefit_id"] for b in view["benefits"]] if status == 200 else []
    return held


def main() -> int:
    n = int(os.environ.get("BENCH_QUOTE_EVENTS", "20000"))
    members = int(os.environ.get("BENCH_QUOTE_MEMBERS", "2000"))
    requests = int(os.environ.get("BENCH_QUOTE_REQUESTS", "3000"))
    with LocalCluster(ROOT / "bench-results" / "work-quote", partitions=4) as cluster:
        events = []
        for event in generate(members, 3, datetime(2026, 1, 1, tzinfo=UTC), days=60):
            events.append(event)
            if len(events) >= n:
                break
        cluster.produce(events)
        worker = cluster.add_worker("quote")
        print(f"{len(events):,} demo events published; waiting for the worker ...", flush=True)
        while consumed(worker) < len(events):
            time.sleep(0.5)
        ids = sorted({key for _, key, _ in events if key})
        rng = random.Random(7)
        sample = rng.sample(ids, min(200, len(ids)))
        at = max(v["occurred_at"] for _, _, v in events if isinstance(v, dict) and "occurred_at" in v)
        coupons = held_coupons(worker, sample, at)  # as of the stream's end, as the quotes are
        conn = http.client.HTTPConnection(worker.host, worker.web_port, timeout=30)
        headers = {"Content-Type": "application/json", **worker.headers()}
        quotes: list[float] = []
        lookups: list[float] = []
        for turn in range((requests + 300) // TURN):
            warm = turn * TURN < 300
            for member in rng.choices(sample, k=TURN):
                q = timed(conn, "POST", f"/members/{member}/quote", headers, cart(coupons[member], at))
                if not warm:
                    quotes.append(q)
            for member in rng.choices(sample, k=TURN):
                g = timed(conn, "GET", f"/members/{member}", headers, None)
                if not warm:
                    lookups.append(g)
        conn.close()
    results = {"events": len(events), "members": members, "with_a_coupon": sum(1 for c in coupons.values() if c),
               "quote": figures(quotes), "member_lookup": figures(lookups)}
    results["ratios"] = {"quote/lookup_p50": round(results["quote"]["p50_ms"] / results["member_lookup"]["p50_ms"], 2),
                         "quote/lookup_p99": round(results["quote"]["p99_ms"] / results["member_lookup"]["p99_ms"], 2)}
    print(f"quote          p50 {results['quote']['p50_ms']} ms, p99 {results['quote']['p99_ms']} ms, "
          f"max {results['quote']['max_ms']} ms ({len(quotes)} requests, "
          f"{results['with_a_coupon']} of {len(sample)} members with a coupon)")
    print(f"member lookup  p50 {results['member_lookup']['p50_ms']} ms, p99 {results['member_lookup']['p99_ms']} ms, "
          f"max {results['member_lookup']['max_ms']} ms (the same worker, routing, token and state read)")
    print(f"ratios: {results['ratios']}")
    out = ROOT / "bench-results" / "quote.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
