"""Read-only views of where a member stands: the points lots with their expiry,
and how far the member is from the tier above (for the member page)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from config.tiers import MetricKind, TierRules
from engine.windows import metric_value
from models.state import MemberState


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def lots_view(state: MemberState) -> list[dict[str, Any]]:
    """The member's points lots, soonest expiry first (lots that never expire last)."""
    lots = sorted(state.lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.earned_at,
                                               lot.earned_at, lot.lot_id))
    return [{"lot_id": lot.lot_id, "points": lot.amount, "earned_at": _when(lot.earned_at),
             "expires_at": _when(lot.expires_at), "pending_until": _when(lot.pending_until),
             "order_id": lot.order_id} for lot in lots]


def tier_progress(state: MemberState, ladder: TierRules, day: date) -> dict[str, Any] | None:
    """The tier above the member's and each way into it with the value now and what is missing
    (``short``: threshold - value, never below 0); ``closest`` is the way with the least missing.
    None at the top of the ladder."""
    rank = ladder.rank(state.tier)
    if rank + 1 >= len(ladder.tiers):
        return None
    nxt = ladder.tiers[rank + 1]
    ways = []
    for condition in nxt.qualify:
        value = metric_value(state, condition.metric, day)
        ways.append({"metric": condition.metric.name, "money": condition.metric.kind is MetricKind.SPEND,
                     "value": str(value), "threshold": str(condition.threshold),
                     "short": str(max(condition.threshold - value, 0))})
    closest = min(ways, key=lambda w: float(w["short"]) / max(float(w["threshold"]), 1), default=None)
    return {"next_tier": nxt.id, "by_invitation": nxt.by_invitation, "ways": ways, "closest": closest}
