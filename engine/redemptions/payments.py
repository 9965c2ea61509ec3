"""Points + cash (seed 001 §6(3)): pay part of an order with points.

The rate goes by **item** unit price (the bands of ``points_cash``: goods up to
2,000 yuan at 10 points a yuan, dearer ones at 15), not by the order's total:
three 800 yuan items pay at 1:10.  Points pay for the goods of the cheapest
rate first, so they go as far as they can; a request without items is priced
as one item of its amount.

Money is counted in cents and points in whole points.  The points' value is
rounded down to the cent and the points needed for a sum rounded up (per band),
so the member never gets more money out of points than the rate allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from config.redemptions import PointsCashRules
from engine.redemptions.common import answer, reject, restore, spending_blocked, take_pieces
from engine.step import Step
from engine.wallet import held, spendable
from models.outputs import LedgerKind
from models.redemption_state import Settlement
from models.redemptions import (
    PaymentCancelled,
    PaymentMode,
    PaymentPart,
    PaymentSettled,
    PointsCashCancel,
    PointsCashRequest,
    RejectReason,
)

CENTS = Decimal(100)


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    points_per_yuan: int  # the lowest rate points paid at (the only one, mostly)
    points: int
    points_value: Decimal
    cash_amount: Decimal
    parts: tuple[PaymentPart, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RejectReason
    detail: str


def _cents(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value(rounding=ROUND_FLOOR))


def _by_rate(lines: Sequence[tuple[Decimal, int]], rules: PointsCashRules) -> list[tuple[int, int]]:
    """(rate, cents of the goods at that rate) for ``(unit price, quantity)`` lines, lowest rate first."""
    cents: dict[int, int] = {}
    for price, quantity in lines:
        rate = rules.rate_for(price)
        cents[rate] = cents.get(rate, 0) + _cents(price * quantity)
    return sorted(cents.items())


def _points_for(cents: int, rate: int) -> int:
    return -(-cents * rate // 100)  # rounded up


def plan_payment(
    amount: Decimal, mode: PaymentMode, cash_limit: Decimal | None, available: int, rules: PointsCashRules,
    lines: Sequence[tuple[Decimal, int]] = (),
) -> PaymentPlan | Refusal:
    """How an order of ``amount`` -- the goods ``lines`` of (unit price, quantity), or one item of
    ``amount`` -- splits into points and cash, or why it cannot."""
    bands = _by_rate(lines or [(amount, 1)], rules)
    lowest = bands[0][0]
    total = _cents(amount)
    cap = int((Decimal(total) * rules.max_points_share).to_integral_value(rounding=ROUND_FLOOR))
    covered: list[tuple[int, int]] = []  # (rate, cents) points pay, lowest rate first
    if mode is PaymentMode.POINTS_FIRST:
        if cap <= 0:
            return Refusal(RejectReason.OVER_ORDER_CAP, f"points may pay {rules.max_points_share} of {amount}: nothing")
        if available < rules.min_balance:
            return Refusal(RejectReason.BELOW_MINIMUM, f"{available} spendable < minimum {rules.min_balance}")
        room, points_left = cap, available
        for rate, cents in bands:
            part = min(cents, room, points_left * 100 // rate)
            if part > 0:
                covered.append((rate, part))
                room, points_left = room - part, points_left - _points_for(part, rate)
        if not covered:
            return Refusal(RejectReason.INSUFFICIENT_POINTS, f"{available} spendable points pay nothing at 1:{lowest}")
    else:
        want = total - min(_cents(cash_limit or Decimal(0)), total)
        if want > cap:
            return Refusal(
                RejectReason.OVER_ORDER_CAP,
                f"points would pay {Decimal(want) / CENTS}, over {rules.max_points_share} of {amount}",
            )
        if want and available < rules.min_balance:
            return Refusal(RejectReason.BELOW_MINIMUM, f"{available} spendable < minimum {rules.min_balance}")
        for rate, cents in bands:
            part = min(cents, want)
            if part > 0:
                covered.append((rate, part))
                want -= part
    parts = tuple(PaymentPart(points_per_yuan=rate, value=(Decimal(cents) / CENTS).quantize(Decimal("0.01")),
                              points=_points_for(cents, rate)) for rate, cents in covered)
    points = sum(p.points for p in parts)
    if points > available:
        return Refusal(RejectReason.INSUFFICIENT_POINTS, f"needs {points} points, {available} spendable")
    value = sum((p.value for p in parts), Decimal("0.00"))
    return PaymentPlan(parts[0].points_per_yuan if parts else lowest, points, value, amount - value, parts)


def apply_points_cash(step: Step, request: PointsCashRequest) -> None:
    state = step.state
    memory = state.redemption
    settled = next(
        (rid for rid, s in memory.settlements.items() if s.order_id == request.order_id and s.cancelled_by is None),
        None,
    )
    if settled is not None:
        return reject(step, request, RejectReason.ALREADY_SETTLED, f"order {request.order_id} paid by {settled}")
    if spending_blocked(step, request):
        return None
    rules = step.rules.redemptions.points_cash
    plan = plan_payment(
        request.order_amount, request.mode, request.cash_limit, spendable(state, step.occurred_at), rules,
        [(item.unit_price, item.quantity) for item in request.items],
    )
    if isinstance(plan, Refusal):
        return reject(step, request, plan.reason, plan.detail)
    granted = PaymentSettled(
        kind="points_cash",
        order_id=request.order_id,
        order_amount=request.order_amount,
        mode=request.mode,
        points_per_yuan=plan.points_per_yuan,
        parts=list(plan.parts),
        points_value=plan.points_value,
        cash_amount=plan.cash_amount,
        quote_only=request.quote_only,
    )
    if request.quote_only:
        answer(step, request, granted=granted)
        return None
    pieces = take_pieces(state, plan.points, step.occurred_at) if plan.points else []
    if plan.points:
        step.ledger(LedgerKind.SPEND, "points_cash", -plan.points, held(state), order_id=request.order_id)
    memory.settlements[request.request_id] = Settlement(
        order_id=request.order_id, points=plan.points, pieces=pieces, settled_at=step.occurred_at
    )
    overflow = len(memory.settlements) - rules.keep_settlements
    for rid in list(memory.settlements)[: max(0, overflow)]:
        del memory.settlements[rid]
    answer(step, request, spent=plan.points, granted=granted)
    return None


def apply_points_cash_cancel(step: Step, request: PointsCashCancel) -> None:
    """Give a settled payment's points back, with their original expiry; only once."""
    settlement = step.state.redemption.settlements.get(request.original_request_id)
    if settlement is None:
        return reject(step, request, RejectReason.UNKNOWN_REQUEST, f"no settled payment {request.original_request_id}")
    if settlement.cancelled_by is not None:
        return reject(step, request, RejectReason.ALREADY_CANCELLED, f"cancelled by {settlement.cancelled_by}")
    returned = restore(step, settlement.pieces, request.original_request_id)
    settlement.cancelled_by = request.request_id
    if returned:
        step.ledger(
            LedgerKind.ADJUSTMENT, "points_cash_cancel", returned, held(step.state), order_id=settlement.order_id
        )
    answer(
        step,
        request,
        returned=returned,
        granted=PaymentCancelled(
            kind="points_cash_cancel", original_request_id=request.original_request_id, order_id=settlement.order_id
        ),
    )
    return None
