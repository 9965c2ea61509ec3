"""Risk penalties on a member: points taken and, per the rule's lock policy, a lock.

The lock is the one a malicious complaint sets (``engine.behaviour.apply_complaint``):
the status becomes ``locked``, remembering why and since when (``engine.account_status``),
and an ``account_status`` notification says why.
"""

from __future__ import annotations

from typing import Any

from config.risk import LockPolicy, Penalty
from engine.account_status import set_status
from engine.step import Step
from engine.wallet import held, take
from models.outputs import LedgerKind, NotificationKind
from models.state import MemberStatus


def penalise(step: Step, penalty: Penalty, rule: str, why: str, **data: Any) -> None:
    """Take ``penalty.deduct`` points (as many as the member holds, pending ones included) under
    the ledger rule ``risk:<rule>``, then lock as ``penalty.lock`` says."""
    state = step.state
    taken = take(state, penalty.deduct, step.occurred_at, include_pending=True) if penalty.deduct > 0 else 0
    if taken:
        step.ledger(LedgerKind.ADJUSTMENT, f"risk:{rule}", -taken, held(state))
    uncovered = taken < penalty.deduct
    lock = penalty.lock is LockPolicy.ALWAYS or (penalty.lock is LockPolicy.IF_UNCOVERED and uncovered)
    if lock and state.status is MemberStatus.ACTIVE:
        set_status(step, MemberStatus.LOCKED, f"{why} (an operator's unlock is the appeal)")
        step.notify(
            NotificationKind.ACCOUNT_STATUS,
            f"account locked: {why}",
            status=MemberStatus.LOCKED.value,
            rule=rule,
            shortfall=penalty.deduct - taken,
            **data,
        )
