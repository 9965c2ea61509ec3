"""Output contracts: what memberflow publishes for benefit systems and dashboards.

Every output carries a deterministic id derived from its cause, so a consumer
can dedupe after a redelivery, plus the ``tenant_id``, ``member_id`` and
``occurred_at`` of the event that caused it and that event's id as
``cause_event_id``.  An output with ``retracts`` set is a correction: it
withdraws the output with that id (``engine.corrections``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.conditions import Conditions
from models.fields import Email, PersonName, Phone, omit_none


class Output(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    member_id: str
    occurred_at: AwareDatetime
    cause_event_id: str
    retracts: str | None = Field(
        default=None,
        exclude_if=omit_none,
        description="set on a correction: the id of an output published earlier that no longer holds (a late "
                    "event changed the member's history before it). Undo that output; the same id may then be "
                    "published again with its corrected value. A retracted ledger entry's delta is negated here.")
    rules_version: str | None = Field(
        default=None,
        exclude_if=omit_none,
        description="the tenant rules that decided this output: `v<n>` for version n published to `tenant-rules`, "
                    "`file:<digest>` for rules loaded from the rules directory")
    experiment: str | None = Field(
        default=None,
        exclude_if=omit_none,
        description="the live experiment the member was in when this output was decided (config/experiments.py)")
    variant: str | None = Field(
        default=None,
        exclude_if=omit_none,
        description="the member's arm of `experiment`: a variant's name (its rules overlay decided this output) "
                    "or `holdout` (the tenant's own rules)")


class LedgerKind(StrEnum):
    EARN = "earn"
    SPEND = "spend"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"


class LedgerEntry(Output):
    """One change to a member's points balance (points are money)."""

    entry_id: str
    kind: LedgerKind
    rule: str = Field(description="the rule that produced this entry")
    delta: int = Field(description="signed change in points")
    balance: int = Field(description="points held after this entry (spendable + pending), in the order the "
                                     "member's entries were published (a late event's entries are posted now)")
    order_id: str | None = None
    pending_until: datetime | None = None
    expires_at: datetime | None = None
    operator: str | None = Field(default=None, exclude_if=omit_none,
                                 description="an operator's adjustment: who made it (`<token id>:<name>`)")
    approver: str | None = Field(default=None, exclude_if=omit_none,
                                 description="an operator's adjustment over a limit: who approved it")
    reason: str | None = Field(default=None, exclude_if=omit_none,
                               description="an operator's adjustment: why")


class TierDirection(StrEnum):
    UP = "up"
    DOWN = "down"


class TierChange(Output):
    change_id: str
    from_tier: str
    to_tier: str
    direction: TierDirection
    reason: str
    metric: str
    metric_value: Decimal


class BadgeChange(Output):
    change_id: str
    line_id: str
    from_level: int
    to_level: int
    direction: TierDirection
    rule_version: int = Field(description="version of the line's definition that decided this change")
    reason: str
    level_name: str | None = Field(default=None, description="name of the new level (none when it is 0)")
    values: dict[str, str] = Field(default_factory=dict, description="the line's field values it was decided on")


class BenefitGrant(Output):
    grant_id: str
    benefit: str = Field(description="benefit kind, e.g. upgrade_gift, tier_coupon, birthday_pack")
    tier: str | None = None
    value: Decimal | None = Field(default=None, description="face value in money, when it has one")
    quantity: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    line_id: str | None = Field(default=None, description="business line, for the rights of a badge level")
    badge_level: int | None = Field(default=None, description="badge level whose right this is")
    conditions: Conditions | None = Field(default=None, exclude_if=omit_none,
                                          description="what an order must be for it to apply (none: any order)")


class MembershipChangeKind(StrEnum):
    JOINED = "joined"
    EXTENDED = "extended"
    UPGRADED = "upgraded"
    EXPIRED = "expired"
    REVOKED = "revoked"


class MembershipChange(Output):
    """A member's membership of a merchant's plan began, changed or ended (seed 002)."""

    change_id: str
    kind: MembershipChangeKind
    merchant_id: str
    plan_id: str
    level_id: str
    status: str = Field(description="active, expired or revoked, after the change")
    since: datetime
    until: datetime | None
    channel: str
    card_id: str = Field(description="the card instance (deterministic per member, plan and joining order)")
    order_id: str | None = Field(default=None, description="the card order that caused it, if any")
    product_id: str | None = Field(default=None, description="the card product bought (joined, extended, upgraded "
                                                              "by a purchase), else the membership's")
    amount: Decimal | None = Field(default=None, exclude_if=omit_none,
                                   description="what the card order paid for the card product (joined, extended, "
                                               "upgraded by a purchase)")


class NotificationKind(StrEnum):
    ACCOUNT_STATUS = "account_status"
    TIER_OVERRIDE = "tier_override"
    CLAWBACK_SHORTFALL = "clawback_shortfall"
    DOWNGRADE_WARNING = "downgrade_warning"
    POINTS_EXPIRY_WARNING = "points_expiry_warning"
    NEXT_TIER_NUDGE = "next_tier_nudge"
    RETENTION_OFFER = "retention_offer"
    CHURN_WARNING = "churn_warning"
    INACTIVITY_WARNING = "inactivity_warning"  # no login: the account is frozen on the date it names
    COUPON_EXPIRY_REMINDER = "coupon_expiry_reminder"
    BENEFIT_EXPIRY_REMINDER = "benefit_expiry_reminder"
    GIFT_RECEIVED = "gift_received"
    GIFT_RETURNED = "gift_returned"
    MEMBERSHIP_RENEWAL_REMINDER = "membership_renewal_reminder"
    MEMBERSHIP_RENEWAL_REQUEST = "membership_renewal_request"  # for the billing system: renew an auto-renewing card
    RISK_DECISION = "risk_decision"  # an operator released, confirmed or dismissed a risk flag (data.decision)


class Notification(Output):
    notification_id: str
    kind: NotificationKind
    message: str
    channel: str | None = Field(default=None, exclude_if=omit_none,
                                description="where a campaign's notification goes: `sms` or `in_app`")
    data: dict[str, Any] = Field(default_factory=dict)


class ContactChange(Output):
    """A member's contact details as a profile event or an import set them; a field that is
    null was not given (the member keeps what it had).  The engine keeps none of them in the
    member state: the read model's ``member_contacts`` table merges these, the latest event
    time per field winning."""

    contact_id: str
    name: PersonName | None = None
    phone: Phone | None = Field(default=None, description="digits with an optional leading +")
    email: Email | None = Field(default=None, description="lower-cased")


class DeadLetterReason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    INVALID_EVENT = "invalid_event"
    OVERSIZE_PAYLOAD = "oversize_payload"
    AMOUNT_OVER_LIMIT = "amount_over_limit"
    REFUND_WITHOUT_ORDER = "refund_without_order"
    INVALID_DEFINITION = "invalid_definition"
    INVALID_RULES = "invalid_rules"
    PROCESSING_ERROR = "processing_error"
    TOO_LATE = "too_late"
    IMPLAUSIBLE_TIME = "implausible_time"
    MEMBER_EXISTS = "member_exists"
    INSUFFICIENT_POINTS = "insufficient_points"  # an operator's debit that would overdraw
    INVALID_COMMAND = "invalid_command"  # an operator command that does not fit the member's state
    UNKNOWN_BENEFIT = "unknown_benefit"  # a usage report of a benefit this member does not hold
    BENEFIT_NOT_USABLE = "benefit_not_usable"  # a usage report of a benefit expired, voided or used up
    BELOW_MIN_SPEND = "below_min_spend"  # a usage report on an order under the benefit's minimum spend
    OVER_PER_ORDER_LIMIT = "over_per_order_limit"  # more of one benefit on an order than its per-order limit
    NOT_SELLABLE = "not_sellable"  # a card product that is not on sale (seed 002)
    NOT_JOINABLE = "not_joinable"  # a membership by a channel its level does not list, or of a plan not effective
    MISSING_REFERENCE = "missing_reference"  # a plan step that refers to something not defined (kept, applies later)


class DeadLetter(BaseModel):
    """Input that was not applied, with why.  Nothing of it changed any state."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    source_topic: str
    partition: int | None
    offset: int | None
    key: str | None
    payload: str = Field(description="the raw payload as text (truncated when oversize)")
    reason: DeadLetterReason
    detail: str
    tenant_id: str | None = None
    member_id: str | None = None
    cause_event_id: str | None = None
