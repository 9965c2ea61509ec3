"""The inactivity freeze through the real worker and broker: a member who has not logged in for
three months is warned, then frozen by the periodic evaluation (with the reason in the member
lookup and an ``account_status`` notification); its redemption is rejected; the operator's
unfreeze (the command the admin API publishes) restores it; a member who logged in before its
freeze date stays active; the evaluation delivered again changes nothing."""

from __future__ import annotations

import pytest

from engine.operator_actions import operator_command_id
from tests.integration.fixtures import command, consumed_total, metric, wait_until

LOGGED_IN = "2026-03-01T10:00:00+08:00"
WARNED = "2026-05-26T00:00:00+08:00"  # within 7 days of the freeze date, 2026-06-01 10:00
FROZEN = "2026-06-02T00:00:00+08:00"


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("life1")


def looked_at(worker) -> float:
    """Members the worker evaluated or passed over as not due."""
    return metric(worker, "memberflow_members_evaluated_total") + metric(worker, "memberflow_members_not_due_total")


def page(worker, member: str) -> dict | None:
    status, body = worker.get_json(f"/members/{member}")
    return body if status == 200 else None


def notes(cluster, member: str) -> list[dict]:
    return [v for _, v in cluster.consume(["notifications"], idle=1.0)
            if v["member_id"] == member and v["kind"] in ("inactivity_warning", "account_status")]


def answers(cluster, member: str) -> dict[str, dict]:
    return {v["request_id"]: v for _, v in cluster.consume(["redemption-results"], idle=1.0)
            if v["member_id"] == member}


def coupon(member: str, request_id: str, at: str) -> tuple[str, str, dict]:
    return "redemptions", member, {"kind": "coupon", "request_id": request_id, "member_id": member,
                                   "occurred_at": at, "denomination": "10"}


def test_an_idle_member_is_warned_frozen_refused_and_restored_by_the_unfreeze(cluster, worker):
    idle, back = "idle-1", "back-1"
    cluster.produce([
        ("orders", m, {"event_id": f"fund-{m}", "member_id": m, "occurred_at": LOGGED_IN, "type": "order_paid",
                       "order_id": f"fund-{m}", "amount": "500.00"}) for m in (idle, back)
    ] + [
        ("logins", m, {"event_id": f"login-{m}", "member_id": m, "occurred_at": LOGGED_IN}) for m in (idle, back)
    ] + [("logins", back, {"event_id": "login-back-2", "member_id": back, "occurred_at": "2026-05-31T09:00:00+08:00"})])
    wait_until(lambda: (p := page(worker, back)) is not None and p["last_login_at"].startswith("2026-05-31"))
    wait_until(lambda: (p := page(worker, idle)) is not None and p["last_login_at"] is not None)

    cluster.produce([("commands", "*", command(WARNED))])
    wait_until(lambda: [n["kind"] for n in notes(cluster, idle)] == ["inactivity_warning"], timeout=60)
    (warning,) = notes(cluster, idle)
    assert warning["data"]["freeze_date"] == "2026-06-01T10:00:00+08:00"

    cluster.produce([("commands", "*", command(FROZEN))])
    wait_until(lambda: page(worker, idle)["status"] == "frozen", timeout=60)
    shown = page(worker, idle)
    assert shown["status_reason"].startswith("no login for 3 months since 2026-03-01")
    assert shown["status_since"] == "2026-06-02T00:00:00+08:00"
    wait_until(lambda: len(notes(cluster, idle)) == 2, timeout=60)
    frozen = notes(cluster, idle)[1]
    assert (frozen["kind"], frozen["data"]["status"], frozen["data"]["rule"]) == ("account_status", "frozen",
                                                                                  "inactivity")
    assert page(worker, back)["status"] == "active"  # its login on 05-31 moved its freeze date
    assert notes(cluster, back) == []

    cluster.produce([coupon(idle, "frozen-coupon", "2026-06-02T10:00:00+08:00")])
    wait_until(lambda: "frozen-coupon" in answers(cluster, idle), timeout=60)
    refused = answers(cluster, idle)["frozen-coupon"]
    assert (refused["status"], refused["reason"], refused["points_spent"]) == ("rejected", "account_frozen", 0)

    appeal = {"type": "account_unfreeze", "command_id": operator_command_id("default", "appeal-idle-1"),
              "member_id": idle, "occurred_at": "2026-06-03T10:00:00+08:00", "actor": "t1:olga",
              "reason": "appeal: was abroad", "request_id": "appeal-idle-1"}
    cluster.produce([("member-commands", idle, appeal)])
    wait_until(lambda: page(worker, idle)["status"] == "active", timeout=60)
    assert page(worker, idle)["status_reason"] == "appeal: was abroad"
    wait_until(lambda: len(notes(cluster, idle)) == 3, timeout=60)
    assert {"status": "active", "previous": "frozen"}.items() <= notes(cluster, idle)[2]["data"].items()

    cluster.produce([coupon(idle, "restored-coupon", "2026-06-03T11:00:00+08:00")])
    wait_until(lambda: "restored-coupon" in answers(cluster, idle), timeout=60)
    accepted = answers(cluster, idle)["restored-coupon"]
    assert (accepted["status"], accepted["points_spent"]) == ("accepted", 100)

    # the freezing evaluation and the appeal delivered again: the clock runs from the unfreeze, nothing changes
    looked = looked_at(worker)
    duplicates = consumed_total(worker, "duplicate")
    cluster.produce([("commands", "*", command(FROZEN)), ("member-commands", idle, appeal)])
    wait_until(lambda: looked_at(worker) >= looked + 2 and consumed_total(worker, "duplicate") > duplicates,
               timeout=60)
    cluster.produce([coupon(idle, "after-redelivery", "2026-06-03T12:00:00+08:00")])
    wait_until(lambda: "after-redelivery" in answers(cluster, idle), timeout=60)
    assert answers(cluster, idle)["after-redelivery"]["status"] == "accepted"
    assert page(worker, idle)["status"] == "active" and len(notes(cluster, idle)) == 3
