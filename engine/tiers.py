"""Tier qualification and upgrades (seed 003 §1, §2.2).

Upgrades happen the moment an event qualifies, possibly several tiers at
once; downgrades only happen at periodic evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from config.rules import MetricKind, TierRules
from engine.step import Step
from engine.windows import metric_value
from models.state import MemberState


@dataclass(frozen=True, slots=True)
class Qualification:
    rank: int
    tier: str
    reason: str
    metric: str
    value: Decimal


def qualification(state: MemberState, ladder: TierRules, as_of: date) -> Qualification:
    """The highest tier the member qualifies for as of a local day."""
    invited_rank = ladder.rank(state.invited_tier) if state.invited_tier else 0
    values: dict[tuple[MetricKind, int], Decimal] = {}  # tiers usually measure the same metric
    for rank, tier, conditions in ladder.climb:
        for metric, threshold, name in conditions:
            key = (metric.kind, metric.window_days)
            value = values.get(key)
            if value is None:
                value = values[key] = metric_value(state, metric, as_of)
            if value >= threshold:
                return Qualification(rank, tier.id, "qualified", name, value)
        if tier.by_invitation and invited_rank >= rank:
            return Qualification(rank, tier.id, "invitation", "invitation", Decimal(0))
    first = ladder.tiers[1].qualify[0].metric if len(ladder.tiers) > 1 and ladder.tiers[1].qualify else None
    if first is None:
        return Qualification(0, ladder.base, "base", "none", Decimal(0))
    value = values.get((first.kind, first.window_days))
    if value is None:
        value = metric_value(state, first, as_of)
    return Qualification(0, ladder.base, "base", first.name, value)


def upgrade_if_qualified(step: Step) -> None:
    """Move the member up to the highest qualifying tier and grant its upgrade gift."""
    state, ladder = step.state, step.rules.tiers
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
        )


def _watermark_day(step: Step) -> date:
    wm = step.state.watermark
    return wm.astimezone(step.rules.tz).date() if wm else step.day

