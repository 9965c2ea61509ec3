"""Live experiments in the engine: which rules judge a member's event, and what its arm saw.

``rules_for`` picks the rules of the member's experiment arm (config/experiments.py)
as of the event's time and the member's tier before it; ``record`` adds what the
event did -- spend, orders, points earned, tier moves, grants, benefits used --
to the member's exposure in that experiment, which the read model sums per variant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.rules import TenantRules
from models.state import ExperimentExposure, MemberState


def rules_for(state: MemberState, rules: TenantRules, at: datetime) -> TenantRules:
    """The rules ``state``'s member is judged by for an event at ``at``."""
    if not rules.experiments:
        return rules
    return rules.for_member(state.tenant_id, state.member_id, state.tier, at)


def exposures_summary(state: MemberState) -> list[dict[str, Any]]:
    """The member's experiments for the lookup and the read model, in the order it entered them."""
    exposures = state.experiments or {}
    return [
        {
            "experiment": experiment,
            "variant": e.variant,
            "enrolled_at": e.enrolled_at.isoformat(),
            "spend": str(e.spend),
            "orders": e.orders,
            "points_issued": e.points_issued,
            "upgrades": e.upgrades,
            "downgrades": e.downgrades,
            "grants": e.grants,
            "benefits_used": e.benefits_used,
        }
        for experiment, e in exposures.items()
    ]


def exposure(state: MemberState, experiment: str, variant: str, at: datetime) -> ExperimentExposure:
    """The member's exposure in ``experiment``, entered at ``at`` if this is its first event in it."""
    exposures = state.experiments or {}
    found = exposures.get(experiment)
    if found is None:
        found = exposures[experiment] = ExperimentExposure(variant=variant, enrolled_at=at)
        state.experiments = exposures
    return found
