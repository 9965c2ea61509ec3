"""Risk control rules: registrations and logins per device, and the penalties for
false registration information and malicious reviews.

The device limits are enforced by the device agent (``engine.devices``), the
penalties by the members agent (``engine.registration``, ``engine.behaviour``),
the inactivity freeze by the periodic evaluation (``engine.lifecycle``).
"""

from __future__ import annotations

from datetime import timedelta
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
