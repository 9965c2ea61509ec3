"""Read-only views of member state for the lookup API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.rules import TenantRules
from config.tiers import DowngradePolicy, Metric, MetricKind
from engine.badge_views import badges_summary
from engine.benefit_views import benefits_summary
from engine.experiments import arm_rules, exposures_summary
from engine.holds import risk_summary
from engine.progress import lots_view, tier_progress
from engine.qualification import qualification
from engine.redemptions.views import redemptions_summary
from engine.wallet import held, pending, spendable
from engine.windows import metric_value
from models.state import MemberState

SPEND_30D = Metric(kind=MetricKind.SPEND, window_days=30)
SPEND_365D = Metric(kind=MetricKind.SPEND, window_days=365)


def tier_protection(state: MemberState, rules: TenantRules, qualified_rank: int) -> dict[str, Any]:
    """Seed 003 §3.1 made visible: ``protection_until`` -- the end of a protected tier's (DIAMOND,
    BLACK_GOLD: ``protection_days``) protection once an evaluation found the member short, or the
    protection an import gave -- and the ``pending_downgrade`` with its date and target (None when
    none is scheduled, or when the member qualifies again: the next evaluation calls it off)."""
    ladder, at = rules.tiers, state.downgrade_at
    current = ladder.rank(state.tier)
    protected = state.protection_until
    if at is not None and ladder.tiers[current].protection_days and (protected is None or at > protected):
        protected = at
    pending = None
    if at is not None and qualified_rank < current:
        one_down = qualified_rank if ladder.downgrade is DowngradePolicy.TO_QUALIFIED else current - 1
        pending = {"to_tier": ladder.tiers[max(one_down, qualified_rank)].id, "at": at.isoformat(),
                   "warned": state.downgrade_warned}
    return {
        "protection_until": protected.isoformat() if protected else None,
        "downgrade_at": at.isoformat() if at else None,
        "pending_downgrade": pending,
    }


def member_summary(state: MemberState, rules: TenantRules, as_of: datetime) -> dict[str, Any]:
    rules = arm_rules(state, rules, as_of)  # a member in a live experiment is shown its arm's tiers and rights
    arm = rules.arm
    day = as_of.astimezone(rules.tz).date()
    q = qualification(state, rules.tiers, day)
    return {
        "tenant_id": state.tenant_id,
        "member_id": state.member_id,
        "as_of": as_of.isoformat(),
        "tier": state.tier,
        "tier_since": state.tier_since.isoformat() if state.tier_since else None,
        "qualified_tier": q.tier,
        **tier_protection(state, rules, q.rank),  # "protection_until", "downgrade_at", "pending_downgrade"
        "tier_progress": tier_progress(state, rules.tiers, day),
        "currency": rules.currency,
        "tier_override_until": state.tier_override_until.isoformat() if state.tier_override_until else None,
        "status": state.status.value,
        "status_reason": state.status_reason or None,
        "status_since": state.status_since.isoformat() if state.status_since else None,
        "points": {
            "balance": held(state),
            "spendable": spendable(state, as_of),
            "pending": pending(state, as_of),
            "debt": state.debt,
            "lifetime_earned": state.lifetime_earned,
        },
        "lots": lots_view(state),
        "risk": risk_summary(state),  # open abnormal spending flags, points held (engine/holds.py)
        "growth": state.growth,
        "spend_30d": str(metric_value(state, SPEND_30D, day)),
        "spend_365d": str(metric_value(state, SPEND_365D, day)),
        "last_login_at": state.last_login_at.isoformat() if state.last_login_at else None,
        "last_event_at": state.watermark.isoformat() if state.watermark else None,
        **badges_summary(state, rules),  # "badges", "badge_rights" (engine/badge_views.py)
        **redemptions_summary(state, as_of),  # "redemptions": gifts, held points, coupons
        **benefits_summary(state, as_of),  # "benefits": the instances kept (engine/benefit_views.py)
        "experiment_arm": {"experiment": arm.experiment, "variant": arm.variant} if arm else None,
        "experiments": exposures_summary(state),  # live experiments the member is or was in (engine/experiments.py)
    }
