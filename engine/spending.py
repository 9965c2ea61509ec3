"""The abnormal spending monitor (issue 22 item 4): per-tenant rules (``risk.spending``,
config/risk.py) over the member's own recent history, kept bounded in its state.

* ``orders_per_hour``: more than ``max_orders`` paid orders within an hour (event time, this one
  included: exactly ``max_orders`` is normal);
* ``amount_spike``: an order of more than ``factor`` times the median of the member's previous
  ``history`` orders, once there are ``min_history`` of them;
* ``refund_after_spend``: a refund within ``within`` after the member spent points;
* ``redemption_burst``: more than ``max_redemptions`` coupon exchanges and benefit uses within
  ``window`` (this one included).

A rule that trips publishes a ``risk-flags`` output (rule, action, evidence; its id derived from
the member, the event and the rule) and keeps the flag open until an operator decides, then acts:
``flag`` only; ``hold`` -- the order's points, and whatever the member earns while the flag is
open, stay pending (``engine.holds``); ``lock`` -- the account is locked (``set_status``).
Operators ``release`` a hold (the points become what they were), ``confirm`` a flag (held points
are cancelled, one ledger entry each) or ``dismiss`` one that holds nothing (``RiskDecision``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from config.risk import SpendingAction
from config.topics import Topic
from engine.account_status import set_status
from engine.holds import STATUS, cancel, history, release
from engine.ids import derive_id
from engine.outcome import Reject
from engine.step import Step
from engine.wallet import held
from models.benefits import BenefitUsage, UsageAction
from models.commands import RiskDecision
from models.devices import RiskAction, RiskFlag, RiskRule
from models.events import OrderPaid, OrderRefunded
from models.outputs import DeadLetterReason, NotificationKind
from models.redemptions import CouponRequest, GiftRequest, MerchandiseRequest, PointsCashRequest
from models.state import MemberStatus, OpenFlag

HOUR = timedelta(hours=1)
#: spending moments kept for ``refund_after_spend``
KEEP_SPENT = 20
#: open flags kept; beyond, the oldest that hold nothing are forgotten (a hold is kept until decided)
KEEP_FLAGS = 100

ACTIONS = {SpendingAction.FLAG: RiskAction.FLAG_ONLY, SpendingAction.HOLD: RiskAction.HOLD,
           SpendingAction.LOCK: RiskAction.LOCK}

#: redemption requests that spend points (a refund soon after is suspicious)
SPENDING_REQUESTS: tuple[type, ...] = (CouponRequest, PointsCashRequest, MerchandiseRequest)


@dataclass(slots=True)
class Trip:
    rule: RiskRule
    action: SpendingAction
    limit: int | None
    window: timedelta | None
    evidence: dict[str, str]
    order_id: str | None = None

    def flag_id(self, step: Step) -> str:
        return derive_id("rf", step.state.tenant_id, step.state.member_id, step.cause_id, self.rule.value)


def watched(event: Any) -> bool:
    return isinstance(event, (OrderPaid, OrderRefunded, BenefitUsage, GiftRequest, *SPENDING_REQUESTS))


def before(step: Step, event: Any) -> tuple[list[Trip], int]:
    """Before the event applies: what an order trips (a ``hold`` sets ``step.hold``, so what it
    earns is held under the flag; a ``lock``, under the status, as a locked member's earnings are)
    and the points held, to see whether the event spent some."""
    trips = _order_trips(step, event) if isinstance(event, OrderPaid) else []
    for trip in trips:
        if trip.action is SpendingAction.HOLD:
            step.hold = trip.flag_id(step)
            break
    else:
        if any(trip.action is SpendingAction.LOCK for trip in trips):
            step.hold = STATUS
    return trips, held(step.state)


def after(step: Step, event: Any, trips: list[Trip], held_before: int) -> None:
    """After the event applied: remember it, judge the rules that needed it applied, act."""
    state, rules = step.state, step.rules.risk.spending
    at = step.occurred_at
    if isinstance(event, OrderPaid):
        keep = max(rules.amount_spike.history if rules.amount_spike else 0,
                   rules.orders_per_hour.max_orders if rules.orders_per_hour else 0)
        if keep:  # no rule looks at orders: none kept
            orders = history(state).orders
            orders.append((at, event.amount))
            orders.sort(key=lambda seen: seen[0])
            del orders[:max(0, len(orders) - keep)]
    elif isinstance(event, OrderRefunded):
        trip = _refund_trip(step, event)
        trips = [trip] if trip else []
    elif isinstance(event, (CouponRequest, BenefitUsage)):
        if isinstance(event, BenefitUsage) and event.action is not UsageAction.USED:
            return
        if isinstance(event, CouponRequest) and held(state) >= held_before:
            return  # refused: nothing was exchanged
        trip = _burst_trip(step)
        trips = [trip] if trip else []
    if (isinstance(event, (GiftRequest, *SPENDING_REQUESTS)) and rules.refund_after_spend is not None
            and held(state) < held_before):
        spent = history(state).spent_at
        spent.append(at)
        spent.sort()
        del spent[:max(0, len(spent) - KEEP_SPENT)]
    for trip in trips:
        _act(step, trip)


def _order_trips(step: Step, event: OrderPaid) -> list[Trip]:
    rules = step.rules.risk.spending
    orders = step.state.spending.orders if step.state.spending else []
    at, trips = event.occurred_at, []
    per_hour = rules.orders_per_hour
    if per_hour is not None:
        within = sum(1 for t, _ in orders if at - HOUR < t <= at) + 1
        if within > per_hour.max_orders:
            trips.append(Trip(RiskRule.ORDERS_PER_HOUR, per_hour.action, per_hour.max_orders, HOUR,
                              {"orders": str(within), "max_orders": str(per_hour.max_orders)}, event.order_id))
    spike = rules.amount_spike
    if spike is not None:
        previous = [amount for _, amount in orders[-spike.history:]]
        if len(previous) >= spike.min_history:
            usual = Decimal(median(previous))
            if event.amount > spike.factor * usual:
                trips.append(Trip(RiskRule.AMOUNT_SPIKE, spike.action, None, None,
                                  {"amount": str(event.amount), "median": str(usual), "factor": str(spike.factor),
                                   "orders": str(len(previous))}, event.order_id))
    return trips


def _refund_trip(step: Step, event: OrderRefunded) -> Trip | None:
    rule = step.rules.risk.spending.refund_after_spend
    spending = step.state.spending
    if rule is None or not spending:
        return None
    at = event.occurred_at
    spent = [t for t in spending.spent_at if timedelta(0) <= at - t <= rule.within]
    if not spent:
        return None
    return Trip(RiskRule.REFUND_AFTER_SPEND, rule.action, None, rule.within,
                {"spent_at": spent[-1].isoformat(), "refund": str(event.amount)}, event.order_id)


def _burst_trip(step: Step) -> Trip | None:
    rule = step.rules.risk.spending.redemption_burst
    if rule is None:
        return None
    redemptions = history(step.state).redemptions
    at = step.occurred_at
    redemptions.append(at)
    redemptions.sort()
    del redemptions[:max(0, len(redemptions) - rule.max_redemptions - 1)]
    within = sum(1 for t in redemptions if at - rule.window < t <= at)
    if within <= rule.max_redemptions:
        return None
    return Trip(RiskRule.REDEMPTION_BURST, rule.action, rule.max_redemptions, rule.window,
                {"redemptions": str(within), "max_redemptions": str(rule.max_redemptions)})


def _act(step: Step, trip: Trip) -> None:
    state = step.state
    spending = history(state)
    flag_id = trip.flag_id(step)
    step.emit(Topic.RISK_FLAGS, RiskFlag(
        flag_id=flag_id, rule=trip.rule, action=ACTIONS[trip.action], members=[state.member_id],
        limit=trip.limit, window=trip.window, order_id=trip.order_id, evidence=trip.evidence, **step._common()))
    spending.flags[flag_id] = OpenFlag(rule=trip.rule.value, action=trip.action.value, at=step.occurred_at,
                                       order_id=trip.order_id)
    _forget_flags(spending.flags)
    if trip.action is SpendingAction.LOCK and state.status is MemberStatus.ACTIVE:
        why = f"abnormal spending: {trip.rule.value} (an operator's unlock is the appeal)"
        set_status(step, MemberStatus.LOCKED, why)
        step.notify(NotificationKind.ACCOUNT_STATUS, f"account locked: {why}", ordinal=trip.rule.value,
                    status=MemberStatus.LOCKED.value, previous=MemberStatus.ACTIVE.value, rule=trip.rule.value,
                    flag_id=flag_id)


def _forget_flags(flags: dict[str, OpenFlag]) -> None:
    over = len(flags) - KEEP_FLAGS
    if over <= 0:
        return
    for flag_id in [f for f, flag in flags.items() if flag.action != SpendingAction.HOLD.value][:over]:
        del flags[flag_id]


DONE = {"release": "released", "confirm": "confirmed", "dismiss": "dismissed"}


def apply_decision(step: Step, command: RiskDecision) -> None:
    """An operator's release, confirmation or dismissal of an open flag."""
    state = step.state
    spending = state.spending
    flag = spending.flags.get(command.flag_id) if spending else None
    decision = command.type.removeprefix("risk_")
    if flag is None:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"no open risk flag {command.flag_id}")
    holds = flag.action == SpendingAction.HOLD.value
    if decision == "release" and not holds:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"flag {command.flag_id} holds nothing to release")
    if decision == "dismiss" and holds:
        raise Reject(DeadLetterReason.INVALID_COMMAND, f"flag {command.flag_id} holds points: release or confirm")
    del spending.flags[command.flag_id]
    signed = {"operator": command.actor, "approver": command.approver, "reason": command.reason}
    points = 0
    if decision == "release":
        points = release(step, command.flag_id, "risk_release", **signed)
    elif decision == "confirm" and holds:
        points = cancel(step, command.flag_id, "risk_confirm", **signed)
    step.notify(NotificationKind.RISK_DECISION, f"risk flag {command.flag_id} ({flag.rule}) {DONE[decision]}, "
                f"{points} points: {command.reason}", decision=decision, flag_id=command.flag_id, rule=flag.rule,
                action=flag.action, points=points, **signed)
