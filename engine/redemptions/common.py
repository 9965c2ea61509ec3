"""What every redemption shares: answers, remembered for retries; account
checks; taking points as pieces that keep their expiry, and giving them back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from msgspec import Raw

from config.topics import Topic
from engine.ids import derive_id
from engine.outcome import Emitted
from engine.step import Step
from engine.wallet import add_lot, held, spendable, take
from models.commands import MemberCommandBase, PointsPiece
from models.json_twins import output_json
from models.outputs import Notification, NotificationKind
from models.redemption_state import Piece
from models.redemptions import Granted, RedemptionResult, RedemptionStatus, RejectReason
from models.state import MemberState, MemberStatus, PointLot

BLOCKED = {MemberStatus.LOCKED: RejectReason.ACCOUNT_LOCKED, MemberStatus.FROZEN: RejectReason.ACCOUNT_FROZEN}


def result_id(state: MemberState, request_id: str) -> str:
    return derive_id("rr", state.tenant_id, state.member_id, request_id)


def answer(
    step: Step,
    request: Any,
    *,
    reason: RejectReason | None = None,
    detail: str = "",
    spent: int = 0,
    returned: int = 0,
    granted: Granted | None = None,
) -> RedemptionResult:
    """Emit the answer to ``request`` and remember it for retries (bounded)."""
    state = step.state
    result = RedemptionResult(
        result_id=result_id(state, request.request_id),
        request_id=request.request_id,
        kind=request.kind,
        status=RedemptionStatus.REJECTED if reason else RedemptionStatus.ACCEPTED,
        reason=reason,
        detail=detail,
        points_spent=spent,
        points_returned=returned,
        granted=granted,
        balance_after=held(state),
        spendable_after=spendable(state, step.occurred_at),
        tenant_id=state.tenant_id,
        member_id=state.member_id,
        occurred_at=step.occurred_at,
        cause_event_id=request.request_id,
        rules_version=step.rules.version,
    )
    results = state.redemption.results
    results.append(Raw(output_json(result)))
    overflow = len(results) - answers_kept(step)
    if overflow > 0:
        del results[:overflow]
    step.emit(Topic.REDEMPTION_RESULTS, result)
    return result


def answers_kept(step: Step) -> int:
    """At least as many answers as the engine remembers event ids: a request it
    still knows as a duplicate always finds its answer."""
    return max(step.rules.redemptions.recent_results, step.rules.retention.recent_event_ids)


def reject(step: Step, request: Any, reason: RejectReason, detail: str) -> None:
    answer(step, request, reason=reason, detail=detail)


def prior_result(state: MemberState, request_id: str) -> RedemptionResult | None:
    """The answer remembered for ``request_id``, if any.  Answers are kept as
    their JSON; only one that names the request is decoded."""
    needle = b'"request_id":' + msgspec.json.encode(request_id)
    for stored in reversed(state.redemption.results):
        raw = bytes(stored)
        if needle in raw:
            result = RedemptionResult.model_validate_json(raw)
            if result.request_id == request_id:
                return result
    return None


def repeat_answer(state: MemberState, request: Any) -> list[Emitted]:
    """The first answer again, for a retried request (nothing is spent)."""
    prior = prior_result(state, request.request_id)
    return [Emitted(Topic.REDEMPTION_RESULTS, state.member_id, prior)] if prior is not None else []


def spending_blocked(step: Step, request: Any) -> bool:
    """Locked or frozen accounts cannot spend: answer so and return True."""
    reason = BLOCKED.get(step.state.status)
    if reason is None:
        return False
    reject(step, request, reason, f"the account is {step.state.status.value}")
    return True


def can_afford(step: Step, request: Any, points: int) -> bool:
    """Enough spendable points (pending and expired lots do not count)?  Answer if not."""
    available = spendable(step.state, step.occurred_at)
    if available >= points:
        return True
    reject(step, request, RejectReason.INSUFFICIENT_POINTS, f"needs {points} points, {available} spendable")
    return False


def take_pieces(state: MemberState, points: int, as_of: datetime) -> list[Piece]:
    """Take ``points`` soonest-expiring first (never pending or expired ones);
    returns what was taken grouped by expiry, so it can be given back as it was."""
    before = [(lot, lot.amount) for lot in state.lots]
    taken = take(state, points, as_of)
    if taken != points:  # callers check spendable first; this is a broken invariant
        raise AssertionError(f"took {taken} of {points} points")
    pieces: dict[datetime | None, Piece] = {}
    for lot, amount in before:
        bite = amount - lot.amount
        if bite <= 0:
            continue
        piece = pieces.get(lot.expires_at)
        if piece is None:
            pieces[lot.expires_at] = Piece(amount=bite, expires_at=lot.expires_at, earned_at=lot.earned_at)
        else:
            piece.amount += bite
            piece.earned_at = min(piece.earned_at, lot.earned_at)
    return list(pieces.values())


def restore(step: Step, pieces: Sequence[Piece | PointsPiece], tag: str, earned_at: datetime | None = None) -> int:
    """Put pieces back as lots with their own expiry (debt is paid off first)."""
    total = 0
    for i, piece in enumerate(pieces):
        lot = PointLot(
            lot_id=step._id("lot", tag, i),
            amount=piece.amount,
            earned_at=earned_at or piece.earned_at,
            expires_at=piece.expires_at,
        )
        add_lot(step.state, lot)
        total += piece.amount
    return total


def send_command(step: Step, command: MemberCommandBase) -> None:
    """A hand-off to another member, on their partition (keyed by their id)."""
    step.outputs.append(Emitted(Topic.MEMBER_COMMANDS, command.member_id, command))


def command_id(tenant_id: str, target: str, gift_id: str, kind: str) -> str:
    """One id per (gift, kind, target), whatever caused it: a re-send is a duplicate."""
    return derive_id("mc", tenant_id, target, gift_id, kind)


def notify_once(step: Step, kind: NotificationKind, message: str, *key: object, **data: Any) -> None:
    """A notification whose id depends on ``key`` only, not on the cause."""
    state = step.state
    step.emit(
        Topic.NOTIFICATIONS,
        Notification(
            notification_id=derive_id("nt", state.tenant_id, state.member_id, kind.value, *key),
            kind=kind,
            message=message,
            data=data,
            tenant_id=state.tenant_id,
            member_id=state.member_id,
            occurred_at=step.occurred_at,
            cause_event_id=step.cause_id,
            rules_version=step.rules.version,
        ),
    )
