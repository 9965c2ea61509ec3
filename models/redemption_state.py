"""The redemption part of a member's state (``MemberState.redemption``).

Everything here is bounded: recent answers, issued coupons, settled payments
and closed gifts are kept up to counts set in the rules; open gifts are
bounded by the gifting limits.  The full points history is not here: it is
the ``points-ledger`` topic and the ledger table (tables/ledger.py).

msgspec Structs, like the rest of the state (``models.state``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec
from msgspec import UNSET, Raw, UnsetType, field

from models.redemptions import RedemptionResult


class Piece(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Points that move together and keep their original expiry (the state's
    twin of ``models.commands.PointsPiece``, which carries them between members)."""

    amount: int
    expires_at: datetime | None = None
    earned_at: datetime


class IssuedCoupon(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Coupons issued by one request, remembered for expiry reminders."""

    coupon_id: str
    request_id: str
    denomination: Decimal
    quantity: int
    valid_from: datetime
    valid_until: datetime
    reminders_sent: int = 0
    grant_id: str | UnsetType = UNSET  # its benefit instance (UNSET: issued before instances were kept)


class Settlement(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A settled points + cash payment; its points come back on cancellation, once."""

    order_id: str
    points: int
    pieces: list[Piece]
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


class SentGift(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A's side of a gift.  While ``offered`` its points are in ``pieces``, not in
    A's lots: they count in neither A's balance nor A's spendable points."""

    to_member_id: str
    points: int
    pieces: list[Piece] = field(default_factory=list)
    offered_at: datetime
    respond_by: datetime
    status: GiftStatus = GiftStatus.OFFERED
    closed_at: datetime | None = None


class ReceivedGift(msgspec.Struct, kw_only=True, omit_defaults=True):
    """B's side of a gift."""

    from_member_id: str
    points: int
    offered_at: datetime
    respond_by: datetime
    status: GiftStatus = GiftStatus.OFFERED
    closed_at: datetime | None = None


class RedemptionState(msgspec.Struct, kw_only=True, omit_defaults=True):
    #: recent answers, oldest first: each a ``RedemptionResult``'s JSON as it was sent (``engine.redemptions.common``)
    results: list[Raw] = field(default_factory=list)
    coupons: list[IssuedCoupon] = field(default_factory=list)
    settlements: dict[str, Settlement] = field(default_factory=dict)  # by request_id, oldest first
    gifts_sent: dict[str, SentGift] = field(default_factory=dict)  # by gift_id
    gifts_received: dict[str, ReceivedGift] = field(default_factory=dict)  # by gift_id
    merchandise: dict[str, int] = field(default_factory=dict)  # items redeemed, by item id

    def answers(self) -> list[RedemptionResult]:
        """The recent answers, decoded (oldest first)."""
        return [RedemptionResult.model_validate_json(bytes(raw)) for raw in self.results]
