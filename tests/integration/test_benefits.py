"""Benefit instances through the real worker and broker: an upgrade issues its gift, the benefit
system reports it used on ``benefit-usage``, no expiry reminder follows while a member who kept
theirs unused is reminded, a refund restores it, a gift used after its end is dead-lettered, a
repeat report changes nothing, another member's benefit is refused, a report over HTTP is checked at
the edge and published; the entitlements endpoint and
the usage metrics agree; a quote for a GOLD cart shows 95 % prices, free shipping and the points the
real order then earns."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.integration.fixtures import command, metric, wait_until

PAID_AT = "2026-03-02T10:00:00+08:00"  # the GOLD upgrade gift is valid 30 days: until 2026-04-01 10:00 (+08:00)
TOPICS = ["benefit-grants", "benefit-changes", "notifications", "dead-letters"]


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("w1")


def usage(event_id: str, member: str, benefit_id: str, action: str, at: str, order_id: str | None = None,
          saved: str | None = None) -> tuple[str, str, dict]:
    value = {"event_id": event_id, "member_id": member, "occurred_at": at, "type": "benefit_usage",
             "benefit_id": benefit_id, "action": action}
    value.update({k: v for k, v in (("order_id", order_id), ("amount_saved", saved)) if v is not None})
    return "benefit-usage", member, value


def of(cluster, topic: str, member: str, **match: str) -> list[dict]:
    return [v for t, v in cluster.consume([topic], idle=1.0)
            if v.get("member_id") == member and all(v.get(k) == m for k, m in match.items())]


def test_an_upgrade_gift_used_restored_expired_and_reported_again(cluster, worker):
    cluster.produce([("orders", m, {"event_id": f"pay-{m}", "member_id": m, "occurred_at": PAID_AT,
                                    "type": "order_paid", "order_id": f"o-{m}", "amount": "500.00"})
                     for m in ("bf-used", "bf-kept")])
    wait_until(lambda: len(of(cluster, "benefit-grants", "bf-used", benefit="upgrade_gift")) == 1
               and len(of(cluster, "benefit-grants", "bf-kept", benefit="upgrade_gift")) == 1)
    (gift,) = of(cluster, "benefit-grants", "bf-used", benefit="upgrade_gift")
    (kept,) = of(cluster, "benefit-grants", "bf-kept", benefit="upgrade_gift")
    assert (gift["tier"], gift["value"], gift["valid_until"]) == ("GOLD", "20", "2026-04-01T10:00:00+08:00")

    status, view = worker.get_json("/members/bf-used/entitlements?as_of=2026-03-03T10:00:00%2B08:00")
    assert status == 200
    assert (view["tier"], view["discount"], view["free_shipping_threshold"], view["customer_service"]) == (
        "GOLD", "0.95", "19", "email")
    assert gift["grant_id"] in {b["benefit_id"] for b in view["benefits"]}

    # the benefit system reports it used; the same report again, and the same order under another id
    used = usage("use-1", "bf-used", gift["grant_id"], "used", "2026-03-05T10:00:00+08:00", "shop-1", "20.00")
    cluster.produce([used, used, usage("use-1b", "bf-used", gift["grant_id"], "used",
                                       "2026-03-05T10:05:00+08:00", "shop-1", "20.00")])
    wait_until(lambda: of(cluster, "benefit-changes", "bf-used", action="used"))
    (change,) = of(cluster, "benefit-changes", "bf-used")
    assert (change["benefit_id"], change["status"], change["order_id"], change["amount_saved"]) == (
        gift["grant_id"], "used", "shop-1", "20.00")
    status, view = worker.get_json("/members/bf-used/entitlements?as_of=2026-03-06T10:00:00%2B08:00")
    assert gift["grant_id"] not in {b["benefit_id"] for b in view["benefits"]}

    # three days before its end: the member who kept it unused is reminded, the one who used it is not
    cluster.produce([("commands", "*", command("2026-03-29T12:00:00+08:00"))])
    wait_until(lambda: of(cluster, "notifications", "bf-kept", kind="benefit_expiry_reminder"))
    reminders = [n for m in ("bf-used", "bf-kept")
                 for n in of(cluster, "notifications", m, kind="benefit_expiry_reminder")]
    assert [(n["member_id"], n["data"]["benefit_id"]) for n in reminders] == [("bf-kept", kept["grant_id"])]

    # the order is refunded: the gift is usable again (reported over HTTP this time)
    _, _, restore = usage("restore-1", "bf-used", gift["grant_id"], "restored", "2026-03-30T10:00:00+08:00",
                          "shop-1")
    status, body = post_json(worker, "/members/bf-used/benefit-usage", {k: v for k, v in restore.items()
                                                                          if k != "member_id"})
    assert (status, body) == (202, {"event_id": "restore-1", "benefit_id": gift["grant_id"], "action": "restored",
                                    "status": "published"})
    wait_until(lambda: of(cluster, "benefit-changes", "bf-used", action="restored"))
    status, view = worker.get_json("/members/bf-used/entitlements?as_of=2026-03-30T11:00:00%2B08:00")
    assert gift["grant_id"] in {b["benefit_id"] for b in view["benefits"]}

    # past its end: expired by the evaluation, and a use reported after it is refused
    cluster.produce([("commands", "*", command("2026-04-02T00:00:00+08:00"))])
    wait_until(lambda: of(cluster, "benefit-changes", "bf-kept", action="expired"))
    cluster.produce([usage("late-1", "bf-kept", kept["grant_id"], "used", "2026-04-02T10:00:00+08:00", "shop-2"),
                     usage("theirs-1", "bf-kept", gift["grant_id"], "used", "2026-03-31T10:00:00+08:00", "shop-3")])
    wait_until(lambda: len(of(cluster, "dead-letters", "bf-kept")) == 2)
    late, theirs = sorted(of(cluster, "dead-letters", "bf-kept"), key=lambda d: d["cause_event_id"])
    assert (late["reason"], late["detail"]) == (
        "benefit_not_usable", f"benefit {kept['grant_id']}: expired at 2026-04-01T10:00:00+08:00")
    assert theirs["reason"] == "unknown_benefit"

    changes = [(c["member_id"], c["action"]) for c in of(cluster, "benefit-changes", "bf-used")
               + of(cluster, "benefit-changes", "bf-kept") if c["benefit_id"] in (gift["grant_id"], kept["grant_id"])]
    assert sorted(changes) == [("bf-kept", "expired"), ("bf-used", "expired"), ("bf-used", "restored"),
                               ("bf-used", "used")]  # the repeats changed nothing
    assert metric(worker, "memberflow_benefit_changes_total", benefit="upgrade_gift", tier="GOLD",
                  action="used") == 1
    assert metric(worker, "memberflow_benefits_issued_total", benefit="upgrade_gift", tier="GOLD") == 2
    assert metric(worker, "memberflow_dead_letters_total", reason="benefit_not_usable") == 1


def test_a_usage_report_over_http_is_checked_before_it_is_published(cluster, worker):
    report = {"event_id": "http-1", "benefit_id": "g-1", "action": "used", "order_id": "o-1"}
    assert post_json(worker, "/members/bf-http/benefit-usage", report, token=False)[0] == 401
    status, body = post_json(worker, "/members/bf-http/benefit-usage", {**report, "member_id": "someone-else"})
    assert (status, body["error"]) == (400, "member_id in the body differs from the path")
    status, body = post_json(worker, "/members/bf-http/benefit-usage", {**report, "action": "sold"})
    assert status == 422 and [d["loc"] for d in body["details"]] == [["action"]]
    # a valid report of a benefit the member does not hold: published, then refused by the engine with the reason
    assert post_json(worker, "/members/bf-http/benefit-usage", report)[0] == 202
    wait_until(lambda: of(cluster, "dead-letters", "bf-http"))
    (letter,) = of(cluster, "dead-letters", "bf-http")
    assert (letter["reason"], letter["cause_event_id"]) == ("unknown_benefit", "http-1")


def post_json(worker, path: str, body: dict, token: bool = True) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **(worker.headers() if token else {})}
    req = urllib.request.Request(f"{worker.url}{path}", data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def post_quote(worker, member: str, cart: dict) -> tuple[int, dict]:
    return post_json(worker, f"/members/{member}/quote", cart)


def test_the_quote_of_a_gold_cart_is_what_the_order_then_earns(cluster, worker):
    member = "bf-quote"
    cluster.produce([("orders", member, {"event_id": "pay-q", "member_id": member, "occurred_at": PAID_AT,
                                         "type": "order_paid", "order_id": "o-q", "amount": "500.00"})])
    wait_until(lambda: of(cluster, "benefit-grants", member, benefit="upgrade_gift"))
    (gift,) = of(cluster, "benefit-grants", member, benefit="upgrade_gift")
    items = [{"sku": "apple", "category": "fresh", "unit_price": "10.00", "quantity": 2},
             {"sku": "tv", "category": "general", "unit_price": "1200.00", "quantity": 1}]
    at = "2026-03-06T10:00:00+08:00"
    status, quoted = post_quote(worker, member, {"items": items, "shipping_fee": "6", "at": at,
                                                 "coupons": [gift["grant_id"]], "points": 200})
    assert status == 200, quoted
    # the first order's 530 points pay 53.00 at 1:10 at most; 200 asked for pay 20.00
    assert quoted["spendable_points"] == 530
    assert [(o["mode"], o["points"], o["points_value"], o["cash"]) for o in quoted["payment_options"]] == [
        ("most_points", 530, "53.00", "1086.00"), ("points_wanted", 200, "20.00", "1119.00")]
    assert (quoted["tier"], quoted["member_total"], quoted["shipping"], quoted["goods_to_pay"]) == (
        "GOLD", "1159.00", "0", "1139.00")
    assert quoted["coupons"] == [{"benefit_id": gift["grant_id"], "applies": True, "saving": "20", "reason": None}]
    assert post_quote(worker, member, {"items": []})[0] == 422
    assert post_quote(worker, "bf-nobody", {"items": items})[0] == 404

    cluster.produce([("orders", member, {"event_id": "pay-q2", "member_id": member, "occurred_at": at,
                                         "type": "order_paid", "order_id": "o-q2",
                                         "amount": quoted["goods_to_pay"], "items": items})])
    wait_until(lambda: of(cluster, "points-ledger", member, order_id="o-q2"))
    earned: dict[str, int] = {}
    for entry in of(cluster, "points-ledger", member, order_id="o-q2", kind="earn"):
        earned[entry["rule"]] = earned.get(entry["rule"], 0) + entry["delta"]
    assert earned == quoted["points_by_rule"] and sum(earned.values()) == quoted["points"] > 0
