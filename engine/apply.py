"""The single entry point: apply one validated event to one member's state.

``apply_event`` takes ownership of ``state`` (it is changed in place and
returned in the outcome) -- callers that need the old value keep a copy.  It
is deterministic: the same state, event and rules give the same outputs with
the same ids, whatever the wall clock says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from config.rules import TenantRules
from engine import redemptions, spending
from engine.badges import apply_business_scores, complete
from engine.behaviour import apply_complaint, apply_login, apply_profile, apply_review
from engine.benefit_usage import apply_usage
from engine.clock import local_day
from engine.experiments import arm_rules
from engine.experiments import record as record_exposure
from engine.imports import apply_import
from engine.join_channels import apply_membership_invitation, apply_order_paid_joining, apply_order_refunded_joining
from engine.operator_actions import HANDLERS as OPERATOR_HANDLERS
from engine.outcome import Applied, Outcome, Reject
from engine.registration import apply_registration, apply_verification, on_device_verdict, on_invitation_accepted
from engine.step import Step
from engine.windows import prune
from models.badges import BusinessScores
from models.benefits import BenefitUsage
from models.commands import DeviceVerdict, ImportMember, InvitationAccepted, MembershipInvitation, RiskDecision
from models.events import (
    Complaint,
    Login,
    MemberEvent,
    OrderPaid,
    OrderRefunded,
    Profile,
    Registration,
    Review,
    Verification,
)
from models.outputs import DeadLetterReason
from models.state import MemberState


def new_member(tenant_id: str, member_id: str, rules: TenantRules) -> MemberState:
    return MemberState(tenant_id=tenant_id, member_id=member_id, tier=rules.tiers.base)


def _reject(state: MemberState, reason: DeadLetterReason, detail: str) -> Outcome:
    return Outcome(state, Applied.REJECTED, reason=reason, detail=detail)


def check(state: MemberState, event: MemberEvent, rules: TenantRules) -> Outcome | None:
    """Rule-level validation, before anything changes; a rejection or None."""
    limits = rules.limits
    if isinstance(event, (OrderPaid, OrderRefunded)) and event.amount > limits.max_amount:
        return _reject(state, DeadLetterReason.AMOUNT_OVER_LIMIT, f"amount {event.amount} > {limits.max_amount}")
    if isinstance(event, OrderPaid):
        for i, item in enumerate(event.items):
            if item.unit_price > limits.max_amount:
                return _reject(
                    state, DeadLetterReason.AMOUNT_OVER_LIMIT, f"items[{i}].unit_price {item.unit_price} over limit"
                )
        if sum(item.quantity for item in event.items) > limits.max_items:
            return _reject(state, DeadLetterReason.INVALID_EVENT, f"more than {limits.max_items} items")
    if isinstance(event, OrderRefunded) and not _on_record(state, event.order_id, rules):
        return _reject(state, DeadLetterReason.REFUND_WITHOUT_ORDER, f"no paid order {event.order_id} on record")
    if isinstance(event, Profile):
        if event.time_zone is not None:
            try:
                ZoneInfo(event.time_zone)
            except Exception:
                return _reject(state, DeadLetterReason.INVALID_EVENT, f"unknown time zone {event.time_zone!r}")
        if event.invited_tier is not None and event.invited_tier not in {t.id for t in rules.tiers.tiers}:
            return _reject(state, DeadLetterReason.INVALID_EVENT, f"unknown tier {event.invited_tier!r}")
    return None


def _on_record(state: MemberState, order_id: str, rules: TenantRules) -> bool:
    """Whether the order is remembered: kept, and not older than ``order_days``
    before the latest event (``_forget_old_orders`` drops such orders only when
    the day turns, so this holds to the second in between)."""
    record = state.orders.get(order_id)
    if record is None:
        return False
    return record.paid_at.timestamp() >= _order_cutoff(state, rules)


def _order_cutoff(state: MemberState, rules: TenantRules) -> float:
    assert state.watermark is not None  # an order on record came with an event
    return state.watermark.timestamp() - rules.retention.order_days * 86400


class _SeenIds:
    """How often each id is in ``recent_event_ids``, so the dedupe check is O(1) and not a
    scan of up to ``retention.recent_event_ids`` ids.  Kept in the state's ``__dict__`` (not
    stored); valid while it is the same list and ``_remember`` is what changed it.  Built on a
    state's second check: a state read back and checked once (a cold read) is scanned instead."""

    __slots__ = ("counts", "ids", "length")

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.length, self.counts = ids, len(ids), Counter(ids)

    def valid(self, ids: list[str]) -> bool:
        return self.ids is ids and self.length == len(ids)

    @classmethod
    def of(cls, state: MemberState) -> _SeenIds | None:
        """The index, or None on the state's first check."""
        cached = state.__dict__
        seen = cached.get("seen_ids")
        ids = state.recent_event_ids
        if seen is not None and seen.valid(ids):
            return seen
        if "seen_ids" not in cached:
            cached["seen_ids"] = None
            return None
        seen = cached["seen_ids"] = cls(ids)
        return seen


def is_duplicate(state: MemberState, event: MemberEvent, rules: TenantRules) -> bool:
    """Applied already: its id is remembered, or it pays an order on record again."""
    seen = _SeenIds.of(state)
    if event.event_id in (seen.counts if seen is not None else state.recent_event_ids):
        return True
    # An order is paid once, whatever event id a retrying producer gave it.
    return isinstance(event, OrderPaid) and _on_record(state, event.order_id, rules)


def _remember(state: MemberState, event: MemberEvent, rules: TenantRules) -> None:
    ids = state.recent_event_ids
    seen = state.__dict__.get("seen_ids")
    counts = seen.counts if seen is not None and seen.valid(ids) else None
    ids.append(event.event_id)
    overflow = len(ids) - rules.retention.recent_event_ids
    if counts is not None:
        counts[event.event_id] += 1
        for gone in ids[:max(overflow, 0)]:
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
    if overflow > 0:
        del ids[:overflow]
    if counts is not None:
        seen.length = len(ids)
    if state.watermark is None or event.occurred_at > state.watermark:
        state.watermark = event.occurred_at


def _forget_old_orders(state: MemberState, rules: TenantRules) -> None:
    """Drop orders past ``order_days`` and beyond ``max_orders`` from the state.
    Run when an order was added and when the latest event's day changes:
    ``_on_record`` enforces ``order_days`` exactly between those moments."""
    keep = rules.retention
    oldest = next(iter(state.orders.values()), None)
    newest = next(reversed(state.orders.values()), None)
    if oldest is None:
        return
    cutoff = _order_cutoff(state, rules)
    if (
        oldest.paid_at.timestamp() >= cutoff
        and newest.paid_at.timestamp() >= cutoff  # a late order may arrive already too old
        and len(state.orders) <= keep.max_orders
    ):
        return  # the common case: nothing to forget, checked in O(1)
    stale = [oid for oid, rec in state.orders.items() if rec.paid_at.timestamp() < cutoff]
    for oid in stale:
        del state.orders[oid]
    overflow = len(state.orders) - keep.max_orders
    if overflow > 0:
        for oid in list(state.orders)[:overflow]:
            del state.orders[oid]


#: event type -> handler(step, event).  A handler may raise ``Reject`` before it
#: changes any state; features register their event types here.
HANDLERS: dict[type, Callable[[Step, Any], None]] = {
    # earning, the membership cards bought, the spend that joins merchants' plans (engine/join_channels.py)
    OrderPaid: apply_order_paid_joining,
    OrderRefunded: apply_order_refunded_joining,
    Review: apply_review,
    Login: apply_login,
    Complaint: apply_complaint,
    Profile: apply_profile,
    BusinessScores: apply_business_scores,
    BenefitUsage: apply_usage,  # benefit instances used, voided, restored (engine/benefit_usage.py)
    Registration: apply_registration,
    Verification: apply_verification,
    DeviceVerdict: on_device_verdict,
    InvitationAccepted: on_invitation_accepted,
    MembershipInvitation: apply_membership_invitation,  # joining the inviter's plan (engine/join_channels.py)
}
HANDLERS.update(redemptions.HANDLERS)  # redemption requests and gift commands
HANDLERS[ImportMember] = apply_import  # member data migration
HANDLERS.update(OPERATOR_HANDLERS)  # operator adjustments and account actions (engine/operator_actions.py)
HANDLERS[RiskDecision] = spending.apply_decision  # an operator's release, confirm or dismiss of a risk flag

#: event type -> fn(state, event) -> outputs sent again when the event is a
#: duplicate (a retried redemption request gets its first answer again)
REPEATS: dict[type, Callable[[MemberState, Any], list]] = {**redemptions.REPEATS}

#: run after the handler of every applied event (lazy expiry of gift offers)
AFTER_EVENT: list[Callable[[Step], None]] = [redemptions.expire_lazily]

#: event type -> fn(event, rules) -> event, applied first: completes what depends
#: on the tenant's rules (a score snapshot's event time is its date in the tenant's zone)
COMPLETERS: dict[type, Callable[[Any, TenantRules], Any]] = {
    BusinessScores: complete,
}


def complete_event(event: MemberEvent, rules: TenantRules) -> MemberEvent:
    """The event with what depends on the tenant's rules filled in (``COMPLETERS``)."""
    completer = COMPLETERS.get(type(event))
    return event if completer is None else completer(event, rules)


def apply_event(state: MemberState | None, event: MemberEvent, rules: TenantRules) -> Outcome:
    event = complete_event(event, rules)
    if state is None:
        state = new_member(event.tenant_id, event.member_id, rules)
    if is_duplicate(state, event, rules):
        return duplicate(state, event)
    return apply_new(state, event, rules)


def duplicate(state: MemberState, event: MemberEvent) -> Outcome:
    """A duplicate's outcome: nothing applied, the first answer sent again if it has one."""
    repeat = REPEATS.get(type(event))
    return Outcome(state, Applied.DUPLICATE, repeat(state, event) if repeat else [])


def apply_new(state: MemberState, event: MemberEvent, rules: TenantRules) -> Outcome:
    """``apply_event`` for a completed event known not to be a duplicate."""
    rules = arm_rules(state, rules, event.occurred_at)  # a live experiment's arm judges by its own rules
    rejected = check(state, event, rules)
    if rejected is not None:
        return rejected
    step = Step.for_event(state, rules, event)
    watched = spending.watched(event)  # the abnormal spending monitor (engine/spending.py)
    if watched:
        trips, held_before = spending.before(step, event)
    try:
        HANDLERS[type(event)](step, event)
    except Reject as rejection:
        # Handlers raise Reject only before they change anything.
        return _reject(state, rejection.reason, rejection.detail)
    if watched:
        spending.after(step, event, trips, held_before)
    for after in AFTER_EVENT:
        after(step)
    record_exposure(step, event)
    previous_watermark = state.watermark
    _remember(state, event, rules)
    new_day = previous_watermark is None or state.watermark.date() != previous_watermark.date()
    if new_day:
        # Day buckets and counters only age out when event time reaches a new day.
        latest = step.day if state.watermark is event.occurred_at else local_day(state.watermark, rules.tz)
        prune(state, latest, rules.limits.max_lateness.days + 1)
    if new_day or isinstance(event, OrderPaid):
        _forget_old_orders(state, rules)
    return Outcome(state, Applied.APPLIED, step.outputs)
