"""The abnormal spending monitor through the real worker and broker: an order far above the
member's usual (the shipped ``amount_spike``: over 10x the median of its previous orders, from
three) raises a ``hold`` risk flag, and its points stay pending -- in the balance, not spendable
-- until the operator's release (the command the admin API publishes); the release delivered
again changes nothing.  A frozen member's order earns pending-only points, released by the unfreeze."""

from __future__ import annotations

import pytest

from engine.operator_actions import operator_command_id
from tests.integration.fixtures import consumed_total, wait_until

MEMBER = "spiky-1"
AT = "2026-11-02T1{hour}:00:00+08:00"


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("spend1")


def page(worker) -> dict | None:
    status, body = worker.get_json(f"/members/{MEMBER}")
    return body if status == 200 else None


def order(n: int, amount: str) -> tuple[str, str, dict]:
    return "orders", MEMBER, {"event_id": f"spike-{n}", "member_id": MEMBER, "occurred_at": AT.format(hour=n),
                              "type": "order_paid", "order_id": f"spike-o{n}", "amount": amount}


def flags(cluster) -> list[dict]:
    return [v for _, v in cluster.consume(["risk-flags"], idle=1.0) if v["member_id"] == MEMBER]


def ledger(cluster) -> list[dict]:
    return [v for _, v in cluster.consume(["points-ledger"], idle=1.0) if v["member_id"] == MEMBER]


def test_an_abnormal_order_s_points_stay_pending_until_released(cluster, worker):
    cluster.produce([order(n, "20.00") for n in range(3)])
    wait_until(lambda: (p := page(worker)) is not None and p["points"]["lifetime_earned"] > 0
               and len([e for e in ledger(cluster) if e["kind"] == "earn"]) >= 3, timeout=60)
    wait_until(lambda: len({e["order_id"] for e in ledger(cluster) if e["kind"] == "earn"}) == 3, timeout=60)
    usual = page(worker)["points"]
    assert usual["spendable"] == usual["balance"] > 0 and usual["pending"] == 0

    cluster.produce([order(3, "500.00")])  # 25x the median of 20
    wait_until(lambda: len(flags(cluster)) == 1, timeout=60)
    (flag,) = flags(cluster)
    assert (flag["rule"], flag["action"], flag["order_id"]) == ("amount_spike", "hold", "spike-o3")
    assert flag["evidence"] == {"amount": "500.00", "median": "20.00", "factor": "10", "orders": "3"}
    wait_until(lambda: any(e["order_id"] == "spike-o3" for e in ledger(cluster)), timeout=60)
    earned = [e for e in ledger(cluster) if e["order_id"] == "spike-o3"]
    held = sum(e["delta"] for e in earned)
    assert held > 0 and {e["pending_until"][:4] for e in earned} == {"9999"}
    wait_until(lambda: page(worker)["points"]["pending"] == held, timeout=60)
    shown = page(worker)
    assert shown["points"]["spendable"] == usual["spendable"] and shown["points"]["balance"] == usual["balance"] + held
    assert shown["risk"]["held_for_review"] == held
    assert [f["flag_id"] for f in shown["risk"]["open_flags"]] == [flag["flag_id"]]  # where an operator finds it

    release = {"type": "risk_release", "command_id": operator_command_id("default", "release-spiky-1"),
               "member_id": MEMBER, "occurred_at": "2026-11-03T10:00:00+08:00", "actor": "t1:olga",
               "reason": "the customer bought a fridge", "request_id": "release-spiky-1",
               "flag_id": flag["flag_id"]}
    cluster.produce([("member-commands", MEMBER, release)])
    wait_until(lambda: page(worker)["points"]["pending"] == 0, timeout=60)
    assert page(worker)["points"]["spendable"] == usual["spendable"] + held
    assert page(worker)["risk"] == {"open_flags": [], "held_for_review": 0, "held_by_status": 0}
    wait_until(lambda: any(e["rule"] == "risk_release" for e in ledger(cluster)), timeout=60)
    (entry,) = [e for e in ledger(cluster) if e["rule"] == "risk_release"]
    assert (entry["delta"], entry["order_id"], entry["operator"]) == (0, "spike-o3", "t1:olga")
    decisions = [v for _, v in cluster.consume(["notifications"], idle=1.0)
                 if v["member_id"] == MEMBER and v["kind"] == "risk_decision"]
    assert [(d["data"]["decision"], d["data"]["points"]) for d in decisions] == [("release", held)]

    # the release delivered again: a duplicate, nothing changes
    duplicates = consumed_total(worker, "duplicate")
    cluster.produce([("member-commands", MEMBER, release)])
    wait_until(lambda: consumed_total(worker, "duplicate") > duplicates, timeout=60)
    assert page(worker)["points"]["spendable"] == usual["spendable"] + held
    assert len([e for e in ledger(cluster) if e["rule"] == "risk_release"]) == 1


def test_a_frozen_member_s_order_earns_pending_only_points_until_the_unfreeze(cluster, worker):
    frozen = "frozen-spender-1"

    def shown() -> dict | None:
        status, body = worker.get_json(f"/members/{frozen}")
        return body if status == 200 else None

    def action(kind: str, request_id: str, at: str) -> tuple[str, str, dict]:
        return "member-commands", frozen, {
            "type": kind, "command_id": operator_command_id("default", request_id), "member_id": frozen,
            "occurred_at": at, "actor": "t1:olga", "reason": f"{kind} by an operator", "request_id": request_id}

    def paid(n: int, at: str) -> tuple[str, str, dict]:
        return "orders", frozen, {"event_id": f"fz-{n}", "member_id": frozen, "occurred_at": at,
                                  "type": "order_paid", "order_id": f"fz-o{n}", "amount": "100.00"}

    cluster.produce([paid(0, "2026-11-02T10:00:00+08:00")])
    wait_until(lambda: (p := shown()) is not None and p["points"]["spendable"] > 0, timeout=60)
    before = shown()["points"]
    cluster.produce([action("account_freeze", "freeze-fz-1", "2026-11-02T11:00:00+08:00"),
                     paid(1, "2026-11-02T12:00:00+08:00")])
    wait_until(lambda: shown()["points"]["pending"] > 0, timeout=60)
    frozen_view = shown()
    assert frozen_view["status"] == "frozen" and frozen_view["points"]["spendable"] == before["spendable"]
    assert frozen_view["risk"]["held_by_status"] == frozen_view["points"]["pending"]

    cluster.produce([action("account_unfreeze", "unfreeze-fz-1", "2026-11-03T10:00:00+08:00")])
    wait_until(lambda: shown()["status"] == "active", timeout=60)
    back = shown()["points"]
    assert back["pending"] == 0 and back["spendable"] == before["spendable"] + frozen_view["points"]["pending"]
    wait_until(lambda: any(e["rule"] == "status_release" for _, e in cluster.consume(["points-ledger"], idle=1.0)
                           if e["member_id"] == frozen), timeout=60)
