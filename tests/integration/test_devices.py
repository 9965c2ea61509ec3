"""Registrations, invitations, verifications and the device agent through the real workers and broker.

Two workers split the partitions; the members of one device are picked on partitions of both, so
their registrations leave from both workers and meet on the one worker that owns the device's
partition of ``device-activity``, in one device state."""

from __future__ import annotations

import pytest

from agents.kafka.routing import partition_for
from tests.integration.fixtures import wait_until
from tests.integration.test_redemptions import owners

AT = "2026-03-01T10:{minute:02d}:00+08:00"


@pytest.fixture(scope="module")
def workers(cluster):
    return cluster.add_worker("w1"), cluster.add_worker("w2")


def member(worker, body_of: str):
    status, body = worker.get_json(f"/members/{body_of}")
    return body if status == 200 else None


def registration(member_id: str, minute: int, device: str, invited_by: str | None = None) -> tuple[str, str, dict]:
    value = {"event_id": f"reg-{member_id}", "member_id": member_id, "occurred_at": AT.format(minute=minute),
             "channel": "app", "device_id": device}
    if invited_by:
        value["invited_by"] = invited_by
    return "registrations", member_id, value


def spread_members(worker, prefix: str, count: int, partitions: int = 4) -> list[str]:
    """``count`` member ids alternating between the partitions of the two workers."""
    table = owners(worker)
    by_owner: dict[str, list[str]] = {}
    for i in range(1000):
        candidate = f"{prefix}{i}"
        by_owner.setdefault(table[partition_for(candidate, partitions)], []).append(candidate)
    assert len(by_owner) == 2, f"two workers own the partitions: {table}"
    first, second = by_owner.values()
    return [(first if i % 2 == 0 else second)[i // 2] for i in range(count)]


def flags_of(cluster, device: str) -> list[dict]:
    return [v for _, v in cluster.consume(["risk-flags"], idle=3.0) if v["device_id"] == device]


def balances(worker, members: list[str]) -> dict[str, int | None]:
    return {m: (b["points"]["balance"] if (b := member(worker, m)) is not None else None) for m in members}


def test_the_fourth_registration_on_one_device_earns_nothing_and_is_flagged_across_workers(cluster, workers):
    w1, w2 = workers
    wait_until(lambda: len(set(owners(w1).values())) == 2)
    members = spread_members(w1, "farm-", 4)  # on partitions of both workers
    cluster.produce([registration(m, i, "farm-device") for i, m in enumerate(members)])
    # which three are allowed is the order the device's partition received them in (two workers sent them)
    wait_until(lambda: sorted(balances(w1, members).values(), key=str) == [0, 5, 5, 5])
    wait_until(lambda: len(flags_of(cluster, "farm-device")) == 1)
    (flag,) = flags_of(cluster, "farm-device")
    refused = next(m for m, b in balances(w2, members).items() if b == 0)
    assert flag["rule"] == "registrations_per_device" and flag["member_id"] == refused
    assert flag["members"] == members and flag["limit"] == 3  # one device state counted all four
    ledger = [v for _, v in cluster.consume(["points-ledger"]) if v["member_id"] in members]
    assert sorted((v["member_id"], v["rule"], v["delta"]) for v in ledger) == sorted(
        (m, "behaviour:registration", 5) for m in members if m != refused)


def test_an_invitation_gives_the_inviter_fifty_growth_every_time(cluster, workers):
    w1, _ = workers
    invitees = spread_members(w1, "friend-", 5)
    cluster.produce([registration("host-1", 0, "host-device")])
    cluster.produce([registration(m, 1 + i, f"own-device-{i}", invited_by="host-1") for i, m in enumerate(invitees)])
    wait_until(lambda: (b := member(w1, "host-1")) is not None and b["growth"] == 5 * 50)
    assert member(w1, "host-1")["points"]["balance"] == 5  # its own registration; growth is not points


def test_an_invitation_from_a_refused_registration_gives_nothing(cluster, workers):
    w1, _ = workers
    invitees = spread_members(w1, "sybil-", 4)
    cluster.produce([registration("host-2", 0, "host-2-device")])
    cluster.produce([registration(m, 1 + i, "sybil-device", invited_by="host-2") for i, m in enumerate(invitees)])
    wait_until(lambda: sorted(balances(w1, invitees).values(), key=str) == [0, 5, 5, 5])
    wait_until(lambda: (b := member(w1, "host-2")) is not None and b["growth"] == 3 * 50)


def test_a_false_registration_verdict_deducts_ten_and_locks(cluster, workers):
    w1, _ = workers
    who = "liar-1"
    cluster.produce([("orders", who, {"event_id": "liar-o1", "member_id": who, "occurred_at": AT.format(minute=0),
                                      "type": "order_paid", "order_id": "liar-o1", "amount": "30.00"})])
    wait_until(lambda: (b := member(w1, who)) is not None and b["points"]["balance"] == 30)
    cluster.produce([("verifications", who, {"event_id": "liar-v1", "member_id": who,
                                             "occurred_at": AT.format(minute=5), "verification_id": "v1",
                                             "kind": "real_name", "result": "false_information"})])
    wait_until(lambda: member(w1, who)["status"] == "locked")
    assert member(w1, who)["points"]["balance"] == 20
    ledger = [v for _, v in cluster.consume(["points-ledger"], idle=3.0) if v["member_id"] == who]
    assert [(v["rule"], v["delta"]) for v in ledger] == [("base", 30), ("risk:false_information", -10)]


def test_bad_registrations_and_verifications_are_dead_lettered(cluster, workers):
    cluster.produce([
        ("registrations", "bad-1", {"event_id": "bad-reg", "member_id": "bad-1", "occurred_at": AT.format(minute=0),
                                    "channel": "app"}),  # no device id
        ("verifications", "bad-2", {"event_id": "bad-ver", "member_id": "bad-2", "occurred_at": AT.format(minute=0),
                                    "verification_id": "v", "kind": "fingerprint", "result": "verified"}),
    ])
    wait_until(lambda: {v["source_topic"] for _, v in cluster.consume(["dead-letters"], idle=3.0)
                        if v.get("cause_event_id") is None and v["key"] in ("bad-1", "bad-2")}
               == {"registrations", "verifications"})
    letters = {v["source_topic"]: v for _, v in cluster.consume(["dead-letters"], idle=3.0)
               if v["key"] in ("bad-1", "bad-2")}
    assert letters["registrations"]["reason"] == "invalid_event" and "device_id" in letters["registrations"]["detail"]
    assert "kind" in letters["verifications"]["detail"]
