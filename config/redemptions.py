"""Points consumption rules (seed 001 §4, §6(1)): coupons, points + cash,
merchandise, gifting.  Defaults are the seed's numbers where it gives them.

Merchandise stock: per-member state cannot hold a stock shared by every
member, and a second counter table would need a cross-partition reservation
protocol.  Inventory is therefore the fulfilment system's job; the catalogue
only carries an ``in_stock`` switch operations flip when an item sells out
(``out_of_stock``), and the engine caps quantities per order and per member.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from pydantic import Field, field_validator, model_validator

from config.strict import Strict


class CouponRules(Strict):
    """Seed 001 §6(1): 10/20/50/100 yuan coupons at 1:10; reminders in the last
    month before expiry, then every 7 days."""

    denominations: list[Decimal] = Field(
        default_factory=lambda: [Decimal(10), Decimal(20), Decimal(50), Decimal(100)], min_length=1
    )
    points_per_yuan: int = Field(default=10, ge=1, description="a 20 yuan coupon costs 20 x this")
    valid_months: int = Field(default=6, ge=1, le=120)
    max_quantity: int = Field(default=20, ge=1, description="coupons per request; more is over_order_cap")
    remind_months_before: int = Field(default=1, ge=0, le=12)
    remind_every_days: int = Field(default=7, ge=1)
    keep_issued: int = Field(default=100, ge=1, description="issued coupon batches kept in state for reminders")

    @model_validator(mode="after")
    def _whole_points(self) -> CouponRules:
        for d in self.denominations:
            if d <= 0 or (d * self.points_per_yuan) != (d * self.points_per_yuan).to_integral_value():
                raise ValueError(f"denomination {d} must be positive and cost whole points")
        return self


class PriceBand(Strict):
    """Orders up to ``up_to`` yuan (inclusive; null = no upper bound) pay
    ``points_per_yuan`` points per yuan."""

    up_to: Decimal | None = Field(default=None, gt=0)
    points_per_yuan: int = Field(ge=1)


class PointsCashRules(Strict):
    """Seed 001 §6(2): 10 points = 1 yuan up to 2000 yuan, 15 points = 1 yuan above."""

    bands: list[PriceBand] = Field(
        default_factory=lambda: [PriceBand(up_to=Decimal(2000), points_per_yuan=10), PriceBand(points_per_yuan=15)]
    )
    max_points_share: Decimal = Field(
        default=Decimal(1), gt=0, le=1,
        description="share of an order points may pay; 1 = all of it (seed 001: offset some or all of the cash)")
    min_balance: int = Field(default=100, ge=0, description="spendable points needed before points can pay")
    keep_settlements: int = Field(default=200, ge=1, description="settled payments kept for cancellation")

    @field_validator("bands")
    @classmethod
    def _ordered(cls, bands: list[PriceBand]) -> list[PriceBand]:
        if not bands or bands[-1].up_to is not None:
            raise ValueError("the last band must be open-ended (no up_to)")
        bounds = [b.up_to for b in bands[:-1]]
        if any(b is None for b in bounds) or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError("bands must have strictly increasing up_to, only the last open-ended")
        return bands

    def rate_for(self, amount: Decimal) -> int:
        for band in self.bands:
            if band.up_to is None or amount <= band.up_to:
                return band.points_per_yuan
        raise AssertionError("the last band is open-ended")


class CatalogueItem(Strict):
    """A merchandise item: its points are fixed by ``points``, or else its ``price`` times its
    band's rate (seed 001 §6(3): under 2,000 yuan at 10 points a yuan, above at 15)."""

    name: str = Field(min_length=1, max_length=200)
    price: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, description="yuan")
    points: int | None = Field(default=None, ge=1, description="points price of one item; null = price x band")
    in_stock: bool = True
    max_per_order: int = Field(default=5, ge=1)
    max_per_member: int | None = Field(default=None, ge=1, description="lifetime cap per member; null = none")

    @model_validator(mode="after")
    def _priced(self) -> CatalogueItem:
        if self.points is None and self.price is None:
            raise ValueError("an item needs points or a price")
        return self

    def points_at(self, bands: PointsCashRules) -> int:
        """Points of one item: as the catalogue fixes them, else the price at its band's rate (rounded up)."""
        if self.points is not None:
            return self.points
        assert self.price is not None
        return int((self.price * bands.rate_for(self.price)).to_integral_value(rounding=ROUND_CEILING))


class MerchandiseRules(Strict):
    items: dict[str, CatalogueItem] = Field(default_factory=dict)


class GiftingRules(Strict):
    """Seed 001 §6(1) bonus points: the receiver accepts or rejects; unanswered
    gifts return to the sender after ``respond_days``."""

    respond_days: int = Field(default=7, ge=1, le=365)
    min_points: int = Field(default=1, ge=1)
    max_points: int | None = Field(default=None, ge=1, description="per gift; more is over_order_cap")
    max_open_sent: int = Field(default=20, ge=1, description="unanswered gifts a member may have out")
    max_open_received: int = Field(default=50, ge=1, description="more offers are rejected automatically")
    keep_closed: int = Field(default=50, ge=0, description="answered gifts kept in state for the views")


class RedemptionRules(Strict):
    coupons: CouponRules = CouponRules()
    points_cash: PointsCashRules = PointsCashRules()
    merchandise: MerchandiseRules = MerchandiseRules()
    gifting: GiftingRules = GiftingRules()
    recent_results: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="answers kept so a retried request_id gets the same answer (at least retention.recent_event_ids)",
    )
