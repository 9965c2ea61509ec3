"""A backlog read in step through Kafka: whichever topic the broker answers first, the engine
sees a partition's member topics in the order of their records' timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.kafka.in_step import FULL_AT
from config.rules import RuleBook
from tests.integration.fixtures import OUTPUTS, consumed_total, effective, replayed, wait_until

MEMBERS = 200
START = datetime(2026, 3, 1, tzinfo=UTC)


def backlog() -> list[tuple[str, str, dict, int]]:
    """Four weeks of a daily login and an order every other day for each member, stamped with
    their event time: deep enough that a partition's logins fill ``FULL_AT`` and more."""
    events = []
    for day in range(28):
        for m in range(MEMBERS):
            member = f"s{m:03d}"
            at = START + timedelta(days=day, minutes=m)
            events.append(("logins", member, {"event_id": f"sl-{day}-{m}", "member_id": member,
                                              "occurred_at": (at + timedelta(hours=8)).isoformat(),
                                              "device_id": "d0"}))
            if day % 2 == m % 2:
                amount = f"{150 + 37 * ((day * m) % 11)}.00"
                items = [{"sku": "sku1", "category": "dairy", "unit_price": amount, "quantity": 1}]
                events.append(("orders", member, {"event_id": f"so-{day}-{m}", "member_id": member,
                                                  "occurred_at": (at + timedelta(hours=15)).isoformat(),
                                                  "type": "order_paid", "order_id": f"so-{day}-{m}",
                                                  "amount": amount, "items": items}))
    return [(topic, key, value, int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000))
            for topic, key, value in events]


def test_a_backlog_published_topic_by_topic_is_applied_in_time_order(cluster, stream_rules):
    """All the logins are published before any order, so the broker has all of them to give first.
    The worker then reads both topics as a backlog: the logins wait in step for the orders (a partition
    with ``FULL_AT`` of them waiting is not fetched until fewer wait), so no event comes after a later one
    of its member: nothing is put in its place late, and the outputs are the replay's in time order."""
    events = backlog()
    logins = [e for e in events if e[0] == "logins"]
    orders = [e for e in events if e[0] == "orders"]
    assert len(logins) > 4 * FULL_AT  # four partitions, each with more logins than a partition's fill
    in_time = sorted(events, key=lambda e: e[3])
    expected = effective(replayed([e[:3] for e in in_time], RuleBook.load(stream_rules)))
    cluster.produce(logins)
    cluster.produce(orders)
    worker = cluster.add_worker("in-step")
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=180, interval=0.2)

    assert consumed_total(worker, "rewound") == 0
    members = {e[1] for e in events}
    live = [v for _, v in cluster.consume(OUTPUTS, idle=1.0) if v.get("member_id") in members]
    assert effective(live) == expected
