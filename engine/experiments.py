"""Live experiments in the engine: which rules judge a member's event, and what its arm saw.

``rules_for`` picks the rules of the member's experiment arm (config/experiments.py)
as of the event's time and the member's tier before it; ``record`` adds what the
event did -- spend, orders, points earned, tier moves, grants, benefits used --
to the member's exposure in that experiment, which the read model sums per variant.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from config.rules import TenantRules
from engine.step import Step
from models.benefits import BenefitChange
from models.events import OrderPaid, OrderRefunded
from models.outputs import BenefitGrant, LedgerEntry, LedgerKind, TierChange, TierDirection
from models.state import ExperimentExposure, MemberState


def arm_rules(state: MemberState, rules: TenantRules, at: datetime) -> TenantRules:
    """The rules ``state``'s member is judged by at ``at`` (the tenant's, or its experiment arm's)."""
    if not rules.experiments:
        return rules
    return rules.for_member(state.tenant_id, state.member_id, state.tier, at)


def next_boundary(rules: TenantRules, since: datetime) -> datetime | None:
    """The first moment after ``since`` an experiment starts or ends: a member's arm, and so what an
    evaluation could do for it, may change there."""
    moments = [t for e in rules.experiments for t in (e.population.starts_at, e.until()) if t is not None and t > since]
    return min(moments, default=None)


def record(step: Step, event: object) -> None:
    """Add what this step did to the member's exposure in its arm's experiment (``step.rules.arm``)."""
    arm = step.rules.arm
    if arm is None:
        return
    exposed = exposure(step.state, arm.experiment, arm.variant, step.occurred_at)
    if isinstance(event, OrderPaid):
        exposed.spend += event.amount
        exposed.orders += 1
    elif isinstance(event, OrderRefunded):
        paid = step.state.orders.get(event.order_id)
        if paid is not None and paid.paid_at >= exposed.enrolled_at:  # only what the experiment counted as spent
            exposed.spend -= step.refunded
    for emitted in step.outputs:
        value = emitted.value
        if isinstance(value, LedgerEntry):
            if value.kind is LedgerKind.EARN and value.rule != "gift" and value.retracts is None:
                exposed.points_issued += value.delta
        elif isinstance(value, TierChange):
            if value.direction is TierDirection.UP:
                exposed.upgrades += 1
            else:
                exposed.downgrades += 1
        elif isinstance(value, BenefitGrant):
            exposed.grants += 1
        elif isinstance(value, BenefitChange) and value.action == "used":
            exposed.benefits_used += 1


#: an experiment's (variant, orders, net spend) counted of a member, by experiment
Tallies = dict[str, tuple[str, int, Decimal]]


def arm_tallies(state: MemberState | None) -> Tallies:
    """The member's experiments and what each counted of its orders: (variant, orders, net spend). The
    difference across one event or evaluation is what it added to the member's arms -- an enrolment,
    orders, spend -- for the worker's metrics."""
    if state is None or not state.experiments:
        return {}
    return {name: (e.variant, e.orders, e.spend) for name, e in state.experiments.items()}


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
