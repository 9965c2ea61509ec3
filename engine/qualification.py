"""Which tier a member qualifies for as of a local day (seed 003 §1): pure, no state change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from config.tiers import MetricKind, TierRules
from engine.windows import metric_value
from models.state import MemberState


class Qualification(NamedTuple):
    """(A tuple: one is built on every look at a member, and a frozen dataclass costs twice as much.)"""

    rank: int
    tier: str
    reason: str
    metric: str
    value: Decimal


def qualification(state: MemberState, ladder: TierRules, as_of: date,
                  values: dict[tuple[MetricKind, int], Decimal] | None = None) -> Qualification:
    """The highest tier the member qualifies for as of a local day.  ``values``: the metrics as of
    that day, by (kind, window), known so far -- filled in as they are summed."""
    invited_rank = ladder.rank(state.invited_tier) if state.invited_tier else 0
    if values is None:
        values = {}  # tiers usually measure the same metric
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
        value = values[(first.kind, first.window_days)] = metric_value(state, first, as_of)
    return Qualification(0, ladder.base, "base", first.name, value)
