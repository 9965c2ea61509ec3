"""Points for coupons (seed 001 §6(1)) and the reminders before they expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.rules import TenantRules
from engine.benefit_instances import instances
from engine.clock import months_later
from engine.due_moments import LookAhead
from engine.redemptions.common import (
    answer,
    can_afford,
    notify_once,
    reject,
    spending_blocked,
    take_pieces,
)
from engine.step import Step
from engine.wallet import held
from models.outputs import LedgerKind, NotificationKind
from models.redemption_state import IssuedCoupon
from models.redemptions import CouponRequest, CouponsIssued, RejectReason

BENEFIT = "points_coupon"


def apply_coupon(step: Step, request: CouponRequest) -> None:
    rules = step.rules.redemptions.coupons
    if request.denomination not in rules.denominations:
        allowed = ", ".join(str(d) for d in rules.denominations)
        return reject(step, request, RejectReason.INVALID_DENOMINATION, f"{request.denomination} not in {allowed}")
    if request.quantity > rules.max_quantity:
        return reject(step, request, RejectReason.OVER_ORDER_CAP, f"at most {rules.max_quantity} coupons a request")
    if spending_blocked(step, request):
        return None
    each = int(request.denomination * rules.points_per_yuan)
    cost = each * request.quantity
    if not can_afford(step, request, cost):
        return None
    state = step.state
    take_pieces(state, cost, step.occurred_at)
    step.ledger(LedgerKind.SPEND, "coupon", -cost, held(state))
    valid_until = months_later(step.occurred_at, rules.valid_months, step.rules.tz)
    coupon = IssuedCoupon(
        coupon_id=step._id("cp", "coupon"),
        request_id=request.request_id,
        denomination=request.denomination,
        quantity=request.quantity,
        valid_from=step.occurred_at,
        valid_until=valid_until,
    )
    coupon.grant_id = step.grant(
        BENEFIT,
        value=request.denomination,
        quantity=request.quantity,
        valid_from=coupon.valid_from,
        valid_until=valid_until,
        details={"coupon_id": coupon.coupon_id, "request_id": request.request_id, "points_each": each},
    )
    _keep(step, coupon)
    answer(
        step,
        request,
        spent=cost,
        granted=CouponsIssued(
            kind="coupon",
            coupon_id=coupon.coupon_id,
            denomination=request.denomination,
            quantity=request.quantity,
            points_each=each,
            valid_from=coupon.valid_from,
            valid_until=valid_until,
        ),
    )
    return None


def _keep(step: Step, coupon: IssuedCoupon) -> None:
    coupons = [c for c in step.state.redemption.coupons if c.valid_until > step.occurred_at]
    coupons.append(coupon)
    overflow = len(coupons) - step.rules.redemptions.coupons.keep_issued
    step.state.redemption.coupons = coupons[max(0, overflow):]


def first_reminder(coupon: IssuedCoupon, rules: TenantRules) -> datetime:
    return months_later(coupon.valid_until, -rules.redemptions.coupons.remind_months_before, rules.tz)


def coupon_reminders(step: Step, as_of: datetime) -> bool:
    """Remind of coupons expiring soon: first ``remind_months_before`` months
    before expiry, then every ``remind_every_days`` until it.  Called by the
    periodic evaluation; a run that finds the current reminder already sent
    does nothing, and after a gap only the latest due reminder goes out.
    Coupons past their expiry are forgotten, and coupons reported used or voided
    (their benefit instance settled) get no more reminders.  Returns whether the state changed.
    """
    rules = step.rules.redemptions.coupons
    every = timedelta(days=rules.remind_every_days)
    kept = []
    changed = False
    for coupon in step.state.redemption.coupons:
        if coupon.valid_until <= as_of:
            changed = True
            continue
        kept.append(coupon)
        if rules.remind_months_before == 0 or _settled(step, coupon):
            continue
        first = first_reminder(coupon, step.rules)
        if as_of < first:
            continue
        ordinal = (as_of - first) // every
        if ordinal < coupon.reminders_sent:
            continue
        coupon.reminders_sent = ordinal + 1
        changed = True
        notify_once(
            step,
            NotificationKind.COUPON_EXPIRY_REMINDER,
            f"{coupon.quantity} x {coupon.denomination} coupon(s) expire {coupon.valid_until.date()}, please use them",
            coupon.coupon_id,
            ordinal,
            coupon_id=coupon.coupon_id,
            denomination=str(coupon.denomination),
            quantity=coupon.quantity,
            valid_until=coupon.valid_until.isoformat(),
            reminder=ordinal,
        )
    if changed:
        step.state.redemption.coupons = kept
    return changed


def _settled(step: Step, coupon: IssuedCoupon) -> bool:
    """Reported used or voided: its instance is settled, or settled so long ago that it was forgotten."""
    if not coupon.grant_id:
        return False  # issued before benefit instances were kept
    inst = instances(step.state).get(coupon.grant_id)
    return inst is None or inst.settled


def reminders_due(ahead: LookAhead) -> datetime | None:
    """The earliest first reminder or expiry of a redeemed coupon."""
    rules = ahead.rules
    reminding = rules.redemptions.coupons.remind_months_before > 0
    due = None
    for coupon in ahead.state.redemption.coupons:
        moment = min(coupon.valid_until, first_reminder(coupon, rules)) if reminding else coupon.valid_until
        due = moment if due is None else min(due, moment)
    return due
