"""Per-member state kept in the changelog-backed ``members`` table.

One value per (tenant, member), written by a single agent per partition.  The
dedupe memory (recent event ids, per-order records) lives in the same value as
the balances it protects, so a redelivered event can never be applied twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.badges import BadgeState
from models.redemption_state import RedemptionState


class MemberStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    FROZEN = "frozen"


class PointLot(BaseModel):
    """Points earned together; spent soonest-expiring first."""

    model_config = ConfigDict(validate_assignment=False)

    lot_id: str
    amount: int
    earned_at: datetime
    expires_at: datetime | None = None
    pending_until: datetime | None = None
    order_id: str | None = None


class OrderRecord(BaseModel):
    """What one paid order earned, so a refund claws back exactly that."""

    paid_at: datetime
    day: date
    amount: Decimal
    points: int
    growth: int
    refunded: Decimal = Decimal(0)
    points_clawed: int = 0
    growth_clawed: int = 0


class MemberState(BaseModel):
    tenant_id: str
    member_id: str
    lots: list[PointLot] = Field(default_factory=list)
    debt: int = Field(default=0, description="points owed after a clawback the balance could not cover")
    shortfall: int = Field(default=0, description="clawback points that were capped away (not owed)")
    growth: int = 0
    lifetime_earned: int = 0
    spend_days: dict[date, Decimal] = Field(default_factory=dict, description="paid money per local day")
    tier: str = "NORMAL"
    tier_since: datetime | None = None
    protection_until: datetime | None = None
    invited_tier: str | None = None
    status: MemberStatus = MemberStatus.ACTIVE
    points_days: dict[date, int] = Field(default_factory=dict, description="points earned per local day")
    counters: dict[date, dict[str, int]] = Field(default_factory=dict, description="per local day counters for caps")
    recent_event_ids: list[str] = Field(default_factory=list)
    orders: dict[str, OrderRecord] = Field(default_factory=dict)
    last_login_at: datetime | None = None
    watermark: datetime | None = Field(default=None, description="latest event time applied")
    birthday: date | None = None
    time_zone: str | None = None
    # periodic evaluation (each effect remembers its own period, so re-running changes nothing)
    downgrade_at: datetime | None = Field(default=None, description="when a pending downgrade takes effect")
    downgrade_warned: bool = False
    benefit_periods: dict[str, str] = Field(default_factory=dict, description="benefit -> last period granted")
    nudged_on: dict[str, date] = Field(default_factory=dict, description="nudge kind -> last local day sent")
    expiry_warned_on: date | None = None
    # points consumption: coupons, points + cash payments, gifts (models/redemption_state.py)
    redemption: RedemptionState = Field(default_factory=RedemptionState)
    # business-line badges (seed 000), per line id (models/badges.py)
    badges: dict[str, BadgeState] = Field(default_factory=dict)
