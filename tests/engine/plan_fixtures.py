"""A merchant's membership-plan steps (seed 002), as published, for engine and Kafka tests."""

from __future__ import annotations

from typing import Any

from engine.plans import STEP


def merchant_steps(merchant: str = "coffee", tenant: str = "default", *, price: str = "88.00",
                   days: int = 365) -> list[dict[str, Any]]:
    """The document's merchant-side flow, in its order: template, plan and levels, product
    (pending), plan effective, product effective; then a coupon activity bound to the plan."""
    base = {"tenant_id": tenant, "merchant_id": merchant}
    return [
        {**base, "type": "merchant", "name": f"{merchant} shop"},
        {**base, "type": "card_template", "template_id": "gold-card", "title": "Gold card", "background": "#c90"},
        {**base, "type": "plan", "plan_id": "vip", "name": "VIP", "template_id": "gold-card",
         "renewal_reminder_days": 7,
         "levels": [{"level_id": "gold", "name": "Gold", "rank": 1, "channels": ["purchase", "registration"]},
                    {"level_id": "black", "name": "Black", "rank": 2, "channels": ["purchase"]}]},
        {**base, "type": "product", "product_id": "vip-year", "plan_id": "vip", "level_id": "gold",
         "price": price, "duration_days": days},
        {**base, "type": "product", "product_id": "vip-black", "plan_id": "vip", "level_id": "black",
         "price": "188.00", "duration_days": days},
        {**base, "type": "product_status", "product_id": "vip-year", "status": "pending"},
        {**base, "type": "product_status", "product_id": "vip-black", "status": "pending"},
        {**base, "type": "plan_status", "plan_id": "vip", "status": "pending"},
        {**base, "type": "plan_status", "plan_id": "vip", "status": "effective"},
        {**base, "type": "product_status", "product_id": "vip-year", "status": "effective"},
        {**base, "type": "product_status", "product_id": "vip-black", "status": "effective"},
        {**base, "type": "activity", "activity_id": "welcome-coupons", "name": "Welcome coupons", "effective": True},
        {**base, "type": "benefit", "benefit_id": "coffee-coupon", "plan_id": "vip",
         "activity_id": "welcome-coupons", "coupon_template": "free_coffee", "value": "15.00", "quantity": 2},
    ]


def club_steps(merchant: str = "coffee", *, suspended: bool = False) -> list[dict[str, Any]]:
    """A coffee chain's club: green (free: registration, invitation, grant), gold (spend 100.00 or a
    grant), black (a paid card only); a coupon bound to every level."""
    base = {"tenant_id": "default", "merchant_id": merchant}
    return [
        {**base, "type": "merchant", "name": "Coffee", "suspended": suspended},
        {**base, "type": "card_template", "template_id": "club-card", "title": "Club card"},
        {**base, "type": "plan", "plan_id": "club", "name": "Club", "template_id": "club-card",
         "levels": [
             {"level_id": "green", "name": "Green", "rank": 1,
              "channels": ["registration", "invitation", "operator_grant"]},
             {"level_id": "gold", "name": "Gold", "rank": 2, "channels": ["spend_threshold", "operator_grant"],
              "spend_threshold": "100.00"},
             {"level_id": "black", "name": "Black", "rank": 3, "channels": ["purchase"]}]},
        {**base, "type": "plan_status", "plan_id": "club", "status": "effective"},
        {**base, "type": "product", "product_id": "black-year", "plan_id": "club", "level_id": "black",
         "price": "99.00", "duration_days": 365},
        {**base, "type": "product_status", "product_id": "black-year", "status": "effective"},
        {**base, "type": "activity", "activity_id": "welcome", "name": "Welcome", "effective": True},
        {**base, "type": "benefit", "benefit_id": "latte", "plan_id": "club", "activity_id": "welcome",
         "coupon_template": "free_latte", "value": "5.00"},
    ]


def parsed(steps: list[dict[str, Any]]) -> list[Any]:
    return [STEP.validate_python(s) for s in steps]


def card_item(merchant: str = "coffee", product: str = "vip-year", price: str = "88.00") -> dict[str, Any]:
    return {"sku": product, "category": "membership_card", "merchant_id": merchant, "unit_price": price,
            "quantity": 1}
