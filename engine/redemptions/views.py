"""Read-only view of a member's redemptions for the lookup API: gifts on both
sides (with their state), points held for gifts, coupons awaiting use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.redemption_state import GiftStatus
from models.state import MemberState


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def redemptions_summary(state: MemberState, as_of: datetime) -> dict[str, Any]:
    memory = state.redemption
    sent = [
        {
            "gift_id": gift_id,
            "to_member_id": g.to_member_id,
            "points": g.points,
            "status": g.status.value,
            "offered_at": _when(g.offered_at),
            "respond_by": _when(g.respond_by),
            "closed_at": _when(g.closed_at),
        }
        for gift_id, g in reversed(memory.gifts_sent.items())
    ]
    received = [
        {
            "gift_id": gift_id,
            "from_member_id": g.from_member_id,
            "points": g.points,
            "status": g.status.value,
            "offered_at": _when(g.offered_at),
            "respond_by": _when(g.respond_by),
            "closed_at": _when(g.closed_at),
        }
        for gift_id, g in reversed(memory.gifts_received.items())
    ]
    coupons = [
        {
            "coupon_id": c.coupon_id,
            "denomination": str(c.denomination),
            "quantity": c.quantity,
            "valid_until": _when(c.valid_until),
        }
        for c in memory.coupons
        if c.valid_until > as_of
    ]
    return {
        "redemptions": {
            "points_held_for_gifts": sum(
                g.points for g in memory.gifts_sent.values() if g.status is GiftStatus.OFFERED
            ),
            "gifts_sent": sent,
            "gifts_received": received,
            "coupons": coupons,
        }
    }
