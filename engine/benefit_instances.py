"""Benefit instances kept per member: every grant becomes one (``Step.grant``).

An instance's id is its grant id; its status moves ``issued -> used | expired
| voided`` as usage is reported (``engine/benefit_usage.py``) and as the
periodic evaluation passes its ``valid_until``.  The instances are bounded:
settled ones go ``keep_settled_days`` after they settled, and beyond
``max_instances`` the oldest settled, then the oldest, go first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.rules import BenefitRules
from models.benefit_state import BenefitInstance, InstanceConditions
from models.benefits import BenefitStatus
from models.outputs import BenefitGrant
from models.state import MemberState


def instances(state: MemberState) -> dict[str, BenefitInstance]:
    """The member's instances (an empty dict, not stored, when none was ever granted)."""
    return state.benefits or {}


def issue(state: MemberState, grant: BenefitGrant, rules: BenefitRules) -> None:
    """Keep ``grant`` as an issued instance; a grant issued again (same id) stays as it is."""
    kept = state.benefits if state.benefits else {}
    if grant.grant_id in kept:
        return
    c = grant.conditions
    kept[grant.grant_id] = BenefitInstance(
        benefit=grant.benefit,
        tier=grant.tier,
        value=grant.value,
        quantity=grant.quantity,
        conditions=None if c is None else InstanceConditions(
            min_spend=c.min_spend, categories=list(c.categories), channel=c.channel, per_order=c.per_order),
        issued_at=grant.occurred_at,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
    )
    state.benefits = kept
    forget_settled(state, grant.occurred_at, rules)


def forget_settled(state: MemberState, as_of: datetime, rules: BenefitRules) -> bool:
    """Drop instances settled ``keep_settled_days`` before ``as_of``, then the oldest beyond
    ``max_instances`` (settled first).  Returns whether any went."""
    kept = instances(state)
    cutoff = as_of - timedelta(days=rules.keep_settled_days)
    stale = [bid for bid, inst in kept.items() if inst.settled_at is not None and inst.settled_at <= cutoff]
    overflow = len(kept) - len(stale) - rules.max_instances
    if overflow > 0:
        left = [bid for bid in kept if bid not in stale]
        settled = [bid for bid in left if kept[bid].settled]
        unsettled = [bid for bid in left if not kept[bid].settled]
        stale += (settled + unsettled)[:overflow]
    for bid in stale:
        del kept[bid]
    return bool(stale)


def settle_due(state: MemberState, rules: BenefitRules) -> datetime | None:
    """When ``forget_settled`` next drops a settled instance."""
    settled = [inst.settled_at for inst in instances(state).values() if inst.settled_at is not None]
    return min(settled) + timedelta(days=rules.keep_settled_days) if settled else None


def usable(inst: BenefitInstance, at: datetime) -> str | None:
    """Why ``inst`` cannot be used on an order at ``at`` (event time), or None when it can."""
    if inst.status is BenefitStatus.VOIDED:
        return "voided"
    if inst.valid_from is not None and at < inst.valid_from:
        return f"not valid before {inst.valid_from.isoformat()}"
    if inst.valid_until is not None and at >= inst.valid_until:
        return f"expired at {inst.valid_until.isoformat()}"
    if len(inst.uses) >= inst.quantity:
        return f"used already (order {', '.join(inst.uses)})"
    return None
