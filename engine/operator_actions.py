"""Operator commands applied to a member: points credit and debit, benefit grants, tier
overrides and account actions (lock, unlock, freeze, unfreeze).

The admin service publishes them on ``member-commands`` keyed by the member, so
they are applied on the member's partition in order with the member's events.
Each has a ``command_id`` derived from the tenant and the operator's request id
(and the approval, when one was needed): the engine's dedupe makes a redelivery
change nothing.  A command that does not fit the member's state -- a debit that
would overdraw, an unlock of an account that is not locked, an unknown tier --
raises ``Reject`` before anything changes, so it is dead-lettered with the
reason, which the operator sees in the read model.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.account_status import set_status
from engine.ids import derive_id
from engine.join_channels import apply_membership_grant
from engine.outcome import Reject
from engine.step import Step
from engine.wallet import add_lot, expires_at, held, spendable, take
from models.commands import (
    AccountAction,
    BenefitGrantCommand,
    MembershipGrant,
    OperatorCommandBase,
    PointsCredit,
    PointsDebit,
    TierOverride,
)
from models.outputs import DeadLetterReason, LedgerKind, NotificationKind
from models.state import MemberStatus, PointLot

#: account action -> (the statuses it applies to, the status it sets)
TRANSITIONS: dict[str, tuple[frozenset[MemberStatus], MemberStatus]] = {
    "account_lock": (frozenset({MemberStatus.ACTIVE, MemberStatus.FROZEN}), MemberStatus.LOCKED),
    "account_unlock": (frozenset({MemberStatus.LOCKED}), MemberStatus.ACTIVE),
    "account_freeze": (frozenset({MemberStatus.ACTIVE, MemberStatus.LOCKED}), MemberStatus.FROZEN),
    "account_unfreeze": (frozenset({MemberStatus.FROZEN}), MemberStatus.ACTIVE),
}


def operator_command_id(tenant_id: str, request_id: str, approval_id: str | None = None) -> str:
    """The command id of an operator's request (with its approval, when it needed one)."""
    return derive_id("oc", tenant_id, request_id, approval_id or "")


def approval_id_for(tenant_id: str, request_id: str) -> str:
    return derive_id("ap", tenant_id, request_id)


def _signed(command: OperatorCommandBase) -> dict[str, Any]:
    return {"operator": command.actor, "approver": command.approver, "reason": command.reason}


def apply_credit(step: Step, command: PointsCredit) -> None:
    state = step.state
    lot = PointLot(lot_id=step._id("lot", "operator_credit"), amount=command.points, earned_at=step.occurred_at,
                   expires_at=expires_at(step.occurred_at, step.rules))
    add_lot(state, lot)
    step.ledger(LedgerKind.ADJUSTMENT, "operator_credit", command.points, held(state),
                expires_at=lot.expires_at, **_signed(command))


def apply_debit(step: Step, command: PointsDebit) -> None:
    state = step.state
    available = spendable(state, step.occurred_at)
    if available < command.points and not step.rules.points.operator_debits_overdraw:
        raise Reject(DeadLetterReason.INSUFFICIENT_POINTS,
                     f"a debit of {command.points} points would overdraw: {available} spendable")
    taken = take(state, command.points, step.occurred_at)
    state.debt += command.points - taken
    step.ledger(LedgerKind.ADJUSTMENT, "operator_debit", -command.points, held(state), **_signed(command))


def apply_benefit(step: Step, command: BenefitGrantCommand) -> None:
    step.grant(command.benefit, "operator", value=command.value, quantity=command.quantity,
               valid_from=step.occurred_at, valid_until=command.valid_until, tier=step.state.tier,
               details=_signed(command))


def apply_tier_override(step: Step, command: TierOverride) -> None:
    state, ladder = step.state, step.rules.tiers
    if command.tier not in {t.id for t in ladder.tiers}:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"unknown tier {command.tier!r}")
    if command.until <= step.occurred_at:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"the override ends ({command.until.isoformat()}) before "
                     f"it starts ({step.occurred_at.isoformat()})")
    previous = state.tier
    state.tier_override_until = command.until
    state.downgrade_at, state.downgrade_warned = None, False
    if command.tier != previous:
        state.tier, state.tier_since = command.tier, step.occurred_at
        step.tier_change(previous, command.tier, ladder.rank(command.tier) > ladder.rank(previous),
                         "operator_override", "operator_override", Decimal(0))
    step.notify(NotificationKind.TIER_OVERRIDE, f"tier {command.tier} until {command.until.isoformat()}: "
                f"{command.reason}", tier=command.tier, previous=previous, until=command.until.isoformat(),
                **_signed(command))


def apply_account_action(step: Step, command: AccountAction) -> None:
    """Lock, unlock, freeze or unfreeze; the status remembers why and since when."""
    state = step.state
    applies_to, to = TRANSITIONS[command.type]
    if state.status not in applies_to:
        raise Reject(DeadLetterReason.INVALID_COMMAND,
                     f"{command.type.removeprefix('account_')} does not apply to a {state.status.value} account")
    previous = state.status
    set_status(step, to, command.reason)
    step.notify(NotificationKind.ACCOUNT_STATUS, f"account {to.value}: {command.reason}", status=to.value,
                previous=previous.value, **_signed(command))


#: command type -> handler(step, command), merged into engine.apply.HANDLERS
HANDLERS: dict[type, Callable[[Step, Any], None]] = {
    PointsCredit: apply_credit,
    PointsDebit: apply_debit,
    BenefitGrantCommand: apply_benefit,
    TierOverride: apply_tier_override,
    AccountAction: apply_account_action,
    MembershipGrant: apply_membership_grant,  # a merchant plan's level (engine/join_channels.py)
}
