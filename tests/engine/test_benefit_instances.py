"""Benefit instances: every grant is one, usage reported back moves its status, the
evaluation expires and reminds, and the instances stay bounded (engine/benefit_usage.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.evaluation import evaluate_member, evaluation_id, next_due
from engine.outcome import Applied
from models.benefits import BenefitChange, BenefitStatus, BenefitUsage
from models.commands import BenefitGrantCommand
from models.outputs import BenefitGrant, DeadLetterReason, Notification, NotificationKind
from models.redemptions import CouponRequest
from models.state import state_json, state_of_json
from tests.engine.fixtures import Member

SHIPPED = RuleBook.load(SHIPPED_RULES_DIR).default
PAID_AT = "2026-03-02T10:00:00+08:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def gold() -> tuple[Member, BenefitGrant]:
    """A member who reached GOLD with one order: the GOLD upgrade gift, valid 30 days."""
    m = Member(SHIPPED)
    m.pay("o1", 500, PAID_AT)
    (gift,) = [g for g in m.grants if g.benefit == "upgrade_gift"]
    return m, gift


def report(m: Member, benefit_id: str, action: str, when: str, order_id: str | None = None,
           saved: str | None = None, event_id: str | None = None):
    m._seq += 1
    return m.apply(BenefitUsage(event_id=event_id or f"u{m._seq}", member_id=m.member_id, occurred_at=at(when),
                                benefit_id=benefit_id, action=action, order_id=order_id,
                                amount_saved=None if saved is None else Decimal(saved)))


def changes(outcome) -> list[tuple[str, str, int]]:
    return [(c.value.action, c.value.status.value, c.value.uses) for c in outcome.outputs
            if isinstance(c.value, BenefitChange)]


def evaluate(m: Member, when: str) -> list[Any]:
    as_of = at(when)
    return [o.value for o in evaluate_member(m.state, m.rules, as_of, evaluation_id(None, as_of))[1]]


def test_every_grant_is_an_issued_instance_with_the_grant_id():
    m, gift = gold()
    inst = m.state.benefits[gift.grant_id]
    assert (inst.benefit, inst.tier, inst.value, inst.quantity, inst.status) == (
        "upgrade_gift", "GOLD", Decimal(20), 1, BenefitStatus.ISSUED)
    assert (inst.valid_from, inst.valid_until) == (at(PAID_AT), at(PAID_AT) + timedelta(days=30))
    assert state_of_json(state_json(m.state)) == m.state  # stored and read back alike


def test_used_on_an_order_then_restored_after_its_refund_then_used_again():
    m, gift = gold()
    used = report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20")
    assert changes(used) == [("used", "used", 1)]
    change = used.outputs[0].value
    assert (change.benefit_id, change.benefit, change.tier, change.order_id, change.amount_saved) == (
        gift.grant_id, "upgrade_gift", "GOLD", "shop-1", Decimal(20))
    inst = m.state.benefits[gift.grant_id]
    assert inst.uses == {"shop-1": Decimal(20)} and inst.settled_at == at("2026-03-05T10:00:00+08:00")

    restored = report(m, gift.grant_id, "restored", "2026-03-06T10:00:00+08:00", "shop-1")
    assert changes(restored) == [("restored", "issued", 0)]
    assert restored.outputs[0].value.amount_saved == Decimal(20)
    assert (inst.status, inst.settled_at, inst.uses) == (BenefitStatus.ISSUED, None, {})
    assert changes(report(m, gift.grant_id, "used", "2026-03-07T10:00:00+08:00", "shop-2", "20")) == [
        ("used", "used", 1)]


def test_a_repeat_report_changes_nothing():
    m, gift = gold()
    report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20", event_id="u-1")
    before = state_json(m.state)
    again = report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20", event_id="u-1")
    assert again.result is Applied.DUPLICATE and again.outputs == []
    other_id = report(m, gift.grant_id, "used", "2026-03-05T11:00:00+08:00", "shop-1", "20")
    assert other_id.result is Applied.APPLIED and other_id.outputs == []  # the same order, reported again
    assert m.state.benefits == state_of_json(before).benefits
    unused = report(m, gift.grant_id, "restored", "2026-03-06T10:00:00+08:00", "shop-9")
    assert unused.outputs == [] and m.state.benefits[gift.grant_id].status is BenefitStatus.USED


def test_used_up_expired_voided_or_unknown_benefits_are_refused_with_a_reason():
    m, gift = gold()
    report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20")
    second = report(m, gift.grant_id, "used", "2026-03-05T12:00:00+08:00", "shop-2", "20")
    assert (second.result, second.reason) == (Applied.REJECTED, DeadLetterReason.BENEFIT_NOT_USABLE)
    assert "used already (order shop-1)" in second.detail

    late = report(m, gift.grant_id, "restored", "2026-03-06T10:00:00+08:00", "shop-1")
    assert changes(late) == [("restored", "issued", 0)]
    expired = report(m, gift.grant_id, "used", "2026-04-01T10:00:00+08:00", "shop-3", "20")  # valid to 04-01 10:00
    assert (expired.reason, expired.detail) == (
        DeadLetterReason.BENEFIT_NOT_USABLE, f"benefit {gift.grant_id}: expired at 2026-04-01T10:00:00+08:00")

    voided = report(m, gift.grant_id, "voided", "2026-03-10T10:00:00+08:00")
    assert changes(voided) == [("voided", "voided", 0)]
    after_void = report(m, gift.grant_id, "used", "2026-03-11T10:00:00+08:00", "shop-4", "20")
    assert after_void.detail == f"benefit {gift.grant_id}: voided"

    stranger = Member(SHIPPED, member_id="m2")
    stranger.pay("o9", 10, PAID_AT)
    theirs = report(stranger, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-5", "20")
    assert (theirs.result, theirs.reason) == (Applied.REJECTED, DeadLetterReason.UNKNOWN_BENEFIT)
    assert stranger.state.benefits is not None and gift.grant_id not in (stranger.state.benefits or {})


def test_the_evaluation_expires_at_valid_until_and_reminds_only_what_is_still_unused():
    m, gift = gold()
    valid_until = at(PAID_AT) + timedelta(days=30)
    assert next_due(m.state, m.rules, at("2026-03-03T00:00:00+08:00")) <= valid_until - timedelta(days=3)
    kinds = [v.kind for v in evaluate(m, "2026-03-29T10:00:00+08:00") if isinstance(v, Notification)]
    assert kinds == [NotificationKind.BENEFIT_EXPIRY_REMINDER]  # 3 days before its end
    assert [v for v in evaluate(m, "2026-03-30T10:00:00+08:00") if isinstance(v, Notification)] == []  # once
    out = [v for v in evaluate(m, "2026-04-01T10:00:00+08:00") if isinstance(v, BenefitChange)]
    assert [(c.benefit_id, c.action, c.status) for c in out] == [(gift.grant_id, "expired", BenefitStatus.EXPIRED)]
    assert m.state.benefits[gift.grant_id].settled_at == valid_until


def test_a_used_benefit_gets_no_reminder_and_does_not_expire():
    m, gift = gold()
    report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20")
    outputs = evaluate(m, "2026-03-29T10:00:00+08:00") + evaluate(m, "2026-04-02T00:00:00+08:00")
    assert not any(isinstance(v, BenefitChange) or (isinstance(v, Notification) and v.kind in (
        NotificationKind.BENEFIT_EXPIRY_REMINDER, NotificationKind.COUPON_EXPIRY_REMINDER)) for v in outputs)
    assert m.state.benefits[gift.grant_id].status is BenefitStatus.USED


def test_settled_instances_are_forgotten_after_their_retention():
    m, gift = gold()
    report(m, gift.grant_id, "used", "2026-03-05T10:00:00+08:00", "shop-1", "20")
    evaluate(m, "2026-04-04T09:59:59+08:00")  # 30 days after it was used, less a second: still kept
    assert gift.grant_id in m.state.benefits
    assert next_due(m.state, m.rules, at("2026-04-04T09:59:59+08:00")) <= at("2026-04-04T10:00:00+08:00")
    evaluate(m, "2026-04-04T10:00:00+08:00")
    assert gift.grant_id not in m.state.benefits


def test_instances_stay_bounded_oldest_settled_first():
    rules = SHIPPED.model_copy(update={"benefits": SHIPPED.benefits.model_copy(update={"max_instances": 2})})
    m = Member(rules)
    m.pay("o1", 200, PAID_AT)  # SILVER gift
    first = m.grants[-1].grant_id
    report(m, first, "used", "2026-03-02T11:00:00+08:00", "shop-1", "10")
    m.pay("o2", 300, "2026-03-02T12:00:00+08:00")  # GOLD gift
    m.pay("o3", 500, "2026-03-02T13:00:00+08:00")  # DIAMOND gift: the used SILVER gift goes
    assert list(m.state.benefits) == [g.grant_id for g in m.grants[-2:]]


def test_an_operators_grant_and_a_points_coupon_are_instances_too():
    m, _ = gold()
    m.apply(BenefitGrantCommand(command_id="cmd-1", member_id="m1", occurred_at=at("2026-03-03T10:00:00+08:00"),
                                type="benefit_grant", benefit="goodwill_voucher", value=Decimal(15), quantity=2,
                                valid_until=at("2026-04-03T10:00:00+08:00"), actor="t1:ann", reason="late delivery",
                                request_id="r1"))
    grant = m.grants[-1]
    inst = m.state.benefits[grant.grant_id]
    assert (inst.benefit, inst.value, inst.quantity, inst.tier) == ("goodwill_voucher", Decimal(15), 2, "GOLD")
    first = report(m, grant.grant_id, "used", "2026-03-04T10:00:00+08:00", "shop-1", "15")
    assert changes(first) == [("used", "issued", 1)]  # one of two used
    assert changes(report(m, grant.grant_id, "used", "2026-03-04T11:00:00+08:00", "shop-2", "15")) == [
        ("used", "used", 2)]

    m.apply(CouponRequest(request_id="rq-1", member_id="m1", occurred_at=at("2026-03-05T10:00:00+08:00"),
                          kind="coupon", denomination=Decimal(10)))
    coupon = m.grants[-1]
    assert coupon.benefit == "points_coupon" and m.state.redemption.coupons[-1].grant_id == coupon.grant_id
    m.apply(CouponRequest(request_id="rq-2", member_id="m1", occurred_at=at("2026-03-05T11:00:00+08:00"),
                          kind="coupon", denomination=Decimal(10)))
    unused = m.state.redemption.coupons[-1]
    report(m, coupon.grant_id, "used", "2026-03-06T10:00:00+08:00", "shop-3", "10")
    reminders = [v for v in evaluate(m, "2026-08-10T10:00:00+08:00")  # inside the month before their end
                 if isinstance(v, Notification) and v.kind is NotificationKind.COUPON_EXPIRY_REMINDER]
    assert [r.data["coupon_id"] for r in reminders] == [unused.coupon_id]  # the used one is not reminded of
