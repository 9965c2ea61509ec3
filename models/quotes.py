"""The checkout quote's contract (``POST /members/{id}/quote``): a cart in, the member's price out.

A dry run: nothing changes; the order itself still arrives on ``orders``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.events import OrderItem
from models.fields import EventTime, Ident, Money
from models.redemptions import PaymentPart


class QuoteRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[OrderItem] = Field(min_length=1, max_length=1000)
    shipping_fee: Money = Decimal(0)
    coupons: list[Ident] = Field(default_factory=list, max_length=50,
                                 description="benefit ids (grant ids) the shopper picked, in the order to apply them")
    channel: Ident | None = Field(default=None, description="where the order is placed, for coupons with a channel")
    points: int | None = Field(default=None, ge=1, le=100_000_000,
                               description="points the shopper wants to pay with, at most (an option of its own)")
    at: EventTime | None = Field(default=None, description="the moment to quote for; default now")


class CouponVerdict(BaseModel):
    benefit_id: str
    applies: bool
    saving: Decimal = Field(description="what it takes off the goods (0 when it does not apply)")
    reason: str | None = Field(default=None, description="why it does not apply")


class PaymentOption(BaseModel):
    """One way to pay ``goods_to_pay`` with points and cash, as a points + cash request would settle it."""

    mode: Literal["most_points", "points_wanted"] = Field(
        description="most_points: as many points as the rules and the balance allow; points_wanted: at most the "
                    "points the shopper asked for")
    available: bool = Field(description="whether points can pay anything this way")
    points: int = Field(description="points it takes (0 when not available)")
    points_value: Decimal = Field(description="what those points pay")
    cash: Decimal = Field(description="goods_to_pay less points_value")
    parts: list[PaymentPart] = Field(description="per price band: its rate, the value points pay, the points")
    reason: str | None = Field(default=None, description="why points cannot pay (when not available)")


class QuoteResult(BaseModel):
    tenant_id: str
    member_id: str
    at: str
    tier: str
    discount: Decimal = Field(description="the tier's price multiplier")
    list_total: Decimal = Field(description="the goods at their listed prices")
    member_total: Decimal = Field(description="the goods after the tier discount, rounded by checkout.rounding")
    coupons: list[CouponVerdict]
    goods_to_pay: Decimal = Field(description="member_total less the coupons that apply")
    free_shipping_threshold: Decimal
    shipping: Decimal = Field(description="the shipping fee, 0 from the free-shipping threshold on")
    total: Decimal = Field(description="goods_to_pay + shipping")
    points: int = Field(description="points the order would earn, paid as goods_to_pay with these items")
    points_by_rule: dict[str, int] = Field(description="each earning rule's share of them")
    spendable_points: int = Field(description="the member's points that can pay now")
    payment_options: list[PaymentOption] = Field(
        description="points + cash: the most points can pay, and, when the cart says `points`, at most those")
