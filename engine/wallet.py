"""Points held as lots: earning, taking (soonest-expiring first), debt.

``held`` is what the ledger's ``balance`` reports: every point in a lot, pending
or not, minus debt.  ``spendable`` leaves out pending and expired lots.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dtime

from config.rules import ExpiryMode, TenantRules
from engine.clock import add_months, local_day
from models.fields import fixed_offset
from models.state import MemberState, PointLot


def held(state: MemberState) -> int:
    return sum(lot.amount for lot in state.lots) - state.debt


def _usable(lot: PointLot, as_of: datetime) -> bool:
    if lot.pending_until is not None and lot.pending_until > as_of:
        return False
    return lot.expires_at is None or lot.expires_at > as_of


def spendable(state: MemberState, as_of: datetime) -> int:
    return max(0, sum(lot.amount for lot in state.lots if _usable(lot, as_of)) - state.debt)


def pending(state: MemberState, as_of: datetime) -> int:
    return sum(lot.amount for lot in state.lots if lot.pending_until is not None and lot.pending_until > as_of)


def expires_at(earned_at: datetime, rules: TenantRules) -> datetime | None:
    """When points earned at ``earned_at`` expire: local midnight starting the day after the term."""
    policy = rules.points.expiry
    tz = rules.tz
    day = local_day(earned_at, tz)
    if policy.mode is ExpiryMode.NEVER:
        return None
    if policy.mode is ExpiryMode.MONTHS_AFTER_EARNING:
        last = add_months(day, policy.months)
    else:
        last = day.replace(year=day.year + 1, month=12, day=31)
    return fixed_offset(datetime.combine(last + timedelta(days=1), dtime(0), tzinfo=tz))


def _expiry_order(lot: PointLot) -> tuple[bool, datetime, datetime]:
    return (lot.expires_at is None, lot.expires_at or lot.earned_at, lot.earned_at)


def add_lot(state: MemberState, lot: PointLot) -> None:
    """Add earned points; any debt is paid off first."""
    if state.debt:
        paid = min(state.debt, lot.amount)
        state.debt -= paid
        lot.amount -= paid
    if lot.amount > 0:
        state.lots.append(lot)


def take(
    state: MemberState,
    points: int,
    as_of: datetime,
    *,
    order_id: str | None = None,
    include_pending: bool = False,
    include_expired: bool = False,
) -> int:
    """Remove up to ``points`` from lots; returns how many were taken.

    Lots of ``order_id`` go first (a clawback takes back that order's own
    points), then the soonest-expiring.  Pending/expired lots only when asked.
    """
    if points <= 0:
        return 0

    def eligible(lot: PointLot) -> bool:
        if lot.order_id == order_id and order_id is not None:
            return True
        if not include_pending and lot.pending_until is not None and lot.pending_until > as_of:
            return False
        if not include_expired and lot.expires_at is not None and lot.expires_at <= as_of:
            return False
        return True

    candidates = sorted(
        (lot for lot in state.lots if eligible(lot)),
        key=lambda lot: (order_id is None or lot.order_id != order_id, *_expiry_order(lot)),
    )
    # Debt is owed against held points, so only points above it can be taken.
    available = sum(lot.amount for lot in candidates) - state.debt
    remaining = min(points, max(0, available))
    taken = 0
    for lot in candidates:
        if remaining == 0:
            break
        bite = min(lot.amount, remaining)
        lot.amount -= bite
        remaining -= bite
        taken += bite
    if taken:
        state.lots = [lot for lot in state.lots if lot.amount > 0]
    return taken
