"""Coupon thresholds (issue 22 item 5): a benefit's minimum spend and per-order limit, honoured by
the checkout quote (engine/quote.py) and by usage reports (engine/benefit_usage.py), each at its
boundary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from config.rules import RuleBook, TenantRules
from config.settings import SHIPPED_RULES_DIR
from engine.evaluation import evaluate_member, evaluation_id
from engine.outcome import Applied
from engine.quote import quote
from engine.views import member_summary
from models.benefits import BenefitStatus, BenefitUsage
from models.conditions import Conditions
from models.outputs import DeadLetterReason
from models.quotes import QuoteRequest
from tests.engine.fixtures import Member, item

SHIPPED = RuleBook.load(SHIPPED_RULES_DIR).default
PAID_AT = "2026-03-02T10:00:00+08:00"  # a Monday
WEEK_START = datetime.fromisoformat("2026-03-03T00:00:00+08:00")
USE_AT = datetime.fromisoformat("2026-03-04T10:00:00+08:00")


def gold_coupons(per_order: int | None, min_spend: str | None = "50", count: int = 3) -> TenantRules:
    """The shipped rules with GOLD's weekly coupons (10 off each) ``count`` a week, under these conditions."""
    conditions = Conditions(min_spend=None if min_spend is None else Decimal(min_spend), per_order=per_order)

    def coupons(tier):
        allowance = tier.benefits.coupons.model_copy(update={"count": count, "conditions": conditions})
        return tier.model_copy(update={"benefits": tier.benefits.model_copy(update={"coupons": allowance})})

    tiers = SHIPPED.tiers.model_copy(update={"tiers": [coupons(t) if t.id == "GOLD" else t
                                                       for t in SHIPPED.tiers.tiers]})
    return SHIPPED.model_copy(update={"tiers": tiers})


def member_with_coupons(rules: TenantRules) -> tuple[Member, list[str]]:
    m = Member(rules)
    m.pay("o1", 500, PAID_AT)  # GOLD
    evaluate_member(m.state, rules, WEEK_START, evaluation_id(None, WEEK_START))  # this week's coupons
    ids = [bid for bid, inst in m.state.benefits.items() if inst.benefit == "tier_coupon"]
    assert len(ids) == 3
    return m, ids


def use(m: Member, benefit_id: str, order_id: str, amount: str | None, event_id: str | None = None):
    m._seq += 1
    return m.apply(BenefitUsage(event_id=event_id or f"u{m._seq}", member_id="m1", occurred_at=USE_AT,
                                benefit_id=benefit_id, action="used", order_id=order_id,
                                order_amount=None if amount is None else Decimal(amount)))


def restore(m: Member, benefit_id: str, order_id: str):
    m._seq += 1
    return m.apply(BenefitUsage(event_id=f"u{m._seq}", member_id="m1", occurred_at=USE_AT, benefit_id=benefit_id,
                                action="restored", order_id=order_id))


# -- usage reports ------------------------------------------------------------------


def test_a_usage_at_exactly_the_minimum_spend_is_taken_a_cent_under_is_refused():
    m, (first, second, _) = member_with_coupons(gold_coupons(per_order=None))
    before = m.snapshot()
    under = use(m, first, "shop-1", "49.99")
    assert (under.result, under.reason) == (Applied.REJECTED, DeadLetterReason.BELOW_MIN_SPEND)
    assert under.detail == f"benefit {first}: needs goods of 50 on order shop-1, the order has 49.99"
    assert under.outputs == [] and m.snapshot() == before  # nothing changed
    exactly = use(m, first, "shop-1", "50.00")
    assert exactly.result is Applied.APPLIED and m.state.benefits[first].status is BenefitStatus.USED
    unknown = use(m, second, "shop-2", None)  # the threshold cannot be checked: refused
    assert (unknown.reason, unknown.detail.endswith("the report gives no order_amount")) == (
        DeadLetterReason.BELOW_MIN_SPEND, True)


def test_the_per_order_limit_at_exactly_n_and_n_plus_one():
    m, (a, b, c) = member_with_coupons(gold_coupons(per_order=2))
    assert use(m, a, "shop-1", "80").result is Applied.APPLIED
    assert use(m, b, "shop-1", "80").result is Applied.APPLIED  # exactly 2
    before = m.snapshot()
    third = use(m, c, "shop-1", "80")  # 2 + 1
    assert (third.result, third.reason) == (Applied.REJECTED, DeadLetterReason.OVER_PER_ORDER_LIMIT)
    assert third.detail == f"benefit {c}: at most 2 tier_coupon per order, order shop-1 uses {a}, {b}"
    assert m.snapshot() == before
    assert use(m, c, "shop-2", "80").result is Applied.APPLIED  # another order may


def test_a_usage_reported_again_is_not_counted_twice_and_a_refund_frees_its_place():
    m, (a, b, _) = member_with_coupons(gold_coupons(per_order=1))
    first = use(m, a, "shop-1", "80", event_id="use-a")
    assert first.result is Applied.APPLIED
    assert use(m, a, "shop-1", "80", event_id="use-a").result is Applied.DUPLICATE  # redelivered
    again = use(m, a, "shop-1", "80")  # the same use reported anew: nothing changes, nothing refused
    assert again.result is Applied.APPLIED and again.outputs == []
    assert use(m, b, "shop-1", "80").reason is DeadLetterReason.OVER_PER_ORDER_LIMIT
    restore(m, a, "shop-1")  # the order refunded: its coupon back, its place free
    assert use(m, b, "shop-1", "80").result is Applied.APPLIED


def test_the_thresholds_are_shown_with_the_instance():
    m, (a, _, _) = member_with_coupons(gold_coupons(per_order=1))
    (shown,) = [b for b in member_summary(m.state, m.rules, USE_AT)["benefits"] if b["benefit_id"] == a]
    assert shown["conditions"] == {"min_spend": "50", "categories": [], "channel": None, "per_order": 1}


# -- the quote ------------------------------------------------------------------------


def verdicts(m: Member, coupons: list[str], price: str = "100.00") -> list[tuple[bool, Decimal, str | None]]:
    q = quote(m.state, m.rules, QuoteRequest(items=[item(price)], coupons=coupons), USE_AT)
    return [(v.applies, v.saving, v.reason) for v in q.coupons]


@pytest.mark.parametrize(("per_order", "applying"), [(1, 1), (2, 2), (None, 3)])
def test_the_quote_applies_at_most_per_order_of_a_kind(per_order, applying):
    m, ids = member_with_coupons(gold_coupons(per_order=per_order))
    got = verdicts(m, ids)
    assert [applies for applies, _, _ in got] == [True] * applying + [False] * (3 - applying)
    assert all(reason == f"at most {per_order} tier_coupon per order" for _, _, reason in got[applying:])
    assert sum(saving for _, saving, _ in got) == 10 * applying


def test_the_quotes_minimum_spend_boundary_is_the_member_price():
    m, (a, b, _) = member_with_coupons(gold_coupons(per_order=1))
    # GOLD pays 95%: 52.64 -> 50.01, 52.62 -> 49.99 (rounded half up to the cent)
    assert verdicts(m, [a], "52.64")[0][0] is True
    assert verdicts(m, [a], "52.62")[0] == (False, Decimal(0), "needs goods of 50, the cart has 49.99")


def test_a_coupon_that_does_not_apply_leaves_its_place_to_the_next():
    m, (a, b, _) = member_with_coupons(gold_coupons(per_order=1))
    use(m, a, "shop-1", "80")  # used up
    got = verdicts(m, [a, b])
    assert got[0][0] is False and got[0][2].startswith("used already")
    assert got[1] == (True, Decimal(10), None)
