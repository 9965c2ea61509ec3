"""Input event contracts: what upstream services publish to memberflow.

Every input event carries ``event_id`` (a repeat for the same member is
ignored), ``tenant_id``, ``member_id`` and ``occurred_at`` (event time, RFC 3339
with an offset).  The Kafka key should be the member id; an event keyed
otherwise is re-routed to the right member's partition.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.fields import Email, EventTime, Ident, Money, PersonName, Phone


class InputEvent(BaseModel):
    """Fields common to every input event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Ident
    tenant_id: Ident = "default"
    member_id: Ident
    occurred_at: EventTime


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Ident
    category: Ident
    unit_price: Money
    quantity: int = Field(ge=1, le=100_000)
    merchant_id: Ident | None = Field(
        default=None, description="the merchant selling it; with category membership_card, sku is its card product")


class OrderPaid(InputEvent):
    """An order was paid; ``amount`` is the net amount the member paid."""

    type: Literal["order_paid"]
    order_id: Ident
    amount: Money
    items: list[OrderItem] = Field(default_factory=list, max_length=1000)


class OrderRefunded(InputEvent):
    """All or part of a paid order was refunded; ``amount`` is the refunded money."""

    type: Literal["order_refunded"]
    order_id: Ident
    amount: Money


OrderEvent = Annotated[OrderPaid | OrderRefunded, Field(discriminator="type")]


class Moderation(StrEnum):
    APPROVED = "approved"
    MALICIOUS = "malicious"


class Review(InputEvent):
    """A review; ``moderation: malicious`` (the platform's verdict on it) earns nothing and costs
    ``risk.malicious_review`` points."""

    type: Literal["review"] = "review"
    review_id: Ident
    order_id: Ident | None = None
    moderation: Moderation | None = None


class Login(InputEvent):
    type: Literal["login"] = "login"
    device_id: Ident | None = None


class Verdict(StrEnum):
    MALICIOUS = "malicious"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class Complaint(InputEvent):
    """A complaint the member filed, with the platform's verdict on it."""

    type: Literal["complaint"] = "complaint"
    complaint_id: Ident
    verdict: Verdict


class Profile(InputEvent):
    """Profile facts: birthday, time zone and invited tier (the engine's), and the contact
    details operators search members by (name, phone, email).  A field left out or null
    leaves what the member has; the latest profile in event time wins."""

    type: Literal["profile"] = "profile"
    birthday: date | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    invited_tier: Ident | None = None
    name: PersonName | None = None
    phone: Phone | None = Field(default=None, description="stored as digits with an optional leading +")
    email: Email | None = Field(default=None, description="stored lower-cased")


class Registration(InputEvent):
    """The member signed up, on ``device_id``, invited by ``invited_by`` (another member) if set.

    An accepted invitation is this field: the inviter's growth follows the
    registration once the device agent allowed it (``engine.registration``).
    ``merchant_id``: the merchant the member registered with (its app or page): once allowed,
    the member joins that merchant's plans at their levels listing ``registration``."""

    type: Literal["registration"] = "registration"
    channel: Ident
    device_id: Ident
    invited_by: Ident | None = None
    merchant_id: Ident | None = Field(default=None, description="the merchant registered with: joins its plans' "
                                                                "free levels listing the registration channel")


class VerificationKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    REAL_NAME = "real_name"


class VerificationResult(StrEnum):
    VERIFIED = "verified"
    FALSE_INFORMATION = "false_information"  # the registration information proved false


class Verification(InputEvent):
    """The outcome of checking one kind of the member's registration information."""

    type: Literal["verification"] = "verification"
    verification_id: Ident
    kind: VerificationKind
    result: VerificationResult


MemberEvent = OrderPaid | OrderRefunded | Review | Login | Complaint | Profile | Registration | Verification
