"""Entitlements at checkout (engine/entitlements.py): the tier's column of the benefit matrix and the
benefits an order could use as of the moment asked, with their conditions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.entitlements import entitlements
from models.benefits import BenefitUsage
from models.conditions import Conditions
from tests.engine.fixtures import Member

SHIPPED = RuleBook.load(SHIPPED_RULES_DIR).default
PAID_AT = "2026-03-02T10:00:00+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_matrix_of_seed_003_per_tier():
    expected = {  # tier: discount, free shipping from, priority delivery, trials, customer service
        "NORMAL": ("1", "39", "none", "none", "standard"),
        "SILVER": ("0.98", "29", "priority", "occasional", "standard"),
        "GOLD": ("0.95", "19", "priority", "quarterly", "email"),
        "DIAMOND": ("0.9", "0", "priority", "monthly", "phone"),
    }
    for tier, spend in (("NORMAL", 10), ("SILVER", 200), ("GOLD", 500), ("DIAMOND", 1000)):
        m = Member(SHIPPED)
        m.pay("o1", spend, PAID_AT)
        view = entitlements(m.state, m.rules, at("2026-03-03T10:00:00+08:00"))
        assert view["tier"] == tier
        assert (view["discount"], view["free_shipping_threshold"], view["priority_delivery"],
                view["new_product_trial"], view["customer_service"]) == expected[tier]


def test_the_benefits_an_order_could_use_with_their_conditions():
    conditions = Conditions(min_spend=Decimal(99), categories=["fresh"], channel="app")
    gold = SHIPPED.tiers.by_id("GOLD")
    gift = gold.upgrade_gift.model_copy(update={"conditions": conditions})
    tiers = SHIPPED.tiers.model_copy(update={"tiers": [
        t.model_copy(update={"upgrade_gift": gift}) if t.id == "GOLD" else t for t in SHIPPED.tiers.tiers]})
    m = Member(SHIPPED.model_copy(update={"tiers": tiers}))
    m.pay("o1", 500, PAID_AT)
    (benefit,) = entitlements(m.state, m.rules, at("2026-03-03T10:00:00+08:00"))["benefits"]
    assert (benefit["benefit"], benefit["value"], benefit["status"]) == ("upgrade_gift", "20", "issued")
    assert benefit["conditions"] == {"min_spend": "99", "categories": ["fresh"], "channel": "app", "per_order": None}
    assert entitlements(m.state, m.rules, at("2026-04-01T10:00:00+08:00"))["benefits"] == []  # its end

    m.apply(BenefitUsage(event_id="u1", member_id="m1", occurred_at=at("2026-03-04T10:00:00+08:00"),
                         benefit_id=benefit["benefit_id"], action="used", order_id="shop-1", order_amount=120))
    assert entitlements(m.state, m.rules, at("2026-03-05T10:00:00+08:00"))["benefits"] == []  # used
