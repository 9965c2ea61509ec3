"""The checkout quote (engine/quote.py): tier prices rounded by the rules, coupons that apply and why
others do not, free shipping from the threshold, and the points the real order then earns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from config.rules import CheckoutRules, Rounding, RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.quote import quote
from models.benefits import BenefitUsage
from models.conditions import Conditions
from models.outputs import LedgerEntry, LedgerKind
from models.quotes import QuoteRequest
from models.state import state_json
from tests.engine.fixtures import Member, item, paid

SHIPPED = RuleBook.load(SHIPPED_RULES_DIR).default
PAID_AT = "2026-03-02T10:00:00+08:00"
AT = datetime.fromisoformat("2026-03-05T10:00:00+08:00")


def gold(rules=SHIPPED) -> tuple[Member, str]:
    m = Member(rules)
    m.pay("o1", 500, PAID_AT)
    return m, next(g.grant_id for g in m.grants if g.benefit == "upgrade_gift")


def test_a_gold_cart_at_95_percent_with_free_shipping_and_the_points_the_order_then_earns():
    m, gift = gold()
    cart = QuoteRequest(items=[item("10.00", 2, category="fresh"), item("1200.00", 1, sku="TV")],
                        shipping_fee=Decimal(6), coupons=[gift, "bg-nobody"])
    before = state_json(m.state)
    q = quote(m.state, m.rules, cart, AT)
    assert state_json(m.state) == before  # a dry run
    assert (q.tier, q.discount, q.list_total, q.member_total) == ("GOLD", Decimal("0.95"), Decimal("1220.00"),
                                                                 Decimal("1159.00"))
    assert [(c.benefit_id, c.applies, c.saving, c.reason) for c in q.coupons] == [
        (gift, True, Decimal(20), None), ("bg-nobody", False, Decimal(0), "not held by this member")]
    assert (q.goods_to_pay, q.shipping, q.total) == (Decimal("1139.00"), Decimal(0), Decimal("1139.00"))

    order = m.apply(paid("e-real", "o-real", q.goods_to_pay, AT, items=cart.items))
    earned: dict[str, int] = {}
    for out in order.outputs:
        if isinstance(out.value, LedgerEntry) and out.value.kind is LedgerKind.EARN:
            earned[out.value.rule] = earned.get(out.value.rule, 0) + out.value.delta
    assert q.points_by_rule == earned and q.points == sum(earned.values()) > 0


def test_shipping_is_charged_below_the_threshold_and_used_or_conditioned_coupons_do_not_apply():
    conditions = Conditions(min_spend=Decimal(99), categories=["fresh"], channel="app")
    tiers = SHIPPED.tiers.model_copy(update={"tiers": [
        t.model_copy(update={"upgrade_gift": t.upgrade_gift.model_copy(update={"conditions": conditions})})
        if t.id == "GOLD" else t for t in SHIPPED.tiers.tiers]})
    m, gift = gold(SHIPPED.model_copy(update={"tiers": tiers}))
    small = QuoteRequest(items=[item("10.00", 1, category="fresh")], shipping_fee=Decimal(6), coupons=[gift])
    q = quote(m.state, m.rules, small, AT)
    assert (q.member_total, q.shipping, q.total) == (Decimal("9.50"), Decimal(6), Decimal("15.50"))
    assert q.coupons[0].reason == "needs goods of 99, the cart has 9.50"
    big = QuoteRequest(items=[item("120.00", 1, category="fresh")], coupons=[gift], channel="web")
    assert quote(m.state, m.rules, big, AT).coupons[0].reason == "only through app"
    other = QuoteRequest(items=[item("200.00", 1, category="toys")], coupons=[gift], channel="app")
    assert quote(m.state, m.rules, other, AT).coupons[0].reason == "only on fresh"
    m.apply(BenefitUsage(event_id="u1", member_id="m1", occurred_at=AT, benefit_id=gift, action="used",
                         order_id="shop-1", order_amount=Decimal(120)))
    fine = QuoteRequest(items=[item("120.00", 1, category="fresh")], coupons=[gift], channel="app")
    assert quote(m.state, m.rules, fine, AT).coupons[0].reason == "used already (order shop-1)"


@pytest.mark.parametrize(("rounding", "price"), [
    (Rounding.HALF_UP, "9.79"), (Rounding.HALF_EVEN, "9.78"), (Rounding.DOWN, "9.78")])
def test_each_line_is_rounded_to_the_cent_by_the_rules(rounding, price):
    m, _ = gold(SHIPPED.model_copy(update={"checkout": CheckoutRules(rounding=rounding)}))
    q = quote(m.state, m.rules, QuoteRequest(items=[item("10.30", 2)]), AT)  # 10.30 x 0.95 = 9.785
    assert q.member_total == Decimal(price) * 2
