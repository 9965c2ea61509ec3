"""The redemption part of a member's state (``MemberState.redemption``).

Everything here is bounded: recent answers, issued coupons, settled payments
and closed gifts are kept up to counts set in the rules; open gifts are
bounded by the gifting limits.  The full points history is not here: it is
the ``points-ledger`` topic and the ledger table (tables/ledger.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from models.commands import PointsPiece
from models.redemptions import RedemptionResult


class IssuedCoupon(BaseModel):
    """Coupons issued by one request, remembered for expiry reminders."""

    coupon_id: str
    request_id: str
    denomination: Decimal
    quantity: int
    valid_from: datetime
    valid_until: datetime
    reminders_sent: int = 0


class Settlement(BaseModel):
    """A settled points + cash payment; its points come back on cancellation, once."""

    order_id: str
    points: int
    pieces: list[PointsPiece]
    settled_at: datetime
    cancelled_by: str | None = None


class GiftStatus(StrEnum):
    OFFERED = "offered"  # A: points held; B: waiting for an answer
    ACCEPTED = "accepted"  # B: accepted, waiting for the transfer
    TRANSFERRED = "transferred"  # A: the held points went to B
    CREDITED = "credited"  # B: the points arrived
    REJECTED = "rejected"  # declined (A: points back)
    EXPIRED = "expired"  # not answered in time (A: points back)


OPEN_GIFT = frozenset({GiftStatus.OFFERED, GiftStatus.ACCEPTED})


class SentGift(BaseModel):
    """A's side of a gift.  While ``offered`` its points are in ``pieces``, not in
    A's lots: they count in neither A's balance nor A's spendable points."""

    to_member_id: str
    points: int
    pieces: list[PointsPiece] = Field(default_factory=list)
    offered_at: datetime
    respond_by: datetime
    status: GiftStatus = GiftStatus.OFFERED
    closed_at: datetime | None = None


class ReceivedGift(BaseModel):
    """B's side of a gift."""

    from_member_id: str
    points: int
    offered_at: datetime
    respond_by: datetime
    status: GiftStatus = GiftStatus.OFFERED
    closed_at: datetime | None = None


class RedemptionState(BaseModel):
    results: list[RedemptionResult] = Field(default_factory=list, description="recent answers, oldest first")
    coupons: list[IssuedCoupon] = Field(default_factory=list)
    settlements: dict[str, Settlement] = Field(default_factory=dict, description="by request_id, oldest first")
    gifts_sent: dict[str, SentGift] = Field(default_factory=dict, description="by gift_id")
    gifts_received: dict[str, ReceivedGift] = Field(default_factory=dict, description="by gift_id")
    merchandise: dict[str, int] = Field(default_factory=dict, description="items redeemed, by item id")
