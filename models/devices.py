"""Contracts of the device actor: what the members agent reports per device
(``device-activity``, keyed by tenant and device) and the ``risk-flags`` output.

A device agent keeps one state per (tenant, device) -- the members registered
and logged in on it -- and answers each registration with a verdict command
to the member (``models.commands.DeviceVerdict``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

import msgspec
from msgspec import field
from pydantic import BaseModel, ConfigDict, Field

from models.fields import EventTime, Ident, omit_empty, omit_none
from models.outputs import Output

DEVICE_KEY_SEPARATOR = "/"


def device_key(tenant_id: str, device_id: str) -> str:
    """The Kafka key of a device's messages (``device-activity``, ``risk-flags``)."""
    return f"{tenant_id}{DEVICE_KEY_SEPARATOR}{device_id}"


class DeviceActivity(BaseModel):
    """A member registered or logged in on a device (sent by the members agent)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    activity_id: Ident
    kind: Literal["registration", "login"]
    tenant_id: Ident = "default"
    device_id: Ident
    member_id: Ident
    occurred_at: EventTime
    cause_event_id: Ident


class RiskRule(StrEnum):
    REGISTRATIONS_PER_DEVICE = "registrations_per_device"
    LOGINS_PER_DEVICE = "logins_per_device"
    # the abnormal spending monitor's (engine/spending.py), over the member's own recent history
    ORDERS_PER_HOUR = "orders_per_hour"
    AMOUNT_SPIKE = "amount_spike"
    REFUND_AFTER_SPEND = "refund_after_spend"
    REDEMPTION_BURST = "redemption_burst"


class RiskAction(StrEnum):
    NO_REWARDS = "no_registration_rewards"  # the member earns no registration or invitation rewards
    FLAG_ONLY = "flag_only"
    HOLD = "hold"  # the member's points earned from then on stay pending until an operator decides
    LOCK = "lock"  # the account was locked


class RiskFlag(Output):
    """A risk rule tripped: which, by whom (``member_id``), with the evidence."""

    flag_id: str
    rule: RiskRule
    action: RiskAction
    device_id: str | None = None
    members: list[str] = Field(description="every member the rule counted, the tripping one included")
    limit: int | None = Field(description="most members (a spending rule: orders, redemptions) the rule allows "
                                          "within the window; null for amount_spike and refund_after_spend")
    window: timedelta | None = Field(description="the window counted; null for amount_spike")
    order_id: str | None = Field(default=None, exclude_if=omit_none,
                                 description="a spending rule: the order that tripped it")
    evidence: dict[str, str] = Field(default_factory=dict, exclude_if=omit_empty,
                                     description="a spending rule: what it saw (counts, amounts, moments)")




class DeviceRegistration(msgspec.Struct, kw_only=True):
    at: datetime
    allowed: bool


class DeviceState(msgspec.Struct, kw_only=True):
    """One device's state in the ``devices`` table (the device agent is its only writer)."""

    tenant_id: str
    device_id: str
    registrations: dict[str, DeviceRegistration] = field(default_factory=dict)  # member -> its registration
    logins: dict[str, datetime] = field(default_factory=dict)  # member -> its latest login on the device
    login_flagged: list[str] = field(default_factory=list)  # members a logins flag named as the tripping one
    latest: datetime | None = None  # latest event time seen


DEVICE_JSON_ENCODER = msgspec.json.Encoder()
DEVICE_JSON_DECODER = msgspec.json.Decoder(DeviceState)
