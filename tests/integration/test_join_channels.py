"""Joining a merchant's plan by registration, invitation, spend threshold and operator grant, through Kafka
(engine/join_channels.py): each publishes one `joined` membership change naming its channel and issues the card
and the bound coupon once, whatever is redelivered; a grant of a level not listing operator_grant is refused."""

from __future__ import annotations

import pytest

from tests.engine.plan_fixtures import club_steps
from tests.integration.fixtures import member_outputs, wait_until

AT = "2026-03-05T10:{minute:02d}:00+08:00"


def joined(cluster, member: str) -> list[tuple[str, str, str]]:
    return [(c["kind"], c["level_id"], c["channel"]) for c in member_outputs(cluster, "membership-changes", member)]


def registration(member: str, minute: int, **extra) -> tuple[str, str, dict]:
    return ("registrations", member, {"event_id": f"reg-{member}", "member_id": member, "channel": "app",
                                      "device_id": f"device-{member}", "occurred_at": AT.format(minute=minute),
                                      **extra})


def order(member: str, order_id: str, price: str, minute: int) -> tuple[str, str, dict]:
    return ("orders", member, {"type": "order_paid", "event_id": f"{order_id}-paid", "member_id": member,
                               "order_id": order_id, "amount": price, "occurred_at": AT.format(minute=minute),
                               "items": [{"sku": "beans", "category": "grocery", "merchant_id": "coffee",
                                          "unit_price": price, "quantity": 1}]})


def grant(member: str, level: str, command_id: str) -> tuple[str, str, dict]:
    return ("member-commands", member, {
        "type": "membership_grant", "command_id": command_id, "member_id": member, "actor": "t1:ops",
        "reason": "goodwill", "request_id": command_id, "merchant_id": "coffee", "plan_id": "club",
        "level_id": level, "until": "2026-09-01T00:00:00+08:00", "occurred_at": AT.format(minute=30)})


@pytest.fixture(scope="module")
def worker(cluster):
    w = cluster.add_worker("w1")
    cluster.produce([("membership-plans", "default/coffee", s) for s in club_steps()])
    return w


def test_registration_with_the_merchant_then_an_invitee_of_that_member_join_the_free_level(cluster, worker):
    alice = registration("alice", 0, merchant_id="coffee")
    cluster.produce([alice, alice])  # redelivered
    wait_until(lambda: joined(cluster, "alice") == [("joined", "green", "registration")], timeout=120)
    wait_until(lambda: len(member_outputs(cluster, "benefit-grants", "alice")) >= 2, timeout=60)
    assert sorted(g["benefit"] for g in member_outputs(cluster, "benefit-grants", "alice")) == ["free_latte",
                                                                                         "membership_card"]
    cluster.produce([registration("bob", 1, invited_by="alice")])
    wait_until(lambda: joined(cluster, "bob") == [("joined", "green", "invitation")], timeout=120)
    wait_until(lambda: len(member_outputs(cluster, "benefit-grants", "bob")) >= 2, timeout=60)
    assert sorted(g["benefit"] for g in member_outputs(cluster, "benefit-grants", "bob")) == ["free_latte",
                                                                                       "membership_card"]


def test_spend_reaching_the_threshold_joins_once_and_one_cent_under_does_not(cluster, worker):
    cluster.produce([order("carol", "c-o1", "99.99", 2)])
    wait_until(lambda: len(member_outputs(cluster, "points-ledger", "carol")) >= 1, timeout=120)
    assert joined(cluster, "carol") == []
    last = order("carol", "c-o2", "0.01", 3)
    cluster.produce([last, last])  # redelivered
    wait_until(lambda: joined(cluster, "carol") == [("joined", "gold", "spend_threshold")], timeout=60)
    wait_until(lambda: len(member_outputs(cluster, "benefit-grants", "carol")) >= 2, timeout=60)
    assert len(member_outputs(cluster, "benefit-grants", "carol")) == 2


def test_an_operator_grant_joins_and_one_of_a_level_not_listing_it_is_dead_lettered(cluster, worker):
    cluster.produce([grant("dave", "gold", "oc-1"), grant("dave", "gold", "oc-1"), grant("dave", "black", "oc-2")])
    wait_until(lambda: joined(cluster, "dave") == [("joined", "gold", "operator_grant")], timeout=120)
    [change] = member_outputs(cluster, "membership-changes", "dave")
    assert change["until"] == "2026-09-01T00:00:00+08:00" and change["cause_event_id"] == "oc-1"

    def refused() -> list[dict]:
        return [v for _, v in cluster.consume(["dead-letters"], idle=0.5, timeout=30)
                if v["reason"] == "not_joinable" and v.get("member_id") == "dave"]

    wait_until(lambda: len(refused()) >= 1, timeout=60)
    assert refused()[0]["detail"] == "level black of plan club is not joined by operator_grant (its channels: purchase)"
