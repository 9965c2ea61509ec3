"""Redemption contracts: requests on ``redemptions`` (and ``POST
/members/{member_id}/redemptions``), answers on ``redemption-results``.

A request's ``request_id`` is its idempotency key: a retry with the same id
gets the first answer again (same ``result_id``) and spends nothing again.
Business rejections (not enough points, locked account...) are answers with
``status: rejected`` and a machine-readable ``reason``; only a payload that
breaks the contract goes to ``dead-letters``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.fields import EventTime, Ident, Money
from models.outputs import Output

RequestKind = Literal["coupon", "points_cash", "points_cash_cancel", "merchandise", "gift", "gift_respond"]
Points = Annotated[int, Field(ge=1, le=1_000_000_000)]
Quantity = Annotated[int, Field(ge=1, le=10_000)]


class RedemptionBase(BaseModel):
    """Fields common to every redemption request."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: Ident = Field(description="idempotency key: a retry with the same id gets the first answer")
    tenant_id: Ident = "default"
    member_id: Ident
    occurred_at: EventTime

    @property
    def event_id(self) -> str:
        """The engine's dedupe id."""
        return self.request_id


class CouponRequest(RedemptionBase):
    """Exchange points for ``quantity`` coupons of ``denomination`` yuan."""

    kind: Literal["coupon"]
    denomination: Money
    quantity: Quantity = 1


class PaymentMode(StrEnum):
    POINTS_FIRST = "points_first"
    CASH_FIRST = "cash_first"


class PayItem(BaseModel):
    """One line of the goods points pay for: its unit price decides its band (seed 001 §6(3))."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Ident
    unit_price: Annotated[Money, Field(gt=0)]
    quantity: int = Field(default=1, ge=1, le=100_000)


class PointsCashRequest(RedemptionBase):
    """Pay an order partly with points.  ``points_first``: as many points as the
    cap and the balance allow, cash for the rest.  ``cash_first``: cash up to
    ``cash_limit``, points for the rest.  ``quote_only`` answers without spending.
    With ``items`` each item pays at its unit price's band (three 800 yuan items
    at 1:10); without, the order is priced as one item of ``order_amount``."""

    kind: Literal["points_cash"]
    order_id: Ident
    order_amount: Annotated[Money, Field(gt=0)]
    mode: PaymentMode = PaymentMode.POINTS_FIRST
    cash_limit: Money | None = Field(default=None, description="cash the member pays at most (cash_first)")
    items: list[PayItem] = Field(default_factory=list, max_length=500,
                                 description="the goods, unit price x quantity summing to order_amount")
    quote_only: bool = False

    @model_validator(mode="after")
    def _cash_first_needs_limit(self) -> PointsCashRequest:
        if self.mode is PaymentMode.CASH_FIRST and self.cash_limit is None:
            raise ValueError("cash_first needs cash_limit")
        if self.items and sum(i.unit_price * i.quantity for i in self.items) != self.order_amount:
            raise ValueError("items: unit price x quantity must sum to order_amount")
        return self


class PointsCashCancel(RedemptionBase):
    """Cancel a settled points + cash payment: its points come back, once."""

    kind: Literal["points_cash_cancel"]
    original_request_id: Ident


class MerchandiseRequest(RedemptionBase):
    kind: Literal["merchandise"]
    item_id: Ident
    quantity: Quantity = 1


class GiftRequest(RedemptionBase):
    """Give ``points`` to another member of the same tenant; they are held
    (not spendable) until the receiver accepts, rejects or the offer expires."""

    kind: Literal["gift"]
    to_member_id: Ident
    points: Points


class GiftRespond(RedemptionBase):
    """The receiver's answer to a gift offer."""

    kind: Literal["gift_respond"]
    gift_id: Ident
    accept: bool


RedemptionRequest = Annotated[
    CouponRequest | PointsCashRequest | PointsCashCancel | MerchandiseRequest | GiftRequest | GiftRespond,
    Field(discriminator="kind"),
]
REQUEST_TYPES = (CouponRequest, PointsCashRequest, PointsCashCancel, MerchandiseRequest, GiftRequest, GiftRespond)


class RedemptionStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    INSUFFICIENT_POINTS = "insufficient_points"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_FROZEN = "account_frozen"
    BELOW_MINIMUM = "below_minimum"
    INVALID_DENOMINATION = "invalid_denomination"
    OVER_ORDER_CAP = "over_order_cap"
    OVER_MEMBER_LIMIT = "over_member_limit"
    UNKNOWN_ITEM = "unknown_item"
    OUT_OF_STOCK = "out_of_stock"
    ALREADY_SETTLED = "already_settled"
    UNKNOWN_REQUEST = "unknown_request"
    ALREADY_CANCELLED = "already_cancelled"
    GIFT_TO_SELF = "gift_to_self"
    TOO_MANY_OPEN_GIFTS = "too_many_open_gifts"
    UNKNOWN_GIFT = "unknown_gift"
    GIFT_NOT_PENDING = "gift_not_pending"
    GIFT_EXPIRED = "gift_expired"


class _Granted(BaseModel):
    """What an accepted request granted; ``kind`` has no default so that state
    stored with ``exclude_defaults`` keeps the union's tag."""

    model_config = ConfigDict(frozen=True)


class CouponsIssued(_Granted):
    kind: Literal["coupon"]
    coupon_id: str
    denomination: Decimal
    quantity: int
    points_each: int
    valid_from: datetime
    valid_until: datetime


class PaymentPart(BaseModel):
    """The goods of one band that points pay for."""

    model_config = ConfigDict(frozen=True)

    points_per_yuan: int
    value: Decimal
    points: int


class PaymentSettled(_Granted):
    kind: Literal["points_cash"]
    order_id: str
    order_amount: Decimal
    mode: PaymentMode
    points_per_yuan: int = Field(description="the band's rate; with goods in several bands, the lowest (see parts)")
    parts: list[PaymentPart] = Field(
        default_factory=list, description="per band the points paid in: its rate, the money paid, the points")
    points_value: Decimal = Field(description="the part of the order the points pay")
    cash_amount: Decimal = Field(description="the part left to pay in cash")
    quote_only: bool = False


class PaymentCancelled(_Granted):
    kind: Literal["points_cash_cancel"]
    original_request_id: str
    order_id: str


class MerchandiseIssued(_Granted):
    kind: Literal["merchandise"]
    item_id: str
    name: str
    quantity: int
    points_each: int


class GiftHeld(_Granted):
    kind: Literal["gift"]
    gift_id: str
    to_member_id: str
    points: int
    respond_by: datetime


class GiftAnswered(_Granted):
    kind: Literal["gift_respond"]
    gift_id: str
    from_member_id: str
    points: int
    accept: bool


Granted = Annotated[
    CouponsIssued | PaymentSettled | PaymentCancelled | MerchandiseIssued | GiftHeld | GiftAnswered,
    Field(discriminator="kind"),
]


class RedemptionResult(Output):
    """The answer to one redemption request (``cause_event_id`` = ``request_id``)."""

    result_id: str
    request_id: str
    kind: RequestKind
    status: RedemptionStatus
    reason: RejectReason | None = None
    detail: str = ""
    points_spent: int = Field(default=0, ge=0)
    points_returned: int = Field(default=0, ge=0)
    granted: Granted | None = None
    balance_after: int = Field(description="points held after the request (as the ledger's balance)")
    spendable_after: int
