"""Points consumption through the real workers and broker: requests on the
``redemptions`` topic and over HTTP (answered synchronously, from either
worker), hundreds of concurrent requests for one member that can never
overdraw it, gifting between members owned by different workers, and the
ledger history pages."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agents.kafka.routing import partition_for
from tests.integration.fixtures import wait_until

FUND_AT = "2026-03-01T10:00:00+08:00"
AT = "2026-03-05T10:00:00+08:00"


@pytest.fixture(scope="module")
def workers(cluster):
    return cluster.add_worker("w1"), cluster.add_worker("w2")


def post(worker, member: str, body: dict[str, Any], timeout: float = 30) -> tuple[int, Any]:
    req = urllib.request.Request(f"{worker.url}/members/{member}/redemptions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **worker.headers()}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def balance(worker, member: str) -> int | None:
    status, body = worker.get_json(f"/members/{member}")
    return body["points"]["balance"] if status == 200 else None


def fund(cluster, worker, member: str, amount: str = "9000.00") -> int:
    cluster.produce([("orders", member, {"event_id": f"fund-{member}", "member_id": member, "occurred_at": FUND_AT,
                                         "type": "order_paid", "order_id": f"fund-{member}", "amount": amount})])
    wait_until(lambda: balance(worker, member) is not None)
    return balance(worker, member)


def owners(worker) -> dict[int, str]:
    """partition -> URL of the worker that owns it (Faust's router view)."""
    _, table = worker.get_json("/router/")
    out = {}
    for host, topics in table.items():
        for topic, partitions in topics.items():
            if topic.endswith("members-v1-changelog"):
                out.update({p: host for p in partitions})
    return out


def member_owned_by(worker_url: str, table: dict[int, str], prefix: str, partitions: int = 4) -> str:
    for i in range(1000):
        member = f"{prefix}{i}"
        if table.get(partition_for(member, partitions), "").rstrip("/") == worker_url:
            return member
    raise AssertionError(f"no member on {worker_url}")


def results_of(cluster, member: str, until: int | None = None) -> list[dict]:
    return [v for t, v in cluster.consume(["redemption-results"], until=until, idle=1.0)
            if v["member_id"] == member]


def test_requests_on_the_topic_are_answered_on_redemption_results(cluster, workers):
    w1, _ = workers
    start = fund(cluster, w1, "rt-1")
    cluster.produce([
        ("redemptions", "rt-1", {"request_id": "rt-1-a", "member_id": "rt-1", "occurred_at": AT, "kind": "coupon",
                                 "denomination": "20", "quantity": 2}),
        ("redemptions", "rt-1", {"request_id": "rt-1-b", "member_id": "rt-1", "occurred_at": AT, "kind": "coupon",
                                 "denomination": "30"}),
        ("redemptions", "rt-1", {"request_id": "rt-1-a", "member_id": "rt-1", "occurred_at": AT, "kind": "coupon",
                                 "denomination": "20", "quantity": 2}),  # a retry
        ("redemptions", "rt-1", {"request_id": "rt-1-c", "member_id": "rt-1", "occurred_at": AT, "kind": "coupon"}),
    ])
    wait_until(lambda: len(results_of(cluster, "rt-1")) >= 3)
    results = results_of(cluster, "rt-1")
    by_id = defaultdict(list)
    for r in results:
        by_id[r["request_id"]].append(r)
    assert set(by_id) == {"rt-1-a", "rt-1-b"}
    assert len(by_id["rt-1-a"]) == 2 and by_id["rt-1-a"][0] == by_id["rt-1-a"][1]  # the retry got the first answer
    accepted, rejected = by_id["rt-1-a"][0], by_id["rt-1-b"][0]
    assert accepted["status"] == "accepted" and accepted["points_spent"] == 400
    assert rejected["status"] == "rejected" and rejected["reason"] == "invalid_denomination"
    assert balance(w1, "rt-1") == start - 400
    grants: list[dict] = []
    letters: list[dict] = []

    def arrived() -> bool:  # each output topic on its own: they arrive independently
        grants[:] = [v for t, v in cluster.consume(["benefit-grants"], idle=0.5) if v["member_id"] == "rt-1"
                     and v["benefit"] == "points_coupon"]
        letters[:] = [v for t, v in cluster.consume(["dead-letters"], idle=0.5) if v.get("member_id") == "rt-1"
                      or v.get("key") == "rt-1"]
        return bool(grants) and bool(letters)

    wait_until(arrived, timeout=60)
    assert len({g["grant_id"] for g in grants}) == 1 and grants[0]["quantity"] == 2
    assert [d["source_topic"] for d in letters] == ["redemptions"]  # rt-1-c had no denomination


def test_http_answers_synchronously_from_either_worker(cluster, workers):
    w1, w2 = workers
    start = fund(cluster, w1, "http-1")
    body = {"request_id": "h-1", "kind": "coupon", "denomination": "10", "occurred_at": AT}
    answers = [post(w, "http-1", body) for w in (w1, w2, w1)]
    assert [s for s, _ in answers] == [200, 200, 200]
    assert answers[0][1] == answers[1][1] == answers[2][1]  # the same answer, whoever asks, however often
    assert answers[0][1]["status"] == "accepted" and answers[0][1]["points_spent"] == 100
    assert balance(w2, "http-1") == start - 100

    status, rejected = post(w2, "http-1", {"request_id": "h-2", "kind": "merchandise", "item_id": "no-such-item"})
    assert status == 200 and rejected["status"] == "rejected" and rejected["reason"] == "unknown_item"
    status, quote = post(w1, "http-1", {"request_id": "h-3", "kind": "points_cash", "order_id": "o1",
                                        "order_amount": "100.00", "quote_only": True})
    # points may pay all of an order by default (seed 001), and the member has enough for all of it
    assert status == 200 and quote["granted"]["points_value"] == "100.00" and quote["points_spent"] == 0
    assert quote["granted"]["parts"] == [{"points_per_yuan": 10, "value": "100.00", "points": 1000}]
    assert post(w1, "http-1", {"request_id": "h-4", "kind": "coupon"})[0] == 422
    assert post(w2, "http-1", {"request_id": "h-5", "kind": "coupon", "denomination": "10",
                               "member_id": "someone-else"})[0] == 400
    assert balance(w1, "http-1") == start - 100


def test_concurrent_requests_over_http_and_kafka_never_overdraw(cluster, workers):
    """Hundreds of requests for one member at once, half over HTTP (to both
    workers), half straight to Kafka, with retries (HTTP ones racing their
    original, Kafka ones sent twice): every request is answered exactly once,
    the accepted ones never spend more than there was, and the ledger adds up
    to the balance."""
    w1, w2 = workers
    member = "race-1"
    start = fund(cluster, w1, member)
    assert start >= 5000
    http_ids = [f"race-h{i}" for i in range(240)]
    kafka_ids = [f"race-k{i}" for i in range(240)]

    def body(request_id: str) -> dict[str, Any]:
        return {"request_id": request_id, "member_id": member, "occurred_at": AT, "kind": "coupon",
                "denomination": "10"}  # 100 points each

    http_answers: dict[str, list[dict]] = defaultdict(list)
    lock = threading.Lock()

    def call(i_and_id: tuple[int, str]) -> None:
        i, request_id = i_and_id
        status, answer = post((w1, w2)[i % 2], member, body(request_id))
        assert status == 200, (status, answer)
        with lock:
            http_answers[request_id].append(answer)

    def kafka() -> None:
        for i in range(0, len(kafka_ids), 20):
            chunk = kafka_ids[i:i + 20]
            cluster.produce([("redemptions", member, body(r)) for r in chunk + chunk[:5]])

    calls = list(enumerate(http_ids)) + [(i + 1, r) for i, r in enumerate(http_ids) if i % 6 == 0]
    calls.sort(key=lambda c: (int(c[1][6:]), c[0]))  # each retry right next to its original
    producer = threading.Thread(target=kafka)
    producer.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(call, calls))
    producer.join()

    everyone = set(http_ids) | set(kafka_ids)
    wait_until(lambda: {r["request_id"] for r in results_of(cluster, member)} >= everyone, timeout=120)
    results = results_of(cluster, member)
    answers: dict[str, set[str]] = defaultdict(set)
    unique: dict[str, dict] = {}
    for r in results:
        answers[r["request_id"]].add(json.dumps(r, sort_keys=True))
        unique[r["result_id"]] = r
    assert set(answers) == everyone
    assert all(len(a) == 1 for a in answers.values())  # one answer per request, however often it was sent
    assert len(unique) == len(everyone)
    retried = [r for r, got in http_answers.items() if len(got) > 1]
    assert len(retried) == 40
    for request_id, got in http_answers.items():
        assert all(a == got[0] for a in got) and json.dumps(got[0], sort_keys=True) in answers[request_id]

    accepted = [r for r in unique.values() if r["status"] == "accepted"]
    rejected = [r for r in unique.values() if r["status"] == "rejected"]
    assert {r["reason"] for r in rejected} == {"insufficient_points"}
    spent = sum(r["points_spent"] for r in accepted)
    assert spent == 100 * len(accepted) <= start
    assert start - spent < 100  # it stopped only when the next coupon no longer fitted
    assert min(r["balance_after"] for r in unique.values()) >= 0

    final = balance(w2, member)
    assert final == start - spent >= 0
    entries = {v["entry_id"]: v for t, v in cluster.consume(["points-ledger"], idle=1.0) if v["member_id"] == member}
    assert sum(e["delta"] for e in entries.values()) == final
    assert len([e for e in entries.values() if e["rule"] == "coupon"]) == len(accepted)


def test_gifting_between_members_of_different_workers(cluster, workers):
    w1, w2 = workers
    table = owners(w1)
    a = member_owned_by(w1.url, table, "giver-")
    b = member_owned_by(w2.url, table, "taker-")
    start = fund(cluster, w1, a, "1000.00")

    # A offers 300 (asking the worker that does not own A); B accepts (asking the one that does not own B)
    status, held = post(w2, a, {"request_id": "gift-1", "kind": "gift", "to_member_id": b, "points": 300,
                                "occurred_at": AT})
    assert status == 200 and held["status"] == "accepted" and held["balance_after"] == start - 300
    gift_id = held["granted"]["gift_id"]

    def gifts(worker, member: str, side: str) -> dict[str, dict]:
        status, body = worker.get_json(f"/members/{member}")
        return {g["gift_id"]: g for g in body["redemptions"][side]} if status == 200 else {}

    wait_until(lambda: gifts(w2, b, "gifts_received").get(gift_id, {}).get("status") == "offered")
    status, answer = post(w1, b, {"request_id": "gift-1-yes", "kind": "gift_respond", "gift_id": gift_id,
                                  "accept": True, "occurred_at": "2026-03-06T10:00:00+08:00"})
    assert status == 200 and answer["status"] == "accepted"
    wait_until(lambda: balance(w1, b) == 300)
    assert gifts(w2, b, "gifts_received")[gift_id]["status"] == "credited"
    assert gifts(w1, a, "gifts_sent")[gift_id]["status"] == "transferred"
    assert balance(w2, a) == start - 300

    # a rejected gift comes back
    _, second = post(w1, a, {"request_id": "gift-2", "kind": "gift", "to_member_id": b, "points": 200,
                             "occurred_at": AT})
    wait_until(lambda: second["granted"]["gift_id"] in gifts(w1, b, "gifts_received"))
    post(w2, b, {"request_id": "gift-2-no", "kind": "gift_respond", "gift_id": second["granted"]["gift_id"],
                 "accept": False, "occurred_at": "2026-03-06T10:00:00+08:00"})
    wait_until(lambda: balance(w1, a) == start - 300)

    # an unanswered gift comes back once the giver's event time passes the deadline
    _, third = post(w1, a, {"request_id": "gift-3", "kind": "gift", "to_member_id": b, "points": 100,
                            "occurred_at": "2026-03-10T10:00:00+08:00"})
    assert third["balance_after"] == start - 400
    wait_until(lambda: third["granted"]["gift_id"] in gifts(w2, b, "gifts_received"))
    _, later = post(w2, a, {"request_id": "late-coupon", "kind": "coupon", "denomination": "10",
                            "occurred_at": "2026-03-17T10:00:00+08:00"})
    assert later["status"] == "accepted" and later["balance_after"] == start - 300 - 100
    wait_until(lambda: gifts(w1, b, "gifts_received")[third["granted"]["gift_id"]]["status"] == "expired")

    ledger_b = worker_ledger(w1, b)
    assert [(e["kind"], e["rule"], e["delta"]) for e in ledger_b] == [("earn", "gift", 300)]
    rules_a = [e["rule"] for e in reversed(worker_ledger(w2, a)) if e["rule"].startswith(("gift", "coupon"))]
    assert rules_a == ["gift_hold", "gift_hold", "gift_return", "gift_hold", "gift_return", "coupon"]


def worker_ledger(worker, member: str, **query: str) -> list[dict]:
    params = "&".join(f"{k}={v}" for k, v in {"limit": "500", **query}.items())
    status, body = worker.get_json(f"/members/{member}/ledger?{params}")
    assert status == 200, body
    return body["entries"]


def test_ledger_history_pages_newest_first(cluster, workers):
    w1, w2 = workers
    member = "hist-1"
    fund(cluster, w1, member)
    for i in range(3):
        assert post(w1, member, {"request_id": f"hist-c{i}", "kind": "coupon", "denomination": "10",
                                 "occurred_at": AT})[0] == 200
    published = [v for t, v in cluster.consume(["points-ledger"], idle=1.0) if v["member_id"] == member]
    everything = worker_ledger(w2, member)
    assert [e["entry_id"] for e in everything] == [e["entry_id"] for e in reversed(published)]
    assert [e["seq"] for e in everything] == list(range(len(published) - 1, -1, -1))

    pages, cursor = [], None
    while True:
        query = f"limit=2&before={cursor}" if cursor else "limit=2"
        status, body = (w1, w2)[len(pages) % 2].get_json(f"/members/{member}/ledger?{query}")
        assert status == 200 and len(body["entries"]) <= 2
        pages.append(body["entries"])
        cursor = body["next_before"]
        if cursor is None:
            break
    assert [e for page in pages for e in page] == everything

    spends = worker_ledger(w1, member, kind="spend")
    assert [e["rule"] for e in spends] == ["coupon"] * 3
    assert {e["kind"] for e in worker_ledger(w1, member, kind="earn")} == {"earn"}
    assert w1.get_json(f"/members/{member}/ledger?kind=bogus")[0] == 400
    assert worker_ledger(w1, "nobody-at-all") == []


def test_ledger_history_stays_in_sequence_while_a_member_moves_between_workers(cluster, workers):
    """History rows stay one consecutive sequence while the member's partition
    moves between workers (one stopped and started twice), each worker keeping
    the heads it wrote lately (``KnownHeads``).  Whether the partition goes back
    to w1 after a restart is the assignor's choice, so this does not prove that
    a worker forgets its heads on a rebalance (tests/unit/test_redemptions_history.py does)."""
    w1, w2 = workers
    wait_until(lambda: {url.rstrip("/") for url in owners(w2).values()} == {w1.url, w2.url})
    member = member_owned_by(w1.url, owners(w2), "moving-")

    def ledger_of(worker) -> list[dict] | None:
        try:
            status, body = worker.get_json(f"/members/{member}/ledger?limit=500")
        except (OSError, ValueError):  # routed to the stopped worker until the rebalance ends
            return None
        return body["entries"] if status == 200 else None

    def pay(n: int, reader) -> None:
        before = len(ledger_of(reader) or [])
        cluster.produce([("orders", member, {
            "event_id": f"moving-{n}", "member_id": member, "type": "order_paid", "order_id": f"moving-o{n}",
            "amount": "120.00", "occurred_at": f"2026-03-0{n}T10:00:00+08:00"})])
        wait_until(lambda: len(ledger_of(reader) or []) > before)

    pay(1, w2)  # written by w1, its owner
    w1.stop()
    pay(2, w2)  # w2 owns every partition: it writes and keeps the member's head
    cluster.restart(w1)
    pay(3, w2)  # the member's partition back on w1 (usually): w1 reads the head row
    w1.stop()
    pay(4, w2)  # w2 again: it must not use the head it kept before the member moved
    cluster.restart(w1)

    published = [v for t, v in cluster.consume(["points-ledger"], idle=1.0) if v["member_id"] == member]
    assert {v["cause_event_id"] for v in published} == {f"moving-{n}" for n in range(1, 5)}
    history = ledger_of(w2)
    assert history is not None
    assert [e["entry_id"] for e in history] == [e["entry_id"] for e in reversed(published)]
    assert [e["seq"] for e in history] == list(range(len(published) - 1, -1, -1))
