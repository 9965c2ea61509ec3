"""Points consumption (seed 001 §4, §6): coupons, points + cash, merchandise,
gifting.  Handlers for the ``redemptions`` requests and the gift commands on
``member-commands``, registered in engine/apply.py.

Every request is answered exactly once per ``request_id``: the answer is
remembered (bounded) in the member's state, and a retry -- caught by the
engine's dedupe or, after the event id was forgotten, here -- gets that answer
again and spends nothing.  Business rejections are answers, not dead letters.
The member's state is only ever changed by the member's own partition, one
event at a time, so concurrent requests cannot overdraw it.

``coupon_reminders`` and ``expire_gifts`` are what the periodic evaluation calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.topics import Topic
from engine.redemptions.common import prior_result, repeat_answer
from engine.redemptions.coupons import apply_coupon, coupon_reminders
from engine.redemptions.gifts import (
    apply_gift,
    apply_gift_respond,
    expire_gifts,
    has_open_gifts,
    on_gift_accepted,
    on_gift_expired,
    on_gift_offered,
    on_gift_rejected,
    on_gift_transfer,
)
from engine.redemptions.merchandise import apply_merchandise
from engine.redemptions.payments import apply_points_cash, apply_points_cash_cancel, plan_payment
from engine.step import Step
from models.commands import GiftAccepted, GiftExpired, GiftOffered, GiftRejected, GiftTransfer
from models.redemptions import (
    REQUEST_TYPES,
    CouponRequest,
    GiftRequest,
    GiftRespond,
    MerchandiseRequest,
    PointsCashCancel,
    PointsCashRequest,
)

__all__ = ["HANDLERS", "REPEATS", "coupon_reminders", "expire_gifts", "expire_lazily", "plan_payment"]


def _request(handler: Callable[[Step, Any], None]) -> Callable[[Step, Any], None]:
    def run(step: Step, request: Any) -> None:
        prior = prior_result(step.state, request.request_id)
        if prior is not None:
            step.emit(Topic.REDEMPTION_RESULTS, prior)
            return
        expire_gifts(step, step.occurred_at)  # expired gifts' points are back before anything is spent
        handler(step, request)

    return run


#: event type -> handler(step, event), merged into engine.apply.HANDLERS
HANDLERS: dict[type, Callable[[Step, Any], None]] = {
    CouponRequest: _request(apply_coupon),
    PointsCashRequest: _request(apply_points_cash),
    PointsCashCancel: _request(apply_points_cash_cancel),
    MerchandiseRequest: _request(apply_merchandise),
    GiftRequest: _request(apply_gift),
    GiftRespond: _request(apply_gift_respond),
    GiftOffered: on_gift_offered,
    GiftAccepted: on_gift_accepted,
    GiftRejected: on_gift_rejected,
    GiftTransfer: on_gift_transfer,
    GiftExpired: on_gift_expired,
}

#: event type -> outputs to send again when the event is a duplicate
REPEATS = {t: repeat_answer for t in REQUEST_TYPES}


def expire_lazily(step: Step) -> None:
    """After any event of the member: offers past their deadline at the event's time close."""
    if has_open_gifts(step):
        expire_gifts(step, step.occurred_at)
