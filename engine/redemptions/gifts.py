"""Gifting points between members (seed 001 §6(1) bonus points).

Sender A and receiver B live on different partitions, maybe different
workers, so every hand-off is a member command (models/commands.py) keyed
by the target, with an id that depends only on (gift, kind, target).

Balance semantics: giving *holds* the points -- they leave A's lots at once
(ledger ``spend``/``gift_hold``) and wait in the gift, so A can neither spend
them nor lose them to a penalty meanwhile; A's balance no longer counts them.
If B accepts, the hold is final and the points go to B (B's ledger
``earn``/``gift``) keeping their expiry dates; if B rejects or nobody answers
within ``respond_days`` (event time), they go back to A's lots (ledger
``adjustment``/``gift_return``), again with their own expiry dates.

A locked or frozen receiver gets no gifts: B refuses an offer at once (``gift_rejected``,
why ``locked`` or ``frozen``) and cannot accept one it holds (it may still decline it).

A decides: an acceptance that reaches A after A expired the gift (A saw event
time past the deadline first) is answered ``gift_expired``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.due_moments import LookAhead
from engine.ids import derive_id
from engine.outcome import Reject
from engine.redemptions.common import (
    BLOCKED,
    answer,
    can_afford,
    command_id,
    notify_once,
    reject,
    restore,
    send_command,
    spending_blocked,
    take_pieces,
)
from engine.step import Step
from engine.wallet import held
from models.commands import GiftAccepted, GiftExpired, GiftOffered, GiftRejected, GiftTransfer, PointsPiece
from models.outputs import DeadLetterReason, LedgerKind, NotificationKind
from models.redemption_state import OPEN_GIFT, GiftStatus, ReceivedGift, SentGift
from models.redemptions import GiftAnswered, GiftHeld, GiftRequest, GiftRespond, RejectReason


def gift_id_for(tenant_id: str, member_id: str, request_id: str) -> str:
    return derive_id("gift", tenant_id, member_id, request_id)


def _common(step: Step, target: str, gift_id: str, kind: str) -> dict:
    tenant = step.state.tenant_id
    return {
        "command_id": command_id(tenant, target, gift_id, kind),
        "tenant_id": tenant,
        "member_id": target,
        "occurred_at": step.occurred_at,
        "type": kind,
        "gift_id": gift_id,
    }


def _trim_closed(gifts: dict, keep: int) -> None:
    closed = [gid for gid, gift in gifts.items() if gift.status not in OPEN_GIFT]
    for gid in closed[: max(0, len(closed) - keep)]:
        del gifts[gid]


# -- the sender ------------------------------------------------------------------


def apply_gift(step: Step, request: GiftRequest) -> None:
    rules = step.rules.redemptions.gifting
    state = step.state
    sent = state.redemption.gifts_sent
    if request.to_member_id == state.member_id:
        return reject(step, request, RejectReason.GIFT_TO_SELF, "a member cannot give points to themselves")
    if request.points < rules.min_points:
        return reject(step, request, RejectReason.BELOW_MINIMUM, f"gifts start at {rules.min_points} points")
    if rules.max_points is not None and request.points > rules.max_points:
        return reject(step, request, RejectReason.OVER_ORDER_CAP, f"at most {rules.max_points} points a gift")
    if sum(1 for g in sent.values() if g.status in OPEN_GIFT) >= rules.max_open_sent:
        return reject(step, request, RejectReason.TOO_MANY_OPEN_GIFTS, f"{rules.max_open_sent} gifts await answers")
    if spending_blocked(step, request) or not can_afford(step, request, request.points):
        return None
    gift_id = gift_id_for(state.tenant_id, state.member_id, request.request_id)
    pieces = take_pieces(state, request.points, step.occurred_at)
    step.ledger(LedgerKind.SPEND, "gift_hold", -request.points, held(state), seq=gift_id)
    respond_by = step.occurred_at + timedelta(days=rules.respond_days)
    sent[gift_id] = SentGift(
        to_member_id=request.to_member_id,
        points=request.points,
        pieces=pieces,
        offered_at=step.occurred_at,
        respond_by=respond_by,
    )
    send_command(
        step,
        GiftOffered(
            **_common(step, request.to_member_id, gift_id, "gift_offered"),
            from_member_id=state.member_id,
            points=request.points,
            respond_by=respond_by,
        ),
    )
    answer(
        step,
        request,
        spent=request.points,
        granted=GiftHeld(kind="gift", gift_id=gift_id, to_member_id=request.to_member_id, points=request.points,
                         respond_by=respond_by),
    )
    return None


def _give_back(step: Step, gift_id: str, gift: SentGift, status: GiftStatus) -> None:
    returned = restore(step, gift.pieces, gift_id)
    gift.pieces = []
    gift.status = status
    gift.closed_at = step.occurred_at
    step.ledger(LedgerKind.ADJUSTMENT, "gift_return", returned, held(step.state), seq=gift_id)
    notify_once(
        step,
        NotificationKind.GIFT_RETURNED,
        f"{returned} points you gave {gift.to_member_id} came back ({status.value})",
        gift_id,
        gift_id=gift_id,
        to_member_id=gift.to_member_id,
        points=returned,
        status=status.value,
    )


def _sent(step: Step, gift_id: str) -> SentGift:
    gift = step.state.redemption.gifts_sent.get(gift_id)
    if gift is None:
        raise Reject(DeadLetterReason.INVALID_EVENT, f"no gift {gift_id} sent by {step.state.member_id}")
    return gift


def on_gift_accepted(step: Step, command: GiftAccepted) -> None:
    """Finalize: the held points go to the receiver -- unless the offer is no
    longer open here (expired, or forgotten long after closing), in which case
    the receiver is told it is void, so an acceptance never stays hanging."""
    gift = step.state.redemption.gifts_sent.get(command.gift_id)
    expire_gifts(step, step.occurred_at)
    if gift is None:
        _void(step, command.gift_id, command.by_member_id)
        return
    if gift.status is GiftStatus.OFFERED:
        gift.status = GiftStatus.TRANSFERRED
        gift.closed_at = step.occurred_at
        pieces, gift.pieces = gift.pieces, []
        send_command(
            step,
            GiftTransfer(
                **_common(step, gift.to_member_id, command.gift_id, "gift_transfer"),
                from_member_id=step.state.member_id,
                points=gift.points,
                pieces=[PointsPiece(amount=p.amount, expires_at=p.expires_at, earned_at=p.earned_at) for p in pieces],
            ),
        )
    elif gift.status in (GiftStatus.EXPIRED, GiftStatus.REJECTED):
        _void(step, command.gift_id, gift.to_member_id)
    _trim_closed(step.state.redemption.gifts_sent, step.rules.redemptions.gifting.keep_closed)


def on_gift_rejected(step: Step, command: GiftRejected) -> None:
    gift = _sent(step, command.gift_id)
    expire_gifts(step, step.occurred_at)
    if gift.status is GiftStatus.OFFERED:
        status = GiftStatus.EXPIRED if command.why == "expired" else GiftStatus.REJECTED
        _give_back(step, command.gift_id, gift, status)
    _trim_closed(step.state.redemption.gifts_sent, step.rules.redemptions.gifting.keep_closed)


def _void(step: Step, gift_id: str, receiver: str) -> None:
    send_command(
        step, GiftExpired(**_common(step, receiver, gift_id, "gift_expired"), from_member_id=step.state.member_id)
    )


# -- the receiver ----------------------------------------------------------------


def on_gift_offered(step: Step, command: GiftOffered) -> None:
    received = step.state.redemption.gifts_received
    rules = step.rules.redemptions.gifting
    expire_gifts(step, step.occurred_at)
    if command.gift_id in received:
        return
    gift = ReceivedGift(
        from_member_id=command.from_member_id,
        points=command.points,
        offered_at=command.occurred_at,
        respond_by=command.respond_by,
    )
    received[command.gift_id] = gift
    if step.state.status in BLOCKED:  # a locked or frozen account receives no gifts
        _answer_sender(step, command.gift_id, gift, GiftStatus.REJECTED, step.state.status.value)
    elif sum(1 for g in received.values() if g.status in OPEN_GIFT) > rules.max_open_received:
        _answer_sender(step, command.gift_id, gift, GiftStatus.REJECTED, "inbox_full")
    else:
        notify_once(
            step,
            NotificationKind.GIFT_RECEIVED,
            f"{command.from_member_id} offers you {command.points} points; accept or reject by {command.respond_by}",
            command.gift_id,
            gift_id=command.gift_id,
            from_member_id=command.from_member_id,
            points=command.points,
            respond_by=command.respond_by.isoformat(),
        )
    _trim_closed(received, rules.keep_closed)


def _answer_sender(step: Step, gift_id: str, gift: ReceivedGift, status: GiftStatus, why: str) -> None:
    gift.status = status
    if status is GiftStatus.ACCEPTED:
        send_command(
            step, GiftAccepted(**_common(step, gift.from_member_id, gift_id, "gift_accepted"),
                               by_member_id=step.state.member_id)
        )
        return
    gift.closed_at = step.occurred_at
    send_command(
        step,
        GiftRejected(
            **_common(step, gift.from_member_id, gift_id, "gift_rejected"), by_member_id=step.state.member_id, why=why
        ),
    )


def apply_gift_respond(step: Step, request: GiftRespond) -> None:
    gift = step.state.redemption.gifts_received.get(request.gift_id)
    if gift is None:
        return reject(step, request, RejectReason.UNKNOWN_GIFT, f"no gift {request.gift_id} offered to this member")
    if gift.status is GiftStatus.EXPIRED:
        return reject(step, request, RejectReason.GIFT_EXPIRED, f"the offer lapsed at {gift.respond_by.isoformat()}")
    if gift.status is not GiftStatus.OFFERED:
        return reject(step, request, RejectReason.GIFT_NOT_PENDING, f"the gift is {gift.status.value}")
    blocked = BLOCKED.get(step.state.status)
    if request.accept and blocked is not None:  # declining stays open: the points go back to the giver
        return reject(step, request, blocked, f"the account is {step.state.status.value}: it receives no gifts")
    if request.accept:
        _answer_sender(step, request.gift_id, gift, GiftStatus.ACCEPTED, "")
    else:
        _answer_sender(step, request.gift_id, gift, GiftStatus.REJECTED, "declined")
        _trim_closed(step.state.redemption.gifts_received, step.rules.redemptions.gifting.keep_closed)
    answer(
        step,
        request,
        granted=GiftAnswered(
            kind="gift_respond",
            gift_id=request.gift_id, from_member_id=gift.from_member_id, points=gift.points, accept=request.accept
        ),
    )
    return None


def on_gift_transfer(step: Step, command: GiftTransfer) -> None:
    """Credit the points of a gift this member accepted, once; anything else is refused."""
    gift = step.state.redemption.gifts_received.get(command.gift_id)
    if gift is None or gift.status not in (GiftStatus.ACCEPTED, GiftStatus.CREDITED):
        state = gift.status.value if gift else "unknown"
        raise Reject(DeadLetterReason.INVALID_EVENT, f"transfer of gift {command.gift_id} that is {state} here")
    if (
        gift.from_member_id != command.from_member_id
        or gift.points != command.points
        or sum(p.amount for p in command.pieces) != command.points
    ):
        raise Reject(DeadLetterReason.INVALID_EVENT, f"transfer of gift {command.gift_id} does not match the offer")
    expire_gifts(step, step.occurred_at)
    if gift.status is GiftStatus.CREDITED:
        return
    credited = restore(step, command.pieces, command.gift_id, earned_at=step.occurred_at)
    expiries = [p.expires_at for p in command.pieces if p.expires_at is not None]
    step.ledger(
        LedgerKind.EARN,
        "gift",
        credited,
        held(step.state),
        seq=command.gift_id,
        expires_at=min(expiries) if expiries else None,
    )
    gift.status = GiftStatus.CREDITED
    gift.closed_at = step.occurred_at
    _trim_closed(step.state.redemption.gifts_received, step.rules.redemptions.gifting.keep_closed)


def on_gift_expired(step: Step, command: GiftExpired) -> None:
    expire_gifts(step, step.occurred_at)
    gift = step.state.redemption.gifts_received.get(command.gift_id)
    if gift is not None and gift.status in OPEN_GIFT:
        gift.status = GiftStatus.EXPIRED
        gift.closed_at = step.occurred_at


# -- expiry ----------------------------------------------------------------------


def has_open_gifts(step: Step) -> bool:
    memory = step.state.redemption
    if not memory.gifts_sent and not memory.gifts_received:
        return False  # nearly every member: asked on each of their events
    return any(g.status is GiftStatus.OFFERED for g in (*memory.gifts_sent.values(), *memory.gifts_received.values()))


def expire_gifts(step: Step, as_of: datetime) -> bool:
    """Close every offer unanswered at ``as_of`` (event time): the sender's
    points go back and the receiver is told; the receiver's side tells the
    sender.  Called lazily on each of the member's events and by the periodic
    evaluation; closing is a state change, so running it again does nothing.
    Returns whether anything closed.
    """
    memory = step.state.redemption
    closed = 0
    for gift_id, gift in memory.gifts_sent.items():
        if gift.status is GiftStatus.OFFERED and gift.respond_by <= as_of:
            _give_back(step, gift_id, gift, GiftStatus.EXPIRED)
            _void(step, gift_id, gift.to_member_id)
            closed += 1
    for gift_id, gift in memory.gifts_received.items():
        if gift.status is GiftStatus.OFFERED and gift.respond_by <= as_of:
            _answer_sender(step, gift_id, gift, GiftStatus.EXPIRED, "expired")
            closed += 1
    if closed:
        keep = step.rules.redemptions.gifting.keep_closed
        _trim_closed(memory.gifts_sent, keep)
        _trim_closed(memory.gifts_received, keep)
    return closed > 0


def gifts_due(ahead: LookAhead) -> datetime | None:
    """The earliest answer deadline of an offer still open."""
    memory = ahead.state.redemption
    if not memory.gifts_sent and not memory.gifts_received:
        return None
    return min((g.respond_by for g in (*memory.gifts_sent.values(), *memory.gifts_received.values())
                if g.status is GiftStatus.OFFERED), default=None)
