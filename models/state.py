"""Per-member state kept in the changelog-backed ``members`` table.

One value per (tenant, member), written by a single agent per partition.  The
dedupe memory (recent event ids, per-order records) lives in the same value as
the balances it protects, so a redelivered event can never be applied twice.

The state is not a contract: it is decoded, changed and encoded on every
event, so it is a msgspec Struct (no validation on construction or
assignment).  Its JSON is what the pydantic model it replaced wrote, field for
field, less the fields at their defaults (``STATE_JSON`` reads and writes it):
a value that model stored reads back unchanged, and a worker of that version
reads this one as the same state.  Fields added since default to ``UNSET`` or
an empty value, left out of the JSON too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import msgspec
from msgspec import UNSET, UnsetType, field

from models.badges import BadgeState
from models.benefit_state import BenefitInstance
from models.redemption_state import RedemptionState


class MemberStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    FROZEN = "frozen"


class State(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of the state's Structs: keyword construction, fields in declared order, and a field at its
    default left out of the stored JSON (a quarter of a state; a reader fills it in again).  A default,
    once released, is part of the stored format: changing it changes every state that left it out."""


class PointLot(State):
    """Points earned together; spent soonest-expiring first."""

    lot_id: str
    amount: int
    earned_at: datetime
    expires_at: datetime | None = None
    pending_until: datetime | None = None
    order_id: str | None = None


class HeldLot(State):
    """A lot kept pending by a hold (``engine.holds``): ``key`` is the risk flag holding it, or
    ``status`` (earned while locked or frozen); ``pending_until`` what it was before."""

    key: str
    pending_until: datetime | None = None


class OpenFlag(State):
    """An abnormal spending flag awaiting an operator's release, confirmation or dismissal."""

    rule: str
    action: str
    at: datetime
    order_id: str | None = None


class SpendingHistory(State):
    """The abnormal spending monitor's memory (``engine.spending``), bounded by its rules."""

    orders: list[tuple[datetime, Decimal]] = field(default_factory=list)  # recent paid orders, by time
    spent_at: list[datetime] = field(default_factory=list)  # recent moments points were spent
    redemptions: list[datetime] = field(default_factory=list)  # recent coupon exchanges and benefit uses
    flags: dict[str, OpenFlag] = field(default_factory=dict)  # open flags by flag id, oldest first
    held: dict[str, HeldLot] = field(default_factory=dict)  # lot id -> why it is held


class ExperimentExposure(State):
    """A member's part in one live experiment (config/experiments.py): its arm, when it was first in it,
    and what happened to it while in it -- the read model's per-variant figures sum these."""

    variant: str
    enrolled_at: datetime
    spend: Decimal = Decimal(0)  # paid money, net of refunds, of orders applied in the experiment
    orders: int = 0
    points_issued: int = 0  # points earned (ledger kind earn, gifts aside)
    upgrades: int = 0
    downgrades: int = 0
    grants: int = 0  # benefit grants
    benefits_used: int = 0


class OrderRecord(State):
    """What one paid order earned, so a refund claws back exactly that."""

    paid_at: datetime
    day: date
    amount: Decimal
    points: int
    growth: int
    refunded: Decimal = Decimal(0)
    points_clawed: int = 0
    growth_clawed: int = 0
    # the order's items per merchant whose plans join by spend (engine/join_channels.py; UNSET: none)
    merchant_spend: dict[str, Decimal] | UnsetType = UNSET


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Membership(State):
    """The member's membership of one merchant's plan (seed 002), keyed ``merchant/plan``."""

    merchant_id: str
    plan_id: str
    level_id: str
    since: datetime
    until: datetime | None
    channel: str
    card_id: str  # the card instance, derived from the member, the plan and the order that joined
    status: MembershipStatus = MembershipStatus.ACTIVE
    product_id: str | None = None
    orders: list[str] = field(default_factory=list)  # the card orders that joined, extended or upgraded it
    remind_at: datetime | None = None  # the renewal reminder's moment, until it is sent
    month: str | None = None  # the latest month (YYYY-MM, tenant's zone) whose monthly benefits were given
    auto_renew: bool = False  # bought as a subscription: billing is asked to renew it before ``until``
    changed_at: datetime | None = None


class MemberRegistration(State):
    """The member's registration; ``allowed`` is the device agent's verdict (None: not yet heard)."""

    event_id: str
    registered_at: datetime
    channel: str
    device_id: str
    invited_by: str | None = None
    allowed: bool | None = None
    merchant_id: str | UnsetType = UNSET  # the merchant registered with (joins its registration levels)


class MemberState(State, dict=True):
    """A member's state.  ``dict=True`` lets the engine keep derived lookups beside
    it (``engine.apply``'s index of recent event ids): never encoded, never compared."""

    tenant_id: str
    member_id: str
    lots: list[PointLot] = field(default_factory=list)
    debt: int = 0  # points owed after a clawback the balance could not cover
    shortfall: int = 0  # clawback points that were capped away (not owed)
    growth: int = 0
    lifetime_earned: int = 0
    spend_days: dict[date, Decimal] = field(default_factory=dict)  # paid money per local day
    tier: str = "NORMAL"
    tier_since: datetime | None = None
    protection_until: datetime | None = None
    invited_tier: str | None = None
    # an operator's tier override holds the tier against downgrades until then (engine/operator_actions.py)
    tier_override_until: datetime | UnsetType = UNSET
    status: MemberStatus = MemberStatus.ACTIVE
    # why and since when the status is what it is (UNSET: never changed -- omitted from the JSON)
    status_reason: str | UnsetType = UNSET
    status_since: datetime | UnsetType = UNSET
    # the inactivity freeze date the last warning named (engine/lifecycle.py; UNSET: never warned)
    inactivity_warned_for: datetime | UnsetType = UNSET
    # the freeze date of the inactivity freeze in force: a login from before it, arriving late, lifts it
    inactivity_frozen_for: datetime | UnsetType = UNSET
    points_days: dict[date, int] = field(default_factory=dict)  # points earned per local day
    counters: dict[date, dict[str, int]] = field(default_factory=dict)  # per local day counters for caps
    recent_event_ids: list[str] = field(default_factory=list)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    last_login_at: datetime | None = None
    watermark: datetime | None = None  # latest event time applied
    birthday: date | None = None
    time_zone: str | None = None
    # periodic evaluation (each effect remembers its own period, so re-running changes nothing)
    downgrade_at: datetime | None = None  # when a pending downgrade takes effect
    downgrade_warned: bool = False
    benefit_periods: dict[str, str] = field(default_factory=dict)  # benefit -> last period granted
    nudged_on: dict[str, date] = field(default_factory=dict)  # nudge kind -> last local day sent
    expiry_warned_on: date | None = None
    # points consumption: coupons, points + cash payments, gifts (models/redemption_state.py)
    redemption: RedemptionState = field(default_factory=RedemptionState)
    # business-line badges (seed 000), per line id (models/badges.py)
    badges: dict[str, BadgeState] = field(default_factory=dict)
    # registration and verifications (engine/registration.py): each rewarded or penalised once
    registration: MemberRegistration | None = None
    verifications: list[str] = field(default_factory=list)  # "<kind>:<result>" already applied
    # merchant membership plans (seed 002): ``merchant/plan`` -> membership; UNSET (left out of the
    # JSON) until the first one
    memberships: dict[str, Membership] | msgspec.UnsetType = msgspec.UNSET
    # spend with merchants whose plans have spend-threshold levels, net of refunds (engine/join_channels.py)
    merchant_spend: dict[str, Decimal] | UnsetType = UNSET
    # benefit instances by grant id, oldest first (models/benefit_state.py; UNSET: none granted since they came)
    benefits: dict[str, BenefitInstance] | UnsetType = UNSET
    # the abnormal spending monitor's history, open flags and held lots (engine/spending.py; UNSET: none yet)
    spending: SpendingHistory | UnsetType = UNSET
    # live experiments the member has been in, by experiment id (engine/experiments.py; UNSET: none)
    experiments: dict[str, ExperimentExposure] | UnsetType = UNSET


#: the state's JSON codec (a value written by the pydantic model it replaced reads the same)
STATE_JSON_ENCODER = msgspec.json.Encoder(decimal_format="string")
STATE_JSON_DECODER = msgspec.json.Decoder(MemberState)


def state_json(state: MemberState) -> bytes:
    return STATE_JSON_ENCODER.encode(state)


def state_of_json(raw: bytes | str) -> MemberState:
    state = STATE_JSON_DECODER.decode(raw)
    answers = state.redemption.results
    if answers:  # decoded as views of ``raw``: copied, so a kept answer does not keep the whole value alive
        state.redemption.results = [msgspec.Raw(bytes(answer)) for answer in answers]
    return state


def copy_state(state: MemberState) -> MemberState:
    """A deep copy: nothing in it is shared with ``state``."""
    return STATE_JSON_DECODER.decode(STATE_JSON_ENCODER.encode(state))
