"""Downgrades at periodic evaluation, with protection and advance warning (seed 003 §3.1).

A member who falls short of their tier is not moved at once: the downgrade is
scheduled ``max(protection_days of the tier, downgrade_warning_days)`` after
the first evaluation that finds them short, a ``downgrade_warning`` goes out
``downgrade_warning_days`` before it takes effect, and qualifying again in the
meantime cancels it.  ``one_down`` drops one tier at a time; ``to_qualified``
drops straight to the tier the member qualifies for.  An operator's tier
override holds the tier until its end: no downgrade is scheduled before then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.tiers import DowngradePolicy
from engine.clock import local_day
from engine.due_moments import LookAhead
from engine.step import Step
from models.outputs import NotificationKind
from models.state import MemberState


def evaluate_downgrade(step: Step, as_of: datetime) -> bool:
    """Returns True when the state changed."""
    state, ladder = step.state, step.rules.tiers
    if overridden(state, as_of):
        return False
    current = ladder.rank(state.tier)
    q = step.qualification() if current else None  # the base tier has nowhere to fall to
    if q is None or q.rank >= current:
        if state.downgrade_at is None:
            return False
        state.downgrade_at, state.downgrade_warned = None, False
        return True
    tier = ladder.tiers[current]
    target_rank = q.rank if ladder.downgrade is DowngradePolicy.TO_QUALIFIED else current - 1
    target = ladder.tiers[max(target_rank, q.rank)].id
    changed = False
    if state.downgrade_at is None:
        wait = max(tier.protection_days, ladder.downgrade_warning_days)
        # a tier given with a protection (an import's ``protection_until``) is not taken before it ends
        protected = state.protection_until if state.protection_until is not None else as_of
        state.downgrade_at, state.downgrade_warned = max(as_of + timedelta(days=wait), protected), False
        changed = True
    warn_from = state.downgrade_at - timedelta(days=ladder.downgrade_warning_days)
    if ladder.downgrade_warning_days and not state.downgrade_warned and as_of >= warn_from:
        step.notify(
            NotificationKind.DOWNGRADE_WARNING,
            f"{state.tier} ends on {local_day(state.downgrade_at, step.rules.tz).isoformat()} "
            f"unless {q.metric} qualifies again",
            from_tier=state.tier,
            to_tier=target,
            effective_at=state.downgrade_at.isoformat(),
            metric=q.metric,
            metric_value=str(q.value),
        )
        state.downgrade_warned = True
        changed = True
    if as_of >= state.downgrade_at:
        step.tier_change(state.tier, target, False, "downgrade", q.metric, q.value)
        state.tier, state.tier_since = target, as_of
        state.downgrade_at, state.downgrade_warned = None, False
        changed = True
    return changed


def overridden(state: MemberState, as_of: datetime) -> bool:
    """An operator's tier override holds the tier until its end (engine/operator_actions.py)."""
    until = state.tier_override_until
    return bool(until) and as_of < until


def downgrade_due(ahead: LookAhead) -> datetime | None:
    """When ``evaluate_downgrade`` next has work: once the member may no longer
    qualify for its tier; with a downgrade pending, at its warning and at the
    downgrade itself (at once if the member may qualify again, which calls it off)."""
    state, ladder = ahead.state, ahead.rules.tiers
    if overridden(state, ahead.since):
        return state.tier_override_until
    current = ladder.rank(state.tier)
    if state.downgrade_at is None:
        return ahead.qualifies_until(current) if current > 0 else None
    if ahead.windows_may_grow or ahead.qualification.rank >= current:
        return ahead.since
    if state.downgrade_warned:
        return state.downgrade_at
    return state.downgrade_at - timedelta(days=ladder.downgrade_warning_days)
