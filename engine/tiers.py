"""Tier upgrades (seed 003 §1, §2.2).

Upgrades happen the moment an event qualifies, possibly several tiers at
once; downgrades only happen at periodic evaluation.
"""

from __future__ import annotations

from datetime import date, timedelta

from engine.qualification import qualification
from engine.step import Step


def upgrade_if_qualified(step: Step) -> None:
    """Move the member up to the highest qualifying tier and grant its upgrade gift."""
    state, ladder = step.state, step.rules.tiers
    # the event's own day -- events reach here in time order (``engine.event_time``) -- except for an
    # event older than what an arrival-ordered event fixed: it catches up with the latest event's day
    as_of = max(step.day, _watermark_day(step))
    q = qualification(state, ladder, as_of)
    current = ladder.rank(state.tier)
    if q.rank <= current:
        return
    previous = state.tier
    state.tier = q.tier
    state.tier_since = step.occurred_at
    state.protection_until = None
    step.tier_change(previous, q.tier, True, q.reason, q.metric, q.value)
    gift = ladder.tiers[q.rank].upgrade_gift
    if gift is not None:
        step.grant(
            "upgrade_gift",
            q.tier,
            tier=q.tier,
            value=gift.value,
            valid_from=step.occurred_at,
            valid_until=step.occurred_at + timedelta(days=gift.valid_days),
            details={"description": gift.description} if gift.description else {},
            conditions=gift.conditions,
        )


def _watermark_day(step: Step) -> date:
    latest = step.watermark_day()
    return latest if latest is not None else step.day

