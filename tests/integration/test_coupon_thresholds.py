"""Coupon thresholds through the real worker and broker: GOLD's weekly coupons carry a minimum
spend of 50 and a per-order limit of 1 (rules of this module); the quote applies one of the two to
a cart, and usage reports on ``benefit-usage`` under the minimum or over the limit are
dead-lettered with their reasons while the ones within them are published on ``benefit-changes``."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import yaml

from config.settings import SHIPPED_RULES_DIR
from memberflow.dev.cluster import LocalCluster
from tests.integration.fixtures import command, metric, stream_rules_dir, wait_until
from tests.integration.test_benefits import of, post_quote

PAID_AT = "2026-03-02T10:00:00+08:00"
WEEK = "2026-03-03T00:00:00+08:00"
MEMBER = "ct-1"


@pytest.fixture(scope="module")
def thresholds_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    tiers = copy.deepcopy(yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text())["tiers"])
    (gold,) = [t for t in tiers["tiers"] if t["id"] == "GOLD"]
    gold["benefits"]["coupons"].update(count=2, conditions={"min_spend": 50, "per_order": 1})
    rules = stream_rules_dir(tmp_path_factory.mktemp("rules"), tiers=tiers)
    c = LocalCluster(tmp_path_factory.mktemp("thresholds-cluster"), partitions=4,
                     extra_env={"MEMBERFLOW_RULES_DIR": str(rules)})
    c.start_broker()
    try:
        yield c
    finally:
        c.close()


def usage(event_id: str, benefit_id: str, order_id: str, order_amount: str | None) -> tuple[str, str, dict]:
    value = {"event_id": event_id, "member_id": MEMBER, "occurred_at": "2026-03-04T10:00:00+08:00",
             "type": "benefit_usage", "benefit_id": benefit_id, "action": "used", "order_id": order_id}
    if order_amount is not None:
        value["order_amount"] = order_amount
    return "benefit-usage", MEMBER, value


def dead_letters(cluster) -> dict[str, dict]:
    return {v["cause_event_id"]: v for _, v in cluster.consume(["dead-letters"], idle=1.0)
            if v.get("member_id") == MEMBER}


def test_the_quote_and_the_usage_reports_hold_the_minimum_spend_and_the_per_order_limit(thresholds_cluster):
    cluster = thresholds_cluster
    worker = cluster.add_worker("ct1")
    cluster.produce([("orders", MEMBER, {"event_id": "pay-1", "member_id": MEMBER, "occurred_at": PAID_AT,
                                         "type": "order_paid", "order_id": "o-1", "amount": "500.00"})])
    wait_until(lambda: of(cluster, "benefit-grants", MEMBER, benefit="upgrade_gift"))
    cluster.produce([("commands", "*", command(WEEK))])
    wait_until(lambda: len(of(cluster, "benefit-grants", MEMBER, benefit="tier_coupon")) == 2, timeout=60)
    first, second = (g["grant_id"] for g in of(cluster, "benefit-grants", MEMBER, benefit="tier_coupon"))
    assert of(cluster, "benefit-grants", MEMBER, benefit="tier_coupon")[0]["conditions"] == {
        "min_spend": "50", "categories": [], "channel": None, "per_order": 1}

    cart = {"items": [{"sku": "kettle", "category": "general", "unit_price": "100.00", "quantity": 1}],
            "coupons": [first, second], "at": "2026-03-04T09:00:00+08:00"}
    status, quoted = post_quote(worker, MEMBER, cart)
    assert status == 200
    assert [(c["applies"], c["saving"], c["reason"]) for c in quoted["coupons"]] == [
        (True, "10", None), (False, "0", "at most 1 tier_coupon per order")]
    assert quoted["goods_to_pay"] == "85.00"  # 100 at GOLD's 95 %, less one coupon

    cluster.produce([usage("under", first, "shop-1", "49.99"), usage("no-amount", first, "shop-1", None),
                     usage("fine", first, "shop-1", "95.00"), usage("over", second, "shop-1", "95.00")])
    wait_until(lambda: {"under", "no-amount", "over"} <= set(dead_letters(cluster)), timeout=60)
    letters = dead_letters(cluster)
    assert [letters[e]["reason"] for e in ("under", "no-amount", "over")] == [
        "below_min_spend", "below_min_spend", "over_per_order_limit"]
    assert letters["under"]["detail"].endswith("needs goods of 50 on order shop-1, the order has 49.99")
    wait_until(lambda: of(cluster, "benefit-changes", MEMBER, action="used"), timeout=60)
    assert [(c["benefit_id"], c["order_id"]) for c in of(cluster, "benefit-changes", MEMBER, action="used")] == [
        (first, "shop-1")]

    cluster.produce([usage("other-order", second, "shop-2", "95.00")])
    wait_until(lambda: len(of(cluster, "benefit-changes", MEMBER, action="used")) == 2, timeout=60)
    assert metric(worker, "memberflow_dead_letters_total", reason="below_min_spend") == 2
    assert metric(worker, "memberflow_dead_letters_total", reason="over_per_order_limit") == 1
    worker.stop()
