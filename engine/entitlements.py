"""What a member is entitled to at checkout, as of a moment: the tier's column of the benefit
matrix (seed 003 §1.2, ``tiers.tiers[].benefits``) and the benefit instances an order could use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.rules import TenantRules
from engine.benefit_views import valid_benefits
from models.state import MemberState


def entitlements(state: MemberState, rules: TenantRules, as_of: datetime) -> dict[str, Any]:
    matrix = rules.tiers.by_id(state.tier).benefits
    return {
        "tenant_id": state.tenant_id,
        "member_id": state.member_id,
        "as_of": as_of.isoformat(),
        "tier": state.tier,
        "status": state.status.value,
        "currency": rules.currency,
        "discount": str(matrix.discount),  # the price multiplier of seed 003's applyMemberDiscount: 0.95 = 5 % off
        "free_shipping_threshold": str(matrix.free_shipping_threshold),
        "priority_delivery": matrix.priority_delivery,
        "new_product_trial": matrix.new_product_trial,
        "customer_service": matrix.customer_service,
        "benefits": valid_benefits(state, as_of),
    }
