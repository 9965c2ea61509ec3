"""Risk control rules: registrations and logins per device, and the penalties for
false registration information and malicious reviews.

The device limits are enforced by the device agent (``engine.devices``), the
penalties by the members agent (``engine.registration``, ``engine.behaviour``),
the inactivity freeze by the periodic evaluation (``engine.lifecycle``).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from config.strict import Strict


class DeviceLimit(Strict):
    """At most ``max_members`` distinct members on one device within ``window`` of each other."""

    max_members: int = Field(ge=1)
    window: timedelta = Field(gt=timedelta(0), le=timedelta(days=3650), description="ISO 8601, e.g. P30D")


class LockPolicy(StrEnum):
    ALWAYS = "always"
    IF_UNCOVERED = "if_uncovered"  # only when the balance cannot cover the deduction (as complaints)
    NEVER = "never"


class Penalty(Strict):
    deduct: int = Field(default=10, ge=0, description="points taken (never below zero)")
    lock: LockPolicy = LockPolicy.IF_UNCOVERED


class InactivityFreeze(Strict):
    """Seed 001: a member who has not logged in for ``months`` consecutive months is frozen as an
    invalid registration at the periodic evaluation, warned ``warn_days_before`` ahead (``engine.lifecycle``)."""

    months: int = Field(default=3, ge=1, le=120, description="calendar months without a login before the freeze")
    warn_days_before: int = Field(default=7, ge=0, le=365,
                                  description="one warning this many days before the freeze date; 0 = none")


class SpendingAction(StrEnum):
    """What an abnormal spending rule does (``engine.spending``); each also publishes a ``risk-flags`` output."""

    FLAG = "flag"  # the flag only
    HOLD = "hold"  # the order's points stay pending until an operator releases or confirms (cancels) them
    LOCK = "lock"  # the account is locked (an operator's unlock is the appeal)


class OrdersPerHour(Strict):
    """More than ``max_orders`` paid orders within one hour (event time), this one included."""

    max_orders: int = Field(ge=1, le=1000)
    action: SpendingAction = SpendingAction.FLAG


class AmountSpike(Strict):
    """An order of more than ``factor`` times the median of the member's previous ``history`` orders
    (at least ``min_history`` of them; fewer: not judged)."""

    factor: Decimal = Field(gt=1, le=1000, decimal_places=2)
    history: int = Field(default=10, ge=1, le=100, description="previous orders the median is taken over")
    min_history: int = Field(default=3, ge=1, le=100)
    action: SpendingAction = SpendingAction.HOLD


class RefundAfterSpend(Strict):
    """A refund within ``within`` after the member spent points (a coupon, points + cash, merchandise, a gift)."""

    within: timedelta = Field(gt=timedelta(0), le=timedelta(days=30), description="ISO 8601, e.g. PT1H")
    action: SpendingAction = SpendingAction.FLAG


class RedemptionBurst(Strict):
    """More than ``max_redemptions`` coupon exchanges and benefit uses within ``window``, this one included."""

    max_redemptions: int = Field(ge=1, le=1000)
    window: timedelta = Field(gt=timedelta(0), le=timedelta(days=30), description="ISO 8601, e.g. PT1H")
    action: SpendingAction = SpendingAction.FLAG


class SpendingRules(Strict):
    """The abnormal spending monitor's rules (issue 22 item 4); null turns a rule off."""

    orders_per_hour: OrdersPerHour | None = OrdersPerHour(max_orders=10)
    amount_spike: AmountSpike | None = AmountSpike(factor=Decimal(10))
    refund_after_spend: RefundAfterSpend | None = RefundAfterSpend(within=timedelta(hours=1))
    redemption_burst: RedemptionBurst | None = RedemptionBurst(max_redemptions=10, window=timedelta(hours=1))


class RiskRules(Strict):
    """Seed 001: registrations per device, false registration information -10, malicious review -10,
    no login for three months: frozen."""

    registrations_per_device: DeviceLimit = DeviceLimit(max_members=3, window=timedelta(days=30))
    logins_per_device: DeviceLimit | None = Field(
        default=DeviceLimit(max_members=5, window=timedelta(days=1)),
        description="flag a device that more members log in from; null = not watched")
    false_information: Penalty = Penalty(deduct=10, lock=LockPolicy.ALWAYS)
    malicious_review: Penalty = Penalty(deduct=10, lock=LockPolicy.IF_UNCOVERED)
    inactivity: InactivityFreeze | None = Field(
        default=InactivityFreeze(), description="freeze members who stop logging in; null = never")
    spending: SpendingRules = SpendingRules()
