"""Merchants' membership plans and paid cards through Kafka (seed 002): merchant steps out of
order and repeated, a card bought and its order redelivered, extension, a redelivered refund that
revokes and voids the unused bundled benefits once, expiry with a reminder, two merchants on one
member, a pending plan's and a suspended merchant's products refused."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from engine.plans import catalogue, fold_all
from tests.engine.plan_fixtures import card_item, merchant_steps, parsed
from tests.integration.fixtures import member_outputs, metric, wait_until

KEY = "default/coffee"
MONTHLY_FRUIT = {"merchant_id": "fruit", "type": "benefit", "benefit_id": "monthly-basket", "plan_id": "vip",
                 "activity_id": "welcome-coupons", "coupon_template": "fruit_basket", "cadence": "monthly"}
AT = "2026-03-05T10:00:00+08:00"


def order(member: str, order_id: str, *items: dict, event_id: str | None = None, at: str = AT) -> tuple:
    amount = str(sum(float(i["unit_price"]) for i in items))
    return ("orders", member, {"type": "order_paid", "event_id": event_id or f"{order_id}-paid", "member_id": member,
                               "order_id": order_id, "amount": amount, "items": list(items), "occurred_at": at})


def letters(cluster, reason: str, key: str | None = None) -> list[dict]:
    return [v for _, v in cluster.consume(["dead-letters"], idle=0.5, timeout=30)
            if v["reason"] == reason and (key is None or v["key"] == key)]


def plans_of(worker, merchant: str) -> dict | None:
    status, body = worker.get_json(f"/merchants/{merchant}/plans")
    return body if status == 200 else None


@pytest.fixture(scope="module")
def worker(cluster):
    w = cluster.add_worker("w1")
    fruit = [*merchant_steps("fruit", price="30.00", days=30), MONTHLY_FRUIT]
    cluster.produce([("membership-plans", "default/fruit", s) for s in fruit])
    gym = [{**s, "auto_renew": True} if s["type"] == "product" else s
           for s in merchant_steps("gym", price="50.00", days=30)]
    cluster.produce([("membership-plans", "default/gym", s) for s in gym])
    return w


def test_merchant_steps_out_of_order_and_one_twice_end_in_the_same_effective_plan(cluster, worker):
    steps = merchant_steps("coffee")
    # the merchant arrives last: every other step refers to something missing when it is read
    published = [*reversed(steps), steps[2]]
    cluster.produce([("membership-plans", KEY, s) for s in published])
    expected = catalogue(fold_all(parsed(steps)), "default", "coffee")
    wait_until(lambda: plans_of(worker, "coffee") == expected, timeout=120)
    assert [lv["products"][0]["product_id"] for lv in expected["plans"][0]["levels"]] == ["vip-year", "vip-black"]
    wait_until(lambda: len(letters(cluster, "missing_reference", KEY)) >= len(steps) - 1, timeout=120)
    found = letters(cluster, "missing_reference", KEY)
    assert len(found) == len(steps) - 1  # once each, the repeated plan step (after the merchant) not at all
    assert {f["detail"] for f in found} == {"merchant coffee of tenant default is not defined"}
    assert letters(cluster, "missing_reference", "default/fruit") == []
    assert plans_of(worker, "nobody") is None
    for path in ("/merchants/coffee/plans", "/members/c1/memberships"):  # service tokens only
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(worker.url + path, timeout=10)
        assert refused.value.code == 401


def test_buying_the_card_issues_one_card_and_its_coupons_once_even_when_redelivered(cluster, worker):
    buy = order("c1", "o1", card_item())
    cluster.produce([buy, buy, order("c1", "o1", card_item(), event_id="o1-retried")])
    wait_until(lambda: metric(worker, "memberflow_events_consumed_total", topic="orders",
                              outcome="duplicate") >= 2, timeout=60)
    wait_until(lambda: len(member_outputs(cluster, "benefit-grants", "c1")) >= 2, timeout=60)
    grants = member_outputs(cluster, "benefit-grants", "c1")
    assert sorted((g["benefit"], g["quantity"]) for g in grants) == [("free_coffee", 2), ("membership_card", 1)]
    wait_until(lambda: len(member_outputs(cluster, "membership-changes", "c1")) >= 1, timeout=30)  # its own topic
    [joined] = member_outputs(cluster, "membership-changes", "c1")
    assert (joined["kind"], joined["level_id"], joined["until"]) == ("joined", "gold", "2027-03-05T10:00:00+08:00")
    assert joined["card_id"] == next(g["grant_id"] for g in grants if g["benefit"] == "membership_card")


def used(member: str, benefit_id: str, order_id: str, at: str) -> tuple:
    return ("benefit-usage", member, {"type": "benefit_usage", "event_id": f"{benefit_id}-{order_id}",
                                      "member_id": member, "benefit_id": benefit_id, "action": "used",
                                      "order_id": order_id, "amount_saved": "15.00", "occurred_at": at})


def test_a_second_purchase_extends_and_a_refund_revokes_and_voids_the_unused_benefits(cluster, worker):
    cluster.produce([order("c1", "o2", card_item(), at="2026-04-01T10:00:00+08:00")])
    wait_until(lambda: len(member_outputs(cluster, "membership-changes", "c1")) >= 2, timeout=60)
    extended = [c for c in member_outputs(cluster, "membership-changes", "c1") if c["kind"] == "extended"]
    assert [c["until"] for c in extended] == ["2028-03-04T10:00:00+08:00"]  # 365 days more (2028 is leap)
    wait_until(lambda: len(member_outputs(cluster, "benefit-grants", "c1")) >= 3, timeout=30)  # its own topic
    grants = {g["details"].get("period", "card"): g["grant_id"]
              for g in member_outputs(cluster, "benefit-grants", "c1")}
    assert sorted(grants) == ["card", "o1", "o2"]  # the card, the coupons bought with o1 and with o2
    # o1's coupons (quantity 2) used up before the refund
    cluster.produce([used("c1", grants["o1"], f"shop-{n}", f"2026-04-01T1{n}:00:00+08:00") for n in (1, 2)])
    wait_until(lambda: any(c["uses"] == 2 for c in member_outputs(cluster, "benefit-changes", "c1")), timeout=60)
    duplicates = metric(worker, "memberflow_events_consumed_total", topic="orders", outcome="duplicate")
    refund = ("orders", "c1", {"type": "order_refunded", "event_id": "o2-refund", "member_id": "c1",
                               "order_id": "o2", "amount": "88.00", "occurred_at": "2026-04-02T10:00:00+08:00"})
    cluster.produce([refund, refund])  # redelivered
    wait_until(lambda: any(c["kind"] == "revoked" for c in member_outputs(cluster, "membership-changes", "c1")),
               timeout=60)
    voided = lambda: sorted(c["benefit_id"] for c in member_outputs(cluster, "benefit-changes", "c1")  # noqa: E731
                            if c["action"] == "voided")
    wait_until(lambda: len(voided()) >= 2, timeout=30)  # its own topic
    wait_until(lambda: metric(worker, "memberflow_events_consumed_total", topic="orders",
                              outcome="duplicate") >= duplicates + 1, timeout=60)
    assert voided() == sorted([grants["card"], grants["o2"]])  # once each; o1's used coupons stay used
    assert [c["kind"] for c in member_outputs(cluster, "membership-changes", "c1")].count("revoked") == 1
    status, body = worker.get_json("/members/c1/memberships")
    assert status == 200
    assert [(m["key"], m["status"], m["plan_name"], m["level_name"]) for m in body["memberships"]] == [
        ("coffee/vip", "revoked", "VIP", "Gold")]


def test_two_merchants_plans_on_one_member_then_reminded_and_expired(cluster, worker):
    cluster.produce([order("c2", "o3", card_item(), card_item("fruit", price="30.00"))])
    wait_until(lambda: len(member_outputs(cluster, "membership-changes", "c2")) >= 2, timeout=60)
    status, body = worker.get_json("/members/c2/memberships?as_of=2026-03-06T00:00:00%2B08:00")
    assert status == 200
    assert {m["key"]: (m["status"], m["until"]) for m in body["memberships"]} == {
        "coffee/vip": ("active", "2027-03-05T10:00:00+08:00"), "fruit/vip": ("active", "2026-04-04T10:00:00+08:00")}
    cluster.produce([order("c5", "o7", card_item("gym", price="50.00"))])  # an auto-renewing card
    wait_until(lambda: len(member_outputs(cluster, "membership-changes", "c5")) == 1, timeout=60)
    baskets = lambda: sorted(g["details"]["period"] for g in member_outputs(cluster, "benefit-grants", "c2")  # noqa: E731
                             if g["benefit"] == "fruit_basket")
    wait_until(lambda: baskets() == ["2026-03"], timeout=30)  # the joining month's at once (its own topic)
    cluster.produce([("commands", "*", {"type": "evaluate", "as_of": "2026-04-01T00:00:00+08:00"})])
    seen: dict[str, list[dict]] = {}

    def read(member: str, kind: str) -> bool:  # kept from the read that saw it: a later read may stop early
        seen[member] = member_outputs(cluster, "notifications", member)
        return any(n["kind"] == kind for n in seen[member])

    wait_until(lambda: read("c2", "membership_renewal_reminder"), timeout=60)
    wait_until(lambda: baskets() == ["2026-03", "2026-04"], timeout=30)
    [reminder] = [n for n in seen["c2"] if n["kind"] == "membership_renewal_reminder"]
    assert reminder["data"]["plan_id"] == "vip" and reminder["data"]["merchant_id"] == "fruit"
    wait_until(lambda: read("c5", "membership_renewal_request"), timeout=30)
    [request] = seen["c5"]  # the request, and no reminder beside it
    assert (request["data"]["product_id"], request["data"]["until"]) == ("vip-year", "2026-04-04T10:00:00+08:00")
    cluster.produce([("commands", "*", {"type": "evaluate", "as_of": "2026-04-05T00:00:00+08:00"})])
    expired: list[dict] = []

    def expired_now() -> bool:  # kept from the read that saw it: a later read may stop early on a busy machine
        expired[:] = [c for c in member_outputs(cluster, "membership-changes", "c2") if c["kind"] == "expired"]
        return bool(expired)

    wait_until(expired_now, timeout=60)
    assert [(c["merchant_id"], c["status"]) for c in expired] == [("fruit", "expired")]


def test_a_pending_plans_product_and_a_suspended_merchants_are_refused_with_the_reason(cluster, worker):
    cluster.produce([order("c4", "o6", card_item("fruit", price="30.00"))])
    wait_until(lambda: len(member_outputs(cluster, "membership-changes", "c4")) == 1, timeout=60)
    tea = [s for s in merchant_steps("tea") if not (s["type"] == "plan_status" and s["status"] == "effective")]
    cluster.produce([("membership-plans", "default/tea", s) for s in tea])
    cluster.produce([("membership-plans", "default/fruit",
                      {"merchant_id": "fruit", "type": "merchant", "name": "fruit shop", "version": 2,
                       "suspended": True})])
    wait_until(lambda: (plans_of(worker, "fruit") or {}).get("suspended") is True
               and plans_of(worker, "tea") is not None, timeout=60)
    cluster.produce([order("c3", "o4", card_item("tea")), order("c3", "o5", card_item("fruit", price="30.00"))])
    wait_until(lambda: len([v for v in letters(cluster, "not_sellable") if v["member_id"] == "c3"]) >= 2,
               timeout=60)
    details = sorted(v["detail"] for v in letters(cluster, "not_sellable") if v["member_id"] == "c3")
    assert details == ["items[0]: merchant fruit is suspended: no new sales",
                       "items[0]: plan vip of card product vip-year is pending, not effective"]
    assert member_outputs(cluster, "membership-changes", "c3") == []
    # the suspended merchant's existing memberships are kept
    status, body = worker.get_json("/members/c4/memberships?as_of=2026-03-06T00:00:00%2B08:00")
    assert [(m["key"], m["status"]) for m in body["memberships"]] == [("fruit/vip", "active")]


def test_a_worker_started_later_reads_the_same_plans(cluster, worker):
    late = cluster.add_worker("w2")
    wait_until(lambda: plans_of(late, "coffee") is not None, timeout=30)
    for merchant in ("coffee", "fruit", "tea"):
        assert plans_of(late, merchant) == plans_of(worker, merchant)
