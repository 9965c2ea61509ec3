"""Joining merchants' plans by the channels other than purchase (seed 002: "level 1:n join channel").

Each level lists its channels (``config.membership_plans.JoinChannel``); a
channel joins only levels that list it, of effective plans of merchants
defined and not suspended (``engine.plans.joinable``).  Every join goes
through ``engine.memberships.join``: the card instance and the level's bound
benefits as with a purchase, ids derived from the channel and its cause, a
``joined`` (or ``upgraded``, ``extended``) ``membership-changes`` record naming
the channel.

- ``registration``: a registration naming ``merchant_id`` joins, once the
  device agent allowed it (the registration's rewards wait for that verdict),
  the lowest level listing ``registration`` of each of the merchant's plans: a
  free membership without ``until``.  A registration without a merchant (a
  platform sign-up) joins nothing.
- ``spend_threshold``: the order items sold by a merchant whose plans have a
  level listing ``spend_threshold`` add their price to the member's spend with
  that merchant (``MemberState.merchant_spend``: one sum per such merchant,
  net of refunds; card items do not count).  Reaching a level's threshold
  joins the highest level reached (free, without ``until``), or upgrades to it.
  A refund takes its share of the order's items off the spend; a membership
  joined by spend whose level is then above the spend is revoked, its unused
  bundled benefits voided -- as a refunded card revokes what it bought.
- ``invitation``: the inviter, told its invitation was accepted (once the
  invitee's registration was allowed), sends the invitee a
  ``membership_invitation`` command for each plan it holds an active
  membership of whose levels list ``invitation``; the invitee joins the lowest
  such level.  A plan no longer joinable by invitation when the command is
  applied dead-letters it ``not_joinable``.
- ``operator_grant``: an operator's ``membership_grant`` command joins the
  level it names until ``until``; a level that does not list
  ``operator_grant`` dead-letters it ``not_joinable`` with the reason.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from config.membership_plans import CARD_CATEGORY, JoinChannel
from config.topics import Topic
from engine.ids import derive_id
from engine.memberships import (
    apply_order_paid_with_cards,
    apply_order_refunded_with_cards,
    join,
    memberships_of,
    revoke,
)
from engine.outcome import Emitted, Reject
from engine.plans import facts_of, joinable, levels_listing
from engine.step import Step
from models.commands import MembershipGrant, MembershipInvitation
from models.events import OrderPaid, OrderRefunded
from models.fields import CENT
from models.outputs import DeadLetterReason
from models.state import MembershipStatus, MemberState

# -- registration ---------------------------------------------------------------


def join_by_registration(step: Step) -> None:
    """The allowed registration's merchant's levels listing ``registration`` (the lowest of each plan)."""
    state = step.state
    registration = state.registration
    if registration is None or not isinstance(registration.merchant_id, str):
        return
    facts = facts_of(step.rules)
    for plan, levels in levels_listing(facts, state.tenant_id, registration.merchant_id, JoinChannel.REGISTRATION):
        join(step, plan, levels[0], JoinChannel.REGISTRATION, registration.event_id)


# -- spend threshold ------------------------------------------------------------


def _spend(state: MemberState) -> dict[str, Decimal]:
    if not state.merchant_spend:
        state.merchant_spend = {}
    return state.merchant_spend


def spend_of(step: Step, event: OrderPaid) -> dict[str, Decimal]:
    """The order's items per merchant whose plans join by spend (card items left out)."""
    facts, tenant = facts_of(step.rules), step.state.tenant_id
    spend: dict[str, Decimal] = {}
    for item in event.items:
        if item.merchant_id is None or item.category == CARD_CATEGORY:
            continue
        if item.merchant_id not in spend and not levels_listing(facts, tenant, item.merchant_id,
                                                                JoinChannel.SPEND_THRESHOLD):
            continue
        spend[item.merchant_id] = spend.get(item.merchant_id, Decimal(0)) + item.unit_price * item.quantity
    return spend


def apply_order_paid_joining(step: Step, event: OrderPaid) -> None:
    """An order paid (earning, cards bought), then the spend it adds with merchants and the levels it reaches."""
    apply_order_paid_with_cards(step, event)
    spend = spend_of(step, event)
    if not spend:
        return
    step.state.orders[event.order_id].merchant_spend = spend
    totals = _spend(step.state)
    facts = facts_of(step.rules)
    for merchant_id, amount in spend.items():
        total = totals[merchant_id] = totals.get(merchant_id, Decimal(0)) + amount
        for plan, levels in levels_listing(facts, step.state.tenant_id, merchant_id, JoinChannel.SPEND_THRESHOLD):
            reached = [lv for lv in levels if lv.spend_threshold is not None and lv.spend_threshold <= total]
            if reached:
                join(step, plan, max(reached, key=lambda lv: lv.rank), JoinChannel.SPEND_THRESHOLD, event.order_id)


def _share(spent: Decimal, refunded: Decimal, amount: Decimal) -> Decimal:
    """The part of ``spent`` that refunds totalling ``refunded`` of an order of ``amount`` take back."""
    if amount <= 0 or refunded >= amount:
        return spent
    return (spent * refunded / amount).quantize(CENT, rounding=ROUND_FLOOR)


def apply_order_refunded_joining(step: Step, event: OrderRefunded) -> None:
    """A refund (clawback, cards revoked), then its share of the order's spend with merchants taken off."""
    state = step.state
    record = state.orders[event.order_id]
    before = record.refunded
    apply_order_refunded_with_cards(step, event)
    if not record.merchant_spend:
        return
    totals = _spend(state)
    facts = facts_of(step.rules)
    for merchant_id, spent in record.merchant_spend.items():
        less = _share(spent, record.refunded, record.amount) - _share(spent, before, record.amount)
        total = totals[merchant_id] = max(totals.get(merchant_id, Decimal(0)) - less, Decimal(0))
        for membership in memberships_of(state).values():
            if (membership.merchant_id != merchant_id or membership.status is not MembershipStatus.ACTIVE
                    or membership.channel != JoinChannel.SPEND_THRESHOLD.value or membership.orders):
                continue
            plan = facts.get("plan", state.tenant_id, merchant_id, membership.plan_id)
            level = plan.level(membership.level_id) if plan is not None else None
            if level is not None and level.spend_threshold is not None and total < level.spend_threshold:
                revoke(step, membership, event.order_id)


# -- invitation -----------------------------------------------------------------


def invite_to_plans(step: Step, invitee_id: str) -> None:
    """The inviter's side: a ``membership_invitation`` to the invitee for each plan the inviter holds
    an active membership of whose levels list ``invitation``."""
    state = step.state
    facts = facts_of(step.rules)
    for membership in memberships_of(state).values():
        if membership.status is not MembershipStatus.ACTIVE or (
                membership.until is not None and membership.until <= step.occurred_at):
            continue
        for plan, levels in levels_listing(facts, state.tenant_id, membership.merchant_id, JoinChannel.INVITATION):
            if plan.plan_id != membership.plan_id:
                continue
            command = MembershipInvitation(
                type="membership_invitation",
                command_id=derive_id("mi", state.tenant_id, invitee_id, state.member_id, plan.merchant_id,
                                     plan.plan_id),
                tenant_id=state.tenant_id, member_id=invitee_id, occurred_at=step.occurred_at,
                inviter_id=state.member_id, merchant_id=plan.merchant_id, plan_id=plan.plan_id,
                level_id=levels[0].level_id)
            step.outputs.append(Emitted(Topic.MEMBER_COMMANDS, invitee_id, command))


def apply_membership_invitation(step: Step, command: MembershipInvitation) -> None:
    """The invitee's side: join the level the inviter's plan is joined at by invitation."""
    found = joinable(facts_of(step.rules), step.state.tenant_id, command.merchant_id, command.plan_id,
                     command.level_id, JoinChannel.INVITATION)
    if isinstance(found, str):
        raise Reject(DeadLetterReason.NOT_JOINABLE, found)
    plan, level = found
    join(step, plan, level, JoinChannel.INVITATION, command.inviter_id)


# -- operator grant -------------------------------------------------------------


def apply_membership_grant(step: Step, command: MembershipGrant) -> None:
    """An operator's grant of a level listing ``operator_grant``, until ``until``."""
    found = joinable(facts_of(step.rules), step.state.tenant_id, command.merchant_id, command.plan_id,
                     command.level_id, JoinChannel.OPERATOR_GRANT)
    if isinstance(found, str):
        raise Reject(DeadLetterReason.NOT_JOINABLE, found)
    if command.until <= step.occurred_at:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"the membership ends ({command.until.isoformat()}) before "
                     f"it starts ({step.occurred_at.isoformat()})")
    plan, level = found
    held = memberships_of(step.state).get(f"{plan.merchant_id}/{plan.plan_id}")
    if held is not None and held.status is MembershipStatus.ACTIVE and (held.until is None
                                                                        or held.until > step.occurred_at):
        current = plan.level(held.level_id)
        higher = current is None or level.rank > current.rank
        longer = held.level_id == level.level_id and held.until is not None and command.until > held.until
        if not (higher or longer):
            raise Reject(DeadLetterReason.INVALID_COMMAND,
                         f"the member holds level {held.level_id} of plan {plan.plan_id} "
                         f"until {held.until.isoformat() if held.until else 'it is ended'}: nothing to grant")
    join(step, plan, level, JoinChannel.OPERATOR_GRANT, command.command_id, command.until)
