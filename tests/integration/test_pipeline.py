"""The real worker, through Kafka: dead letters, routing, lookup, dedupe, live == replay."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import replace

import pytest

from config.rules import RuleBook
from tests.integration.fixtures import (
    OUTPUTS,
    consumed_total,
    effective,
    metric,
    mixed_events,
    replayed,
    wait_until,
)


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("w1")


def order(event_id: str, member: str, amount: str = "230.00", **extra) -> dict:
    return {"event_id": event_id, "member_id": member, "occurred_at": "2026-03-01T10:00:00+08:00",
            "type": "order_paid", "order_id": f"o-{event_id}", "amount": amount, **extra}


def refund(event_id: str, member: str, order_id: str, amount: str, occurred_at: str) -> dict:
    return {"event_id": event_id, "member_id": member, "occurred_at": occurred_at,
            "type": "order_refunded", "order_id": order_id, "amount": amount}


def of_member(outputs, member: str):
    return [(t, v) for t, v in outputs if v.get("member_id") == member]


def test_bad_input_goes_to_dead_letters_with_reason_and_is_counted(cluster, worker):
    before = {r: metric(worker, "memberflow_dead_letters_total", reason=r)
              for r in ("malformed_json", "invalid_event", "oversize_payload", "amount_over_limit")}
    bad = [
        ("orders", "dl1", "{this is not json"),
        ("orders", "dl1", json.dumps({"event_id": "x1", "occurred_at": "2026-03-01T10:00:00+08:00",
                                      "type": "order_paid", "order_id": "o", "amount": "1"})),  # no member_id
        ("orders", "dl1", json.dumps(order("x2", "dl1", amount="abc"))),
        ("orders", "dl1", json.dumps(order("x3", "dl1", amount="-5.00"))),
        ("orders", "dl1", json.dumps(order("x4", "dl1", amount="NaN"))),
        ("orders", "dl1", json.dumps(order("x5", "dl1", amount="1.234"))),
        ("orders", "dl1", json.dumps(order("x6", "dl1", amount="2000000.00"))),
        ("orders", "dl1", json.dumps({**order("x7", "dl1"), "occurred_at": "2026-03-01T10:00:00"})),
        ("orders", "dl1", json.dumps({**order("x8", "dl1"), "type": "order_teleported"})),
        ("complaints", "dl1", json.dumps({"event_id": "x9", "member_id": "dl1", "complaint_id": "c",
                                          "occurred_at": "2026-03-01T10:00:00+08:00", "verdict": "angry"})),
        ("orders", "dl1", json.dumps({**order("x10", "dl1"), "pad": "x" * 70_000})),
        ("orders", "dl1", json.dumps(order("x11", "dl1", amount="1e400"))),
        ("orders", "dl1", json.dumps({"event_id": "x12", "member_id": "dl1", "occurred_at": "2026-03-01T10:00:00+08:00",
                                      "type": "order_refunded", "order_id": "never-paid", "amount": "5"})),
    ]
    cluster.produce(bad)
    cluster.produce([("orders", "dl1", order("good-after-bad", "dl1"))])

    def dead_letters():
        return [v for t, v in cluster.consume(["dead-letters"], idle=0.5, timeout=20) if v["key"] == "dl1"]

    wait_until(lambda: len(dead_letters()) >= len(bad), timeout=60)
    letters = dead_letters()
    reasons = [d["reason"] for d in letters]
    assert reasons.count("malformed_json") == 1
    assert reasons.count("oversize_payload") == 1
    assert reasons.count("amount_over_limit") == 1
    assert reasons.count("refund_without_order") == 1
    assert reasons.count("invalid_event") == len(bad) - 4
    for d in letters:
        assert d["source_topic"] in ("orders", "complaints")
        assert d["partition"] is not None and d["offset"] is not None
        assert d["detail"] and d["payload"]
    missing = next(d for d in letters if '"x1"' in d["payload"])
    assert "member_id" in missing["detail"]

    # the worker kept running and applied the good event that came after
    assert worker.proc.poll() is None
    wait_until(lambda: worker.get_json("/members/dl1")[0] == 200)
    status, body = worker.get_json("/members/dl1")
    assert body["points"]["balance"] == 244  # 230 base + 10 threshold + 4 step: nothing of the bad ones
    assert metric(worker, "memberflow_dead_letters_total", reason="invalid_event") >= before["invalid_event"] + 8
    assert metric(worker, "memberflow_dead_letters_total", reason="oversize_payload") == before["oversize_payload"] + 1


def test_a_bad_evaluate_command_is_dead_lettered_with_its_reason_and_counted(cluster, worker):
    """An ``as_of`` in epoch seconds or without an offset is refused, never read as some moment of 1970."""
    reasons = ("implausible_time", "invalid_event")
    before = {r: metric(worker, "memberflow_dead_letters_total", reason=r) for r in reasons}
    cluster.produce([("commands", "bad-cmd", {"type": "evaluate", "as_of": 12345}),
                     ("commands", "bad-cmd", {"type": "evaluate", "as_of": "2026-03-01T10:00:00"})])

    def letters():
        return [v for _, v in cluster.consume(["dead-letters"], idle=0.5, timeout=20) if v["key"] == "bad-cmd"]

    wait_until(lambda: len(letters()) >= 2, timeout=60)
    found = sorted((d["reason"], d["detail"].split(":")[0], d["source_topic"]) for d in letters())
    assert found == [("implausible_time", "as_of", "commands"), ("invalid_event", "as_of", "commands")]
    assert metric(worker, "memberflow_dead_letters_total", reason="implausible_time") == before["implausible_time"] + 1
    assert metric(worker, "memberflow_dead_letters_total", reason="invalid_event") == before["invalid_event"] + 1
    assert worker.proc.poll() is None


def test_an_event_keyed_wrong_still_reaches_its_member(cluster, worker):
    cluster.produce([
        ("orders", "not-the-member", order("rk1", "rk-member")),
        ("orders", None, order("rk2", "rk-member", amount="100.00")),
    ])
    wait_until(lambda: worker.get_json("/members/rk-member")[0] == 200
               and worker.get_json("/members/rk-member")[1]["points"]["balance"] == 244 + 102)
    assert consumed_total(worker, "forwarded") >= 1


def test_lookup_reports_tier_points_growth_spend(cluster, worker):
    cluster.produce([
        ("orders", "lk1", {**order("lk-a", "lk1", amount="600.00"), "occurred_at": "2026-03-01T10:00:00+08:00"}),
        ("reviews", "lk1", {"event_id": "lk-b", "member_id": "lk1", "occurred_at": "2026-03-01T11:00:00+08:00",
                            "review_id": "r1"}),
    ])
    wait_until(lambda: worker.get_json("/members/lk1")[1] is not None
               and worker.get_json("/members/lk1")[1].get("growth") == 605)
    status, body = worker.get_json("/members/lk1?as_of=2026-03-02T00:00:00%2B08:00")
    assert status == 200
    assert body["tier"] == "GOLD"
    assert body["spend_30d"] == "600.00" and body["spend_365d"] == "600.00"
    assert body["points"]["spendable"] == body["points"]["balance"] > 0
    assert body["status"] == "active"
    assert worker.get_json("/members/nobody-here")[0] == 404
    assert worker.get_json("/members/lk1?tenant_id=other-tenant")[0] == 404


def test_the_member_api_answers_a_service_token_for_its_tenant_only(cluster, worker):
    wait_until(lambda: worker.get_json("/members/lk1")[0] == 200)
    as_acme = replace(worker, token=cluster.service_token("acme", "acme shop"))
    anonymous = replace(worker, token=None)
    for path in ("/members/lk1", "/members/lk1/ledger", "/members/lk1/badges/wealth", "/business-lines"):
        assert anonymous.get_json(path)[0] == 401, path
    assert replace(worker, token=worker.token + "x").get_json("/members/lk1")[0] == 401
    assert as_acme.get_json("/members/lk1")[0] == 404  # a member of the tenant `default`
    assert as_acme.get_json("/members/lk1?tenant_id=default")[0] == 404
    assert as_acme.get_json("/members/lk1/ledger?tenant_id=default")[0] == 404
    assert as_acme.get_json("/business-lines")[1]["tenant_id"] == "acme"
    body = json.dumps({"kind": "coupon", "request_id": "tok-1", "denomination": "10", "tenant_id": "default"}).encode()
    for who, status in ((anonymous, 401), (as_acme, 404)):
        request = urllib.request.Request(f"{worker.url}/members/lk1/redemptions", data=body, method="POST",
                                         headers={"Content-Type": "application/json", **who.headers()})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == status


def test_redelivered_events_change_nothing(cluster, worker):
    events = [("orders", "dup1", order(f"dup-{i}", "dup1", amount="50.00")) for i in range(5)]
    cluster.produce(events)
    wait_until(lambda: worker.get_json("/members/dup1")[1] is not None
               and worker.get_json("/members/dup1")[1].get("points", {}).get("lifetime_earned") == 255)
    dupes_before = consumed_total(worker, "duplicate")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker, "duplicate") >= dupes_before + 5)
    assert worker.get_json("/members/dup1")[1]["points"]["balance"] == 255
    ledger = [v for t, v in cluster.consume(["points-ledger"], idle=0.5) if v["member_id"] == "dup1"]
    assert len(ledger) == len({v["entry_id"] for v in ledger}) == 5 * 2  # base + step bonus, once each


def test_live_outputs_equal_offline_replay_however_the_topics_interleave(cluster, worker, stream_rules):
    """Thousands of events of every time-ordered kind, all topics produced at once as fast as
    the producer can: the worker sees them in whatever order the fetches bring, the offline
    replay in time order, and the outputs in force are the same.  Every member's ledger
    balances are the running balance as published."""
    events = mixed_events(4000, members=300, seed=11, order_sensitive=False)
    expected = effective(replayed(events, RuleBook.load(stream_rules)))
    consumed = consumed_total(worker)
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= consumed + len(events), timeout=180, interval=0.2)

    members = {k for _, k, _ in events}
    live = [v for _, v in cluster.consume(OUTPUTS, idle=1.0)
            if v.get("member_id") in members and (v.get("cause_event_id") or "").startswith("ev-11-")]
    assert effective(live) == expected
    assert consumed_total(worker, "rewound") > 0, "the topics must have interleaved out of time order"
    retracted = metric(worker, "memberflow_outputs_retracted_total", topic="points-ledger")
    assert retracted == sum(1 for v in live if v.get("retracts") and "entry_id" in v)
    balances: dict[str, int] = defaultdict(int)
    for entry in (v for v in live if "entry_id" in v):
        balances[entry["member_id"]] += entry["delta"]
        assert entry["balance"] == balances[entry["member_id"]]


def test_an_order_past_order_days_is_neither_refundable_nor_a_duplicate(cluster, worker):
    """``retention.order_days`` (400 shipped) holds to the second through Kafka, though
    an order leaves the state only when the event day turns: a member whose latest
    event is exactly 400 days after the payment can still refund it; another, one
    second later on the same day, cannot, and paying the same order id again is a new
    order, not a duplicate."""
    paid_at, morning = "2025-01-01T10:00:00+08:00", "2026-02-05T09:00:00+08:00"
    edge, past = "2026-02-05T10:00:00+08:00", "2026-02-05T10:00:01+08:00"
    # one topic, one key: the events of a member are applied in this order
    events = []
    for member, latest in (("od-kept", edge), ("od-aged", past)):
        events += [
            ("orders", member, order(f"{member}-pay", member, amount="100.00", occurred_at=paid_at, order_id="od-o")),
            # the day turns and an order is added while od-o is within order_days: it stays in the state
            ("orders", member, order(f"{member}-next", member, amount="50.00", occurred_at=morning,
                                     order_id=f"{member}-x")),
            # the latest event: no new day, no order added
            ("orders", member, refund(f"{member}-partly", member, f"{member}-x", "10.00", latest)),
            ("orders", member, refund(f"{member}-refund", member, "od-o", "100.00", latest)),
        ]
    events.append(("orders", "od-aged", order("od-aged-again", "od-aged", amount="100.00", occurred_at=past,
                                              order_id="od-o")))
    cluster.produce(events)

    def caused(topic: str) -> dict[str, list[dict]]:
        by_cause = defaultdict(list)
        for _, v in cluster.consume([topic], idle=0.5, timeout=20):
            if (v.get("member_id") or "").startswith("od-"):
                by_cause[v["cause_event_id"]].append(v)
        return by_cause

    wait_until(lambda: "od-aged-again" in caused("points-ledger") and "od-aged-refund" in caused("dead-letters"))
    ledger, letters = caused("points-ledger"), caused("dead-letters")
    assert sum(e["delta"] for e in ledger["od-kept-refund"]) == -sum(e["delta"] for e in ledger["od-kept-pay"]) < 0
    assert [d["reason"] for d in letters["od-aged-refund"]] == ["refund_without_order"]
    assert "od-aged-refund" not in ledger and "od-kept-refund" not in letters
    assert sum(e["delta"] for e in ledger["od-aged-again"]) == sum(e["delta"] for e in ledger["od-aged-pay"]) > 0
    status, body = worker.get_json("/members/od-aged")
    aged = [e for entries in ledger.values() for e in entries if e["member_id"] == "od-aged"]
    assert status == 200 and body["points"]["balance"] == sum(e["delta"] for e in aged)


def test_a_busy_member_s_late_event_is_put_in_its_place_after_the_journal_folded_at_a_checkpoint(
        cluster, worker, stream_rules):
    """Four orders a day for fifty days, read by the worker in batches (it stores the member after
    each): the journal keeps checkpoints and, with the 35-day lateness of these rules, folds at one
    once it has aged, replaying nothing.  A login three days behind the latest order is then put in
    its place from that base, and an order after it is credited on the balance that base gives:
    the outputs in force equal the replay's in time order, and every ledger balance is the running
    balance as published (a fold that lost an entry fails here)."""
    member = "busy-cp"

    def paid(i: int) -> tuple[str, str, dict]:
        day = f"2026-01-{1 + i // 4:02d}" if i < 124 else f"2026-02-{1 + (i - 124) // 4:02d}"
        return "orders", member, order(f"bcp-{i}", member, amount="120.00", order_id=f"bcp-o{i}",
                                       occurred_at=f"{day}T{8 + i % 4 * 3:02d}:00:00+08:00")

    orders = [paid(i) for i in range(200)]
    late = ("logins", member, {"event_id": "bcp-late", "member_id": member, "device_id": "d0",
                               "occurred_at": "2026-02-16T09:00:00+08:00"})
    for start in range(0, len(orders), 20):  # in batches: the member is stored between them
        consumed = consumed_total(worker)
        cluster.produce(orders[start:start + 20])
        wait_until(lambda c=consumed: consumed_total(worker) >= c + 20, timeout=60, interval=0.2)
    rewound = consumed_total(worker, "rewound")
    cluster.produce([late])
    wait_until(lambda: consumed_total(worker, "rewound") > rewound, timeout=60, interval=0.2)
    consumed = consumed_total(worker)
    cluster.produce([paid(200)])
    wait_until(lambda: consumed_total(worker) >= consumed + 1, timeout=60, interval=0.2)

    events = sorted([*orders, late, paid(200)], key=lambda e: e[2]["occurred_at"])
    live = [v for _, v in cluster.consume(OUTPUTS, idle=1.0) if v.get("member_id") == member]
    assert effective(live) == effective(replayed(events, RuleBook.load(stream_rules)))
    running = 0
    for entry in (v for v in live if "entry_id" in v):
        running += entry["delta"]
        assert entry["balance"] == running
