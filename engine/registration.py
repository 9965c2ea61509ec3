"""Registration, verifications and invitations (seed 001 §2, §5; seed 003 §3.3).

A registration is recorded once per member and reported to the device agent
(``device-activity``, keyed by tenant and device).  Its reward waits for the
device agent's verdict: the ``device_verdict`` command on the member's own
partition grants ``behaviour:registration`` when the device is within its
limit, and then sends ``invitation_accepted`` to the inviter, who gains the
``growth.invite`` growth -- once per invitee, with no cap unless the rules set
a daily limit.  A refused registration earns neither.  The verdict is applied
once (the registration remembers it), so the reward is deterministic and
idempotent whatever is redelivered.

Each verification kind earns ``behaviour:verification_<kind>`` once; a kind
found to be false information costs ``risk.false_information`` (and locks, per
its policy), once per kind.
"""

from __future__ import annotations

from config.topics import Topic
from engine.behaviour import earn_behaviour_points
from engine.device_reports import report_device
from engine.growth import behaviour_growth
from engine.ids import derive_id
from engine.join_channels import invite_to_plans, join_by_registration
from engine.outcome import Emitted
from engine.penalties import penalise
from engine.step import Step
from engine.tiers import upgrade_if_qualified
from models.commands import DeviceVerdict, InvitationAccepted
from models.events import Registration, Verification, VerificationResult
from models.state import MemberRegistration


def apply_registration(step: Step, event: Registration) -> None:
    state = step.state
    if state.registration is not None:
        return  # a member registers once; a second sign-up changes nothing
    state.registration = MemberRegistration(
        event_id=event.event_id,
        registered_at=event.occurred_at,
        channel=event.channel,
        device_id=event.device_id,
        invited_by=event.invited_by if event.invited_by != state.member_id else None,
    )
    if event.merchant_id is not None:
        state.registration.merchant_id = event.merchant_id
    report_device(step, "registration", event.device_id)


def on_device_verdict(step: Step, verdict: DeviceVerdict) -> None:
    registration = step.state.registration
    if registration is None or registration.event_id != verdict.registration_event_id:
        return  # not this member's registration (cannot happen: the verdict answers it)
    if registration.allowed is not None:
        return  # decided already
    registration.allowed = verdict.allowed
    if not verdict.allowed:
        return
    earn_behaviour_points(step, "registration")
    join_by_registration(step)
    inviter = registration.invited_by
    if inviter is not None:
        state = step.state
        invitation = InvitationAccepted(
            type="invitation_accepted",
            command_id=derive_id("ia", state.tenant_id, inviter, state.member_id),
            tenant_id=state.tenant_id,
            member_id=inviter,
            occurred_at=verdict.occurred_at,
            invitee_id=state.member_id,
        )
        step.outputs.append(Emitted(Topic.MEMBER_COMMANDS, inviter, invitation))


def on_invitation_accepted(step: Step, invitation: InvitationAccepted) -> None:
    behaviour_growth(step, "invite", step.rules.growth.invite)
    upgrade_if_qualified(step)
    invite_to_plans(step, invitation.invitee_id)


def apply_verification(step: Step, event: Verification) -> None:
    state = step.state
    mark = f"{event.kind.value}:{event.result.value}"
    if mark in state.verifications:
        return  # each kind is rewarded, or penalised, once
    state.verifications.append(mark)
    if event.result is VerificationResult.VERIFIED:
        earn_behaviour_points(step, f"verification_{event.kind.value}")
        return
    penalise(step, step.rules.risk.false_information, "false_information",
             f"the {event.kind.value} given at registration is false",
             verification_id=event.verification_id, verification=event.kind.value)
