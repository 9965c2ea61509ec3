"""Contracts of the admin service (``memberflow admin``): its requests, responses and audit records.

Every list is a ``Page``: ``items`` and ``next_cursor`` (``null`` on the last
page; pass it back as ``cursor`` for the next).  Times are RFC 3339; money is
a decimal string.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.outputs import LedgerKind
from models.redemption_state import GiftStatus
from models.state import MemberStatus


class Role(StrEnum):
    """What a token may do; each role may do what the roles before it may."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # adjust within limits, lock and unlock
    APPROVER = "approver"  # approve what is over a limit
    ADMIN = "admin"  # rules, tokens, import

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- the audit trail ----------------------------------------------------------------


class AuditOutcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    PENDING = "pending"  # waits for an approver


class AuditRecord(Contract):
    """One write through the admin service: who, when, what, why, the request id, the outcome.
    Published on the ``audit`` topic and kept in the read model; never changed."""

    audit_id: str = Field(description="deterministic: derived from the token, the action and the request id")
    tenant_id: str = Field(description="the tenant the write concerns (`*`: every tenant)")
    at: AwareDatetime
    actor: str = Field(description="the token's id and name, `<id>:<name>`")
    role: Role
    action: str = Field(description="e.g. `token.create`, `token.revoke`")
    target: str | None = Field(default=None, description="what the write is about (a member, a token)")
    reason: str
    request_id: str
    outcome: AuditOutcome
    detail: dict[str, Any] = Field(default_factory=dict)


# -- pages ----------------------------------------------------------------------------

T = TypeVar("T")


class Page(Contract, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


# -- members --------------------------------------------------------------------------


MemberSort = Literal["member_id", "balance", "spend_365d", "spend_30d", "growth", "last_event_at", "joined_at"]


class MemberRow(Contract):
    tenant_id: str
    member_id: str
    name: str | None = Field(default=None, description="from the member's profile or import")
    phone: str | None = None
    email: str | None = None
    tier: str
    qualified_tier: str
    status: MemberStatus
    status_reason: str | None = Field(default=None, description="why the status is what it is (a lock's reason)")
    status_since: datetime | None = Field(default=None, description="since when (event time)")
    tier_override_until: datetime | None = Field(default=None, description="an operator's tier override holds "
                                                 "the tier against downgrades until then")
    balance: int = Field(description="points held: spendable + pending")
    spendable: int
    pending: int
    debt: int
    lifetime_earned: int
    growth: int
    spend_30d: Decimal
    spend_365d: Decimal
    joined_at: datetime | None
    last_event_at: datetime | None
    last_login_at: datetime | None
    badges: list[dict[str, Any]]
    summarised_at: datetime = Field(description="the moment spendable and pending are as of")


class LedgerRow(Contract):
    entry_id: str
    tenant_id: str
    member_id: str
    occurred_at: datetime
    kind: LedgerKind
    rule: str
    delta: int
    balance: int = Field(description="the member's running balance as published")
    order_id: str | None
    pending_until: datetime | None
    expires_at: datetime | None
    cause_event_id: str
    operator: str | None = Field(default=None, description="an operator's adjustment: who made it")
    approver: str | None = Field(default=None, description="who approved it, when it was over a limit")
    reason: str | None = Field(default=None, description="an operator's adjustment: why")
    experiment: str | None = Field(default=None, description="the live experiment it was decided in (null: none)")
    variant: str | None = Field(default=None, description="the member's arm of `experiment`")


class GrantRow(Contract):
    grant_id: str
    tenant_id: str
    member_id: str
    occurred_at: datetime
    benefit: str
    tier: str | None
    value: Decimal | None
    quantity: int
    valid_from: datetime | None
    valid_until: datetime | None
    line_id: str | None
    badge_level: int | None
    experiment: str | None = Field(default=None, description="the live experiment it was decided in (null: none)")
    variant: str | None = Field(default=None, description="the member's arm of `experiment`")


class GiftRow(Contract):
    tenant_id: str
    gift_id: str
    sender_id: str
    receiver_id: str
    points: int
    status: GiftStatus
    offered_at: datetime | None
    respond_by: datetime | None
    closed_at: datetime | None


class RedemptionRow(Contract):
    result_id: str
    tenant_id: str
    member_id: str
    occurred_at: datetime
    request_id: str
    kind: str
    status: str
    reason: str | None
    points_spent: int
    points_returned: int
    granted: dict[str, Any] | None


class AccountChangeRow(Contract):
    """A change of the account's status (kind `account_status`), an operator's tier override (`tier_override`)
    or an operator's decision on an abnormal spending flag (`risk_decision`: released, confirmed, dismissed)."""

    notification_id: str
    occurred_at: datetime
    kind: Literal["account_status", "tier_override", "risk_decision"]
    status: MemberStatus | None
    tier: str | None
    until: datetime | None
    previous: str | None
    reason: str
    operator: str | None
    approver: str | None
    cause_event_id: str


class CommandState(StrEnum):
    """Where an operator's command is: waiting for an approver, published and not applied yet, applied,
    refused by the engine (e.g. a debit that would overdraw), or rejected by an approver."""

    PENDING_APPROVAL = "pending_approval"
    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"
    REJECTED = "rejected"


class OperatorCommandRow(Contract):
    request_id: str
    command_id: str
    member_id: str
    action: str
    points: int | None = Field(description="a credit's or debit's points, signed")
    actor: str
    reason: str
    requested_at: datetime
    approval_id: str | None
    state: CommandState
    refusal: str | None = Field(description="why the engine refused it (state `refused`)")


class MemberExperimentRow(Contract):
    """A member's part in a live experiment: its arm and what happened to it while in it."""

    experiment: str
    variant: str = Field(description="a variant's name, or `holdout` (the base rules)")
    enrolled_at: AwareDatetime = Field(description="the event time of its first event in the experiment")
    spend: Decimal = Field(description="paid, net of refunds, in the experiment")
    orders: int
    points_issued: int
    upgrades: int
    downgrades: int
    grants: int
    benefits_used: int


class MemberPage(Contract):
    """What an operator's member page shows."""

    member: MemberRow
    summary: dict[str, Any] = Field(description="the member as the workers' `GET /members/{id}` shows it, as of "
                                                "`member.summarised_at`: points, tier and protection, badges with "
                                                "rights, coupons, gifts, status")
    recent_ledger: list[LedgerRow] = Field(description="the newest ledger entries, newest first")
    grants: list[GrantRow] = Field(description="benefits granted, newest first")
    open_gifts: list[GiftRow] = Field(description="gifts sent and not yet settled")
    operator_commands: list[OperatorCommandRow] = Field(
        default_factory=list, description="operators' recent adjustments and account actions, newest first: a "
                                          "credit or debit is `pending` until its ledger entry is in")
    account_changes: list[AccountChangeRow] = Field(
        default_factory=list, description="the account's recent status changes and tier overrides, newest first")
    experiments: list[MemberExperimentRow] = Field(
        default_factory=list, description="the live experiments the member is or was in, the first entered first")


# -- operators' commands: adjustments and account actions ---------------------------

#: a reason: mandatory, and not blank
Reason = Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S", description="why (mandatory)")]
RequestId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$",
                                 description="the caller's id of this request: a retry with the same id gets the "
                                             "first answer; the same id with another body is 409")]


class Signed(Contract):
    reason: Reason
    request_id: RequestId


class PointsAdjustment(Signed):
    points: int = Field(ge=1, le=1_000_000_000, description="points to credit or debit (positive)")


class BenefitGrantRequest(Signed):
    benefit: str = Field(min_length=1, max_length=96, pattern=r"^[A-Za-z0-9_.:\-]+$")
    value: Decimal | None = Field(default=None, ge=0, le=1_000_000_000, decimal_places=2)
    quantity: int = Field(default=1, ge=1, le=1000)
    valid_until: AwareDatetime | None = None


class TierOverrideRequest(Signed):
    tier: str = Field(min_length=1, max_length=64)
    until: AwareDatetime = Field(description="the tier holds against downgrades until then")


class MembershipGrantRequest(Signed):
    """Grant a membership of a merchant's plan level (it must list ``operator_grant``) until a date."""

    merchant_id: str = Field(min_length=1, max_length=128)
    plan_id: str = Field(min_length=1, max_length=128)
    level_id: str = Field(min_length=1, max_length=128)
    until: AwareDatetime = Field(description="the membership ends then (expired by the periodic evaluation)")


class AccountActionRequest(Signed):
    """Lock, unlock, freeze or unfreeze: a reason and a request id."""


class AnswerState(StrEnum):
    PUBLISHED = "published"  # on its way to the member's partition
    PENDING_APPROVAL = "pending_approval"  # over a limit: waits for an approver


class CommandAnswer(Contract):
    request_id: str
    command_id: str = Field(description="the command's id: the ledger entry or dead letter it causes names it as "
                                        "`cause_event_id`")
    member_id: str
    action: str
    state: AnswerState
    approval_id: str | None = None
    detail: str


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # published, not applied yet
    REJECTED = "rejected"
    APPLIED = "applied"  # its output is in the read model
    REFUSED = "refused"  # approved, and refused by the engine (e.g. a debit that would overdraw)


class ApprovalRow(Contract):
    approval_id: str
    tenant_id: str
    member_id: str
    request_id: str
    command_id: str
    action: str
    points: int | None
    maker: str
    reason: str
    why: str = Field(description="the limit it is over")
    requested_at: datetime
    state: ApprovalState
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    refusal: str | None = Field(description="why the engine refused it (state `refused`)")


class ApprovalDecision(Signed):
    """An approver's approval or rejection: why, and a request id."""


# -- tokens ---------------------------------------------------------------------------


class TokenCreate(Contract):
    name: str = Field(min_length=1, max_length=128, description="who or what holds the token")
    role: Role
    tenant_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="the one tenant it may act on; null: every tenant")
    reason: str = Field(min_length=1, max_length=1000)
    request_id: str = Field(min_length=1, max_length=128)


class TokenRevoke(Contract):
    reason: str = Field(min_length=1, max_length=1000)
    request_id: str = Field(min_length=1, max_length=128)


class TokenInfo(Contract):
    token_id: str
    name: str
    role: Role
    tenant_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(Contract):
    token: str = Field(description="the secret, shown this once: send it as `Authorization: Bearer <token>`")
    info: TokenInfo


class Problem(Contract):
    detail: str


# -- statistics -----------------------------------------------------------------------


class PointsByRule(Contract):
    kind: LedgerKind
    rule: str
    points: int = Field(description="the sum of the entries' deltas (signed)")
    entries: int


class PointsFigures(Contract):
    earned: int = Field(description="sum of `earn` entries")
    spent: int = Field(description="points spent (`spend` entries, as a positive number)")
    expired: int = Field(description="points expired (`expiry` entries, as a positive number)")
    deducted: int = Field(description="points taken by adjustments (negative `adjustment` entries, positive here)")
    credited: int = Field(description="points given by adjustments (positive `adjustment` entries)")
    net: int = Field(description="the sum of every entry's delta in the range")
    by_rule: list[PointsByRule]
    outstanding_at_end: int = Field(description="liability: every entry's delta before the range's end")
    members: int = Field(description="members with a ledger entry before the range's end")
    average_per_member: Decimal = Field(description="outstanding_at_end / members, to two places")


class Count(Contract):
    key: str
    count: int


class CouponFigures(Contract):
    issued: int = Field(description="coupons issued by redemptions in the range (quantity)")
    valid_at_end: int = Field(description="of those issued before the range's end, still valid at its end")
    expired_at_end: int = Field(description="of those issued before the range's end, expired by its end")
    used: int = Field(description="of those issued in the range, used on an order (as reported on benefit-usage)")
    average_held: Decimal = Field(description="valid_at_end / members, to two places")


class RiskFigures(Contract):
    """Operators' decisions on points held for review (docs/rules.md ``risk.spending``), from the ledger."""

    released: int = Field(description="held lots released in the range (ledger entries `risk_release`)")
    confirmed: int = Field(description="held lots confirmed -- their points cancelled -- in the range (`risk_confirm`)")
    points_cancelled: int = Field(description="points the confirmations cancelled")
    release_rate: Decimal = Field(description="released / (released + confirmed), to four places; 0 with neither")


class DailyCount(Contract):
    key: str
    counts: list[int] = Field(description="one per day of `days`")


class MembersByDay(Contract):
    """Members at the end of each UTC day of the range (the next midnight, or the range's end on the last day):
    a member counts from the day it joined, with its tier and status then (docs/operations.md)."""

    days: list[date]
    members_per_tier: list[DailyCount]
    members_per_status: list[DailyCount]


class BenefitUsageFigures(Contract):
    """Benefit instances issued in the range, of one benefit and tier, by their status now."""

    benefit: str
    tier: str | None
    issued: int = Field(description="instances issued in the range (a grant of quantity n counts n)")
    used: int = Field(description="of those, uses reported on orders")
    expired: int
    voided: int
    usage_rate: Decimal = Field(description="used / issued, to four places")


class PlanLevelMembers(Contract):
    merchant_id: str
    plan_id: str
    level_id: str
    members: int = Field(description="members whose membership of the plan is active at this level now")


class ProductSales(Contract):
    merchant_id: str
    product_id: str
    sales: int = Field(description="cards of the product bought in the range (joined, extended or upgraded)")
    revenue: Decimal = Field(description="what those orders paid for them")


class MembershipFigures(Contract):
    """Memberships of merchants' plans (seed 002): members now, and changes in the range from
    ``membership-changes``."""

    active_per_plan_level: list[PlanLevelMembers] = Field(description="now")
    sales_by_product: list[ProductSales]
    joined: int = Field(description="memberships joined in the range")
    renewals: int = Field(description="memberships extended in the range by buying the card again (not an "
                                      "operator grant's extension)")
    upgrades: int = Field(description="memberships upgraded to a higher level in the range")
    expired: int = Field(description="memberships that ended at their `until` in the range (churn)")
    revoked: int = Field(description="memberships revoked in the range by the refund of a card order (churn)")


class Statistics(Contract):
    tenant_id: str
    start: AwareDatetime = Field(description="inclusive")
    end: AwareDatetime = Field(description="exclusive")
    points: PointsFigures
    members_per_tier: list[Count] = Field(description="now")
    members_per_status: list[Count] = Field(description="now")
    coupons: CouponFigures
    grants_by_benefit: list[Count] = Field(description="benefit grants in the range (quantity)")
    benefit_usage: list[BenefitUsageFigures] = Field(description="usage rate per benefit and tier")
    gifts_by_status: list[Count] = Field(description="gifts offered in the range, by their status now")
    upgrades: int
    downgrades: int
    tier_changes: list[Count] = Field(description="in the range, by `direction:to_tier`")
    risk: RiskFigures
    by_day: MembersByDay
    memberships: MembershipFigures


# -- import -------------------------------------------------------------------------


class ImportRequest(Contract):
    """A file of members to import (models/imports.py describes the rows), as text."""

    format: Literal["csv", "jsonl"]
    content: str = Field(min_length=1, max_length=20_000_000, description="the file's text; CSV with a header")
    reason: str = Field(min_length=1, max_length=1000)
    request_id: str = Field(min_length=1, max_length=128)


class BadRow(Contract):
    line: int = Field(description="the row's line in the file (1: the first line, a CSV file's header)")
    reason: str = Field(description="`field.path: why`; nothing of the row was sent")


class ImportReport(Contract):
    rows: int = Field(description="data rows read")
    sent: int = Field(description="rows sent as import commands; a member imported before is left as it is")
    bad: list[BadRow] = Field(description="rows refused, in file order (the first 1,000)")
    bad_count: int
