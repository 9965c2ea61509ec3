"""Member commands: messages the engine addresses to one member on the
internal ``member-commands`` topic (keyed by the target member id, so the
members agent applies them on the target's partition like any input event).

Every command has a deterministic ``command_id`` (the engine's dedupe id)
derived from what caused it, so a redelivered or re-sent command changes
nothing.  The topic's contract is ``MemberCommand``, a union discriminated on
``type``, built from ``COMMAND_TYPES``: a feature that adds a command defines
its model in this module (subclassing :class:`MemberCommandBase`) and
appends it to ``COMMAND_TYPES`` before ``MemberCommand`` is built below.

Gift hand-offs (sender A, receiver B; see engine/redemptions/gifts.py)::

    A: gift request -> hold points --gift_offered-->  B: record the offer
    B: gift_respond(accept) ---------gift_accepted--> A: finalize (hold becomes the debit)
    A: <------------------------------gift_transfer-- ... --> B: credit (ledger earn, rule gift)
    B: gift_respond(reject) / expiry -gift_rejected--> A: points back (ledger adjustment)
    A: expiry, or an acceptance after it --gift_expired--> B: offer void

Registrations (member M on device D, invited by I; see engine/registration.py)::

    M: registration --device-activity--> device agent (D): count, decide
    device agent --device_verdict--> M: allowed: +registration points; --invitation_accepted--> I: +invite growth
    I: holds a plan joined by invitation --membership_invitation--> M: joins it (engine/join_channels.py)

Operator commands (``OPERATOR_COMMANDS``) are published by the admin service,
keyed by the member id, with a ``command_id`` derived from the tenant and the
operator's request id (and the approval, when one was needed; see
engine/operator_actions.py): points credit and debit, a benefit grant, a tier
override until a date, the account actions lock, unlock, freeze, unfreeze, and a
membership grant of a merchant's plan level.
"""


from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.fields import EventTime, Ident
from models.imports import ImportRow


class MemberCommandBase(BaseModel):
    """Fields common to every member command; ``member_id`` is the target."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    command_id: Ident
    tenant_id: Ident = "default"
    member_id: Ident
    occurred_at: EventTime

    @property
    def event_id(self) -> str:
        """The engine's dedupe id."""
        return self.command_id


class PointsPiece(BaseModel):
    """Points that move together and keep their original expiry."""

    model_config = ConfigDict(frozen=True)

    amount: int = Field(ge=1)
    expires_at: datetime | None = None
    earned_at: datetime


class GiftOffered(MemberCommandBase):
    """To the receiver: ``from_member_id`` holds ``points`` for you until ``respond_by``."""

    type: Literal["gift_offered"]
    gift_id: Ident
    from_member_id: Ident
    points: int = Field(ge=1)
    respond_by: AwareDatetime


class GiftAccepted(MemberCommandBase):
    """To the sender: the receiver accepted (at ``occurred_at``)."""

    type: Literal["gift_accepted"]
    gift_id: Ident
    by_member_id: Ident


class GiftRejected(MemberCommandBase):
    """To the sender: the receiver declined, did not answer in time, had too many open offers, or
    its account is locked or frozen (such an account receives no gifts)."""

    type: Literal["gift_rejected"]
    gift_id: Ident
    by_member_id: Ident
    why: Literal["declined", "expired", "inbox_full", "locked", "frozen"]


class GiftTransfer(MemberCommandBase):
    """To the receiver: the sender's held points, with their expiry dates."""

    type: Literal["gift_transfer"]
    gift_id: Ident
    from_member_id: Ident
    points: int = Field(ge=1)
    pieces: list[PointsPiece] = Field(min_length=1, max_length=10_000)


class GiftExpired(MemberCommandBase):
    """To the receiver: the offer is void (expired; the points went back to the sender)."""

    type: Literal["gift_expired"]
    gift_id: Ident
    from_member_id: Ident


GIFT_COMMANDS: tuple[type[MemberCommandBase], ...] = (
    GiftOffered,
    GiftAccepted,
    GiftRejected,
    GiftTransfer,
    GiftExpired,
)

class OperatorCommandBase(MemberCommandBase):
    """What every operator command carries: who asked, who approved (if anyone), why, the request."""

    actor: Ident = Field(description="the operator who asked: `<token id>:<name>`")
    approver: Ident | None = Field(default=None, description="who approved it, when it was over a limit")
    reason: str = Field(min_length=1, max_length=1000)
    request_id: Ident


class PointsCredit(OperatorCommandBase):
    """Give the member ``points`` (they expire as earned points do)."""

    type: Literal["points_credit"]
    points: int = Field(ge=1)


class PointsDebit(OperatorCommandBase):
    """Take ``points`` from the member's spendable points; refused if they would overdraw
    (unless the tenant's rules let operators' debits overdraw into debt: ``points.operator_debits_overdraw``)."""

    type: Literal["points_debit"]
    points: int = Field(ge=1)


class BenefitGrantCommand(OperatorCommandBase):
    """Grant the member a benefit."""

    type: Literal["benefit_grant"]
    benefit: Ident
    value: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    quantity: int = Field(default=1, ge=1, le=1000)
    valid_until: AwareDatetime | None = None


class TierOverride(OperatorCommandBase):
    """Set the member's tier and hold it against downgrades until ``until``."""

    type: Literal["tier_override"]
    tier: Ident
    until: AwareDatetime


AccountActionType = Literal["account_lock", "account_unlock", "account_freeze", "account_unfreeze"]


class AccountAction(OperatorCommandBase):
    """Lock, unlock (the appeal path: it clears a complaint's lock too), freeze or unfreeze an account."""

    type: AccountActionType


class MembershipGrant(OperatorCommandBase):
    """Grant the member a membership of ``level_id`` of a merchant's plan until ``until`` (the level
    must list the ``operator_grant`` channel; engine/join_channels.py)."""

    type: Literal["membership_grant"]
    merchant_id: Ident
    plan_id: Ident
    level_id: Ident
    until: AwareDatetime


RiskDecisionType = Literal["risk_release", "risk_confirm", "risk_dismiss"]


class RiskDecision(OperatorCommandBase):
    """An operator's decision on an open abnormal spending flag (engine/spending.py): ``release``
    the points it holds (they become spendable), ``confirm`` it (held points are cancelled), or
    ``dismiss`` a flag that holds nothing."""

    type: RiskDecisionType
    flag_id: Ident


OPERATOR_COMMANDS: tuple[type[OperatorCommandBase], ...] = (
    PointsCredit,
    PointsDebit,
    BenefitGrantCommand,
    TierOverride,
    AccountAction,
    MembershipGrant,
    RiskDecision,
)

#: An operator's command, as the admin service builds it.
OperatorCommand = Annotated[Union[tuple(OPERATOR_COMMANDS)], Field(discriminator="type")]  # noqa: UP007


class ImportMember(MemberCommandBase):
    """Migration: create the member from a row of the previous system (models/imports.py).  Its
    ``command_id`` comes from the tenant, member and row content (``import_command_id``); applied
    only to a member with no activity yet (engine/imports.py)."""

    type: Literal["import_member"]
    row: ImportRow


class DeviceVerdict(MemberCommandBase):
    """From the device agent to a registered member: whether its registration earns rewards
    (``allowed`` false: beyond ``limit`` registrations on ``device_id`` within ``window``)."""

    type: Literal["device_verdict"]
    device_id: Ident
    registration_event_id: Ident
    allowed: bool
    registrations: int = Field(ge=1, description="registrations on the device within the window, this one included")
    limit: int = Field(ge=1)


class InvitationAccepted(MemberCommandBase):
    """To the inviter: ``invitee_id`` registered with this member as ``invited_by``, and the
    device agent allowed the registration."""

    type: Literal["invitation_accepted"]
    invitee_id: Ident


class MembershipInvitation(MemberCommandBase):
    """From an inviter to its invitee (after ``invitation_accepted``): the inviter holds an active
    membership of ``plan_id``, whose ``level_id`` lists the ``invitation`` channel: join it."""

    type: Literal["membership_invitation"]
    inviter_id: Ident
    merchant_id: Ident
    plan_id: Ident
    level_id: Ident


#: Every command type on ``member-commands``; append new ones here (see the module docstring).
COMMAND_TYPES: list[type[MemberCommandBase]] = [*GIFT_COMMANDS, *OPERATOR_COMMANDS, ImportMember, DeviceVerdict,
                                                InvitationAccepted, MembershipInvitation]

#: The contract of ``member-commands``.
MemberCommand = Annotated[Union[tuple(COMMAND_TYPES)], Field(discriminator="type")]  # noqa: UP007 - built from a list
