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
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.fields import EventTime, Ident


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
    """To the sender: the receiver declined, did not answer in time, or had too many open offers."""

    type: Literal["gift_rejected"]
    gift_id: Ident
    by_member_id: Ident
    why: Literal["declined", "expired", "inbox_full"]


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


#: Every command type on ``member-commands``; append new ones here (see the module docstring).
COMMAND_TYPES: list[type[MemberCommandBase]] = [*GIFT_COMMANDS, DeviceVerdict, InvitationAccepted]

#: The contract of ``member-commands``.
MemberCommand = Annotated[Union[tuple(COMMAND_TYPES)], Field(discriminator="type")]  # noqa: UP007 - built from a list
