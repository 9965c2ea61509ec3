"""Held points: lots kept pending, whatever their ``pending_until`` said, until released.

A lot is held by an abnormal spending flag (``engine.spending``: the order that tripped a
``hold`` rule, and what the member earns while such a flag is open) or by the account's status
(what a locked or frozen member earns).  A held lot's ``pending_until`` is :data:`HELD`, so the
wallet's spendable points leave it out and only clawbacks and penalties (which take pending
points) touch it; the state remembers what it was, and a release puts it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.step import Step
from engine.wallet import held
from models.outputs import LedgerKind
from models.state import HeldLot, MemberState, MemberStatus, PointLot, SpendingHistory

#: a held lot's ``pending_until``: never reached
HELD = datetime(9999, 12, 31, tzinfo=UTC)
#: the hold key of lots earned while the account is locked or frozen
STATUS = "status"


def history(state: MemberState) -> SpendingHistory:
    """The member's spending history, created on first use."""
    spending = state.spending
    if not isinstance(spending, SpendingHistory):
        spending = state.spending = SpendingHistory()
    return spending


def open_hold(state: MemberState) -> str | None:
    """The key new earnings are held under: ``status`` while locked or frozen, else the latest open
    ``hold`` flag, else None."""
    if state.status is not MemberStatus.ACTIVE:
        return STATUS
    spending = state.spending
    if not isinstance(spending, SpendingHistory):
        return None
    for flag_id in reversed(spending.flags):
        if spending.flags[flag_id].action == "hold":
            return flag_id
    return None


def hold_lot(state: MemberState, lot: PointLot, key: str) -> None:
    history(state).held[lot.lot_id] = HeldLot(key=key, pending_until=lot.pending_until)
    lot.pending_until = HELD


def _held_lots(state: MemberState, key: str) -> list[tuple[PointLot, HeldLot]]:
    spending = state.spending
    if not isinstance(spending, SpendingHistory) or not spending.held:
        return []
    out = []
    for lot in state.lots:
        why = spending.held.get(lot.lot_id)
        if why is not None and why.key == key:
            out.append((lot, why))
    # lots taken away entirely (clawed back, penalised) are forgotten
    live = {lot.lot_id for lot in state.lots}
    for lot_id in [lot_id for lot_id, why in spending.held.items() if why.key == key and lot_id not in live]:
        del spending.held[lot_id]
    return out


def release(step: Step, key: str, rule: str, **signed: object) -> int:
    """The lots held under ``key`` become what they were (spendable, or pending until their own date);
    one ledger entry (delta 0) per lot; returns the points released."""
    state = step.state
    released = 0
    for seq, (lot, why) in enumerate(_held_lots(state, key)):
        lot.pending_until = why.pending_until
        del history(state).held[lot.lot_id]
        released += lot.amount
        step.ledger(LedgerKind.ADJUSTMENT, rule, 0, held(state), order_id=lot.order_id, seq=seq,
                    pending_until=lot.pending_until, expires_at=lot.expires_at, **signed)
    return released


def cancel(step: Step, key: str, rule: str, **signed: object) -> int:
    """The lots held under ``key`` are taken away, one ledger entry each; returns the points cancelled."""
    state = step.state
    cancelled = 0
    for seq, (lot, _why) in enumerate(_held_lots(state, key)):
        del history(state).held[lot.lot_id]
        state.lots = [kept for kept in state.lots if kept is not lot]
        cancelled += lot.amount
        step.ledger(LedgerKind.ADJUSTMENT, rule, -lot.amount, held(state), order_id=lot.order_id, seq=seq,
                    **signed)
    return cancelled


def risk_summary(state: MemberState) -> dict[str, Any]:
    """The member view's ``risk``: the abnormal spending flags awaiting an operator, and the points held
    by them (``held_for_review``) and by a locked or frozen status (``held_by_status``)."""
    spending = state.spending
    if not isinstance(spending, SpendingHistory):
        return {"open_flags": [], "held_for_review": 0, "held_by_status": 0}
    by_key = {STATUS: 0, "": 0}
    for lot in state.lots:
        why = spending.held.get(lot.lot_id)
        if why is not None:
            key = STATUS if why.key == STATUS else ""
            by_key[key] += lot.amount
    return {
        "open_flags": [{"flag_id": flag_id, "rule": flag.rule, "action": flag.action, "at": flag.at.isoformat(),
                        "order_id": flag.order_id} for flag_id, flag in spending.flags.items()],
        "held_for_review": by_key[""],
        "held_by_status": by_key[STATUS],
    }
