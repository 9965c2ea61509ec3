"""Merchant-side steps folded into definitions (seed 002): order and repetition do not matter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plans import Sale, catalogue, fold_all, missing, parse_step, sale
from tests.engine.plan_fixtures import merchant_steps, parsed

STEPS = parsed(merchant_steps())
IN_ORDER = fold_all(STEPS)


@settings(max_examples=200, deadline=None)
@given(st.permutations(STEPS), st.lists(st.sampled_from(STEPS), max_size=6))
def test_any_permutation_with_repeats_converges_to_the_same_definitions(order, repeats):
    assert fold_all([*order, *repeats]) == IN_ORDER


@settings(max_examples=100, deadline=None)
@given(st.permutations(parsed(merchant_steps("coffee") + merchant_steps("fruit") + [
    {"tenant_id": "default", "merchant_id": "coffee", "type": "plan_status", "plan_id": "vip", "status": "retired"},
    {"tenant_id": "default", "merchant_id": "fruit", "type": "merchant", "name": "fruit shop v2", "version": 2},
    {"tenant_id": "default", "merchant_id": "fruit", "type": "merchant", "name": "fruit shop", "version": 2,
     "suspended": True},
])))
def test_later_versions_and_statuses_win_whatever_the_order(order):
    facts = fold_all(order)
    assert facts == fold_all(sorted(order, key=repr))
    assert isinstance(sale(facts, "default", "coffee", "vip-year"), str)  # the plan is retired
    fruit = facts.get("merchant", "default", "fruit")
    # same version, different content: the content decides, not the arrival
    assert (fruit.version, fruit.name, fruit.suspended) == (2, "fruit shop", True)


def test_a_product_is_sellable_only_while_it_and_its_plan_are_effective():
    assert isinstance(sale(IN_ORDER, "default", "coffee", "vip-year"), Sale)
    without_plan_effective = fold_all([s for s in STEPS if not (s.type == "plan_status" and s.status == "effective")])
    assert sale(without_plan_effective, "default", "coffee", "vip-year") == (
        "plan vip of card product vip-year is pending, not effective")
    draft = fold_all([s for s in STEPS if s.type != "product_status"])
    assert sale(draft, "default", "coffee", "vip-year") == "card product vip-year is draft, not effective"
    assert sale(IN_ORDER, "default", "coffee", "nope") == "card product nope of merchant coffee is not defined"
    assert sale(IN_ORDER, "other", "coffee", "vip-year") == "merchant coffee is not defined"  # tenants are apart


def test_a_suspended_merchant_sells_nothing_and_resuming_sells_again():
    suspended = fold_all(parsed([{"merchant_id": "coffee", "type": "merchant", "name": "c", "version": 2,
                                  "suspended": True}]), IN_ORDER)
    assert sale(suspended, "default", "coffee", "vip-year") == "merchant coffee is suspended: no new sales"
    resumed = fold_all(parsed([{"merchant_id": "coffee", "type": "merchant", "name": "c", "version": 3}]), suspended)
    assert isinstance(sale(resumed, "default", "coffee", "vip-year"), Sale)


def test_a_step_that_refers_to_something_missing_says_what():
    empty = fold_all([])
    assert missing(empty, STEPS[1]) == "merchant coffee of tenant default is not defined"
    only_merchant = fold_all(STEPS[:1])
    assert missing(only_merchant, STEPS[2]) == "card template gold-card of merchant coffee is not defined"
    assert missing(only_merchant, STEPS[3]) == "plan vip of merchant coffee is not defined"
    assert missing(fold_all(STEPS[:3]), STEPS[5]) == "card product vip-year of merchant coffee is not defined"
    bad_level = parsed([{"merchant_id": "coffee", "type": "product", "product_id": "x", "plan_id": "vip",
                         "level_id": "silver", "price": "1", "duration_days": 1}])[0]
    assert missing(IN_ORDER, bad_level) == "level silver is not a level of plan vip (version 1)"
    assert all(missing(IN_ORDER, s) is None for s in STEPS)


def test_invalid_steps_name_the_field():
    assert parse_step(b'{"type": "plan", "merchant_id": "m"}', 10_000).startswith("plan.plan_id: Field required")
    assert parse_step(b"{nope", 10_000).startswith("malformed JSON")
    assert parse_step(b'{"type": "product_status", "merchant_id": "m", "product_id": "p", "status": "live"}',
                      10_000).startswith("product_status.status: Input should be")


def test_the_catalogue_shows_effective_plans_with_products_and_active_benefits():
    shown = catalogue(IN_ORDER, "default", "coffee")
    assert shown["name"] == "coffee shop" and not shown["suspended"]
    [plan] = shown["plans"]
    assert plan["card"] == {"template_id": "gold-card", "title": "Gold card", "background": "#c90"}
    gold, black = plan["levels"]
    assert (gold["level_id"], gold["channels"], gold["products"]) == (
        "gold", ["purchase", "registration"], [{"product_id": "vip-year", "price": "88.00", "duration_days": 365}])
    assert [b["coupon_template"] for b in black["benefits"]] == ["free_coffee"]
    inactive = fold_all(parsed([{"merchant_id": "coffee", "type": "activity", "activity_id": "welcome-coupons",
                                 "name": "W", "version": 2}]), IN_ORDER)
    assert catalogue(inactive, "default", "coffee")["plans"][0]["levels"][0]["benefits"] == []
    pending = fold_all([s for s in STEPS if not (s.type == "plan_status" and s.status == "effective")])
    assert catalogue(pending, "default", "coffee")["plans"] == []
    assert catalogue(IN_ORDER, "default", "nobody") is None
