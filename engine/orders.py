"""Orders: earning on payment, exact proportional clawback on refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from config.rules import ClawbackPolicy
from engine.earning import TOTAL_COUNTER, order_points
from engine.growth import order_growth
from engine.holds import hold_lot, open_hold
from engine.step import Step
from engine.tiers import upgrade_if_qualified
from engine.wallet import add_lot, expires_at, held, take
from engine.windows import add_points, add_spend
from models.events import OrderPaid, OrderRefunded
from models.outputs import LedgerKind, NotificationKind
from models.state import OrderRecord, PointLot

EARN_PREFIX = "pts:"


def earned_today(step: Step) -> dict[str, int]:
    bucket = step.state.counters.get(step.day, {})
    return {k[len(EARN_PREFIX):]: v for k, v in bucket.items() if k.startswith(EARN_PREFIX)}


def record_earning(step: Step, lines: list, order_id: str | None, pending_days: int) -> int:
    """Ledger entries (one per rule) and one lot for what an event earned."""
    total = sum(line.points for line in lines)
    if total <= 0:
        return 0
    state, rules = step.state, step.rules
    lot = PointLot(
        lot_id=step._id("lot", order_id or ""),
        amount=total,
        earned_at=step.occurred_at,
        expires_at=expires_at(step.occurred_at, rules),
        pending_until=step.occurred_at + timedelta(days=pending_days) if pending_days else None,
        order_id=order_id,
    )
    add_lot(state, lot)
    if lot.amount > 0:  # not all of it went to pay a debt
        key = step.hold or open_hold(state)  # a spending hold, or a locked or frozen account (engine/holds.py)
        if key is not None:
            hold_lot(state, lot, key)
    balance = held(state) - total
    for line in lines:
        balance += line.points
        step.ledger(
            LedgerKind.EARN,
            line.rule,
            line.points,
            balance,
            order_id=order_id,
            pending_until=lot.pending_until,
            expires_at=lot.expires_at,
        )
        step.bump(EARN_PREFIX + line.rule, line.points)
    step.bump(EARN_PREFIX + TOTAL_COUNTER, total)
    state.lifetime_earned += total
    add_points(state, step.day, total)
    return total


def apply_order_paid(step: Step, event: OrderPaid) -> None:
    state, rules = step.state, step.rules
    lines = order_points(
        event,
        tier=state.tier,
        local_time=step.local_time,
        rules=rules.points.earning,
        earned_today=earned_today(step),
    )
    points = record_earning(step, lines, event.order_id, rules.points.pending_days)
    growth = order_growth(event.amount, rules.growth)
    state.growth += growth
    add_spend(state, step.day, event.amount)
    state.orders.pop(event.order_id, None)  # an aged-out record of the same id: the new one goes last
    state.orders[event.order_id] = OrderRecord(
        paid_at=event.occurred_at, day=step.day, amount=event.amount, points=points, growth=growth
    )
    upgrade_if_qualified(step)


def _proportional(total: int, refunded: Decimal, amount: Decimal) -> int:
    if amount <= 0:
        return total
    return int((Decimal(total) * refunded / amount).to_integral_value(rounding=ROUND_FLOOR))


def apply_order_refunded(step: Step, event: OrderRefunded, record: OrderRecord) -> None:
    """Claw back what the order earned, in proportion to the money refunded.

    Cumulative: after refunds totalling R of an order of A, exactly
    floor(points * R / A) have been clawed (all of it once fully refunded).
    """
    state, rules = step.state, step.rules
    refund = min(event.amount, record.amount - record.refunded)
    record.refunded += refund
    step.refunded = refund
    full = record.refunded >= record.amount
    points_due = (record.points if full else _proportional(record.points, record.refunded, record.amount))
    growth_due = (record.growth if full else _proportional(record.growth, record.refunded, record.amount))
    claw = points_due - record.points_clawed
    growth_claw = min(growth_due - record.growth_clawed, state.growth)
    record.points_clawed = points_due
    record.growth_clawed += growth_claw
    state.growth -= growth_claw
    add_spend(state, record.day, -refund)
    if claw <= 0:
        return
    add_points(state, record.day, -claw)
    taken = take(state, claw, event.occurred_at, order_id=event.order_id, include_pending=True)
    short = claw - taken
    delta = -taken
    if short and rules.points.clawback is ClawbackPolicy.NEGATIVE_BALANCE:
        state.debt += short
        delta = -claw
    elif short:
        state.shortfall += short
        step.notify(
            NotificationKind.CLAWBACK_SHORTFALL,
            f"{short} points of refunded order {event.order_id} were already spent",
            order_id=event.order_id,
            shortfall=short,
        )
    if delta:
        step.ledger(LedgerKind.ADJUSTMENT, "refund_clawback", delta, held(state), order_id=event.order_id)
