"""Coupons, merchandise and what every redemption shares: rejections that
spend nothing, spending rules (soonest-expiring first, no pending, no
expired, no locked/frozen accounts), retries that get the first answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.redemptions import coupon_reminders
from engine.step import Step
from engine.wallet import held, spendable
from models.outputs import BenefitGrant, LedgerEntry, LedgerKind, Notification, NotificationKind
from models.redemptions import RejectReason
from models.state import MemberStatus
from tests.engine.redemption_fixtures import request, result_of

T0 = "2026-03-01T10:00:00+08:00"
T1 = "2026-03-02T10:00:00+08:00"


def funded(member, rules, points: int = 5000, at: str = T0):
    m = member(rules)
    m.pay("fund", str(points), at)
    assert m.held == points
    return m


def ask(m, kind: str, request_id: str, at: str = T1, **fields):
    outcome = m.apply(request(kind, request_id, at, member=m.member_id, **fields))
    return outcome, result_of(outcome)


def spent_nothing(m, outcome, before: int) -> None:
    assert m.held == before
    assert not [o for o in outcome.outputs if isinstance(o.value, (LedgerEntry, BenefitGrant))]
    assert [o.topic for o in outcome.outputs] == ["redemption-results"]


# -- coupons ---------------------------------------------------------------------


def test_coupon_costs_denomination_times_ten_and_is_granted_for_six_months(base_rules, member):
    m = funded(member, base_rules)
    outcome, result = ask(m, "coupon", "c1", denomination="20", quantity=2)
    assert result.status == "accepted" and result.reason is None
    assert result.points_spent == 400 and result.balance_after == 4600 == m.held
    assert result.result_id.startswith("rr-") and result.cause_event_id == "c1"
    [entry] = m.of(LedgerEntry)[1:]
    assert (entry.kind, entry.rule, entry.delta, entry.balance) == (LedgerKind.SPEND, "coupon", -400, 4600)
    [grant] = [g for g in m.grants if g.benefit == "points_coupon"]
    assert grant.value == Decimal(20) and grant.quantity == 2
    assert grant.valid_from == datetime.fromisoformat(T1)
    assert grant.valid_until == datetime.fromisoformat("2026-09-02T10:00:00+08:00")
    assert result.granted.coupon_id == grant.details["coupon_id"] == m.state.redemption.coupons[0].coupon_id
    assert result.granted.points_each == 200


def test_coupon_rate_and_denominations_are_configurable(make_rules, member):
    rules = make_rules({"redemptions": {"coupons": {"points_per_yuan": 5, "denominations": [20, 30]}}})
    m = funded(member, rules)
    assert ask(m, "coupon", "c1", denomination="30")[1].points_spent == 150
    assert ask(m, "coupon", "c2", denomination="10")[1].reason == RejectReason.INVALID_DENOMINATION


@pytest.mark.parametrize("denomination", ["30", "0", "100.01", "5"])
def test_other_denominations_are_rejected(base_rules, member, denomination):
    m = funded(member, base_rules)
    outcome, result = ask(m, "coupon", "c1", denomination=denomination)
    assert result.status == "rejected" and result.reason == RejectReason.INVALID_DENOMINATION
    assert result.points_spent == 0 and result.detail
    spent_nothing(m, outcome, 5000)


def test_coupon_quantity_cap(base_rules, member):
    m = funded(member, base_rules, 50_000)
    assert ask(m, "coupon", "c1", denomination="10", quantity=20)[1].status == "accepted"
    outcome, result = ask(m, "coupon", "c2", denomination="10", quantity=21)
    assert result.reason == RejectReason.OVER_ORDER_CAP
    spent_nothing(m, outcome, 48_000)


def test_exactly_enough_points_is_enough_one_short_is_not(base_rules, member):
    m = funded(member, base_rules, 999)
    outcome, result = ask(m, "coupon", "c1", denomination="100")
    assert result.reason == RejectReason.INSUFFICIENT_POINTS and "999" in result.detail
    spent_nothing(m, outcome, 999)
    m.pay("more", "1", T0)
    assert ask(m, "coupon", "c2", denomination="100")[1].status == "accepted"
    assert m.held == 0


def test_pending_points_cannot_be_spent(make_rules, member):
    m = funded(member, make_rules({"points": {"pending_days": 7}}), 1000)
    assert ask(m, "coupon", "c1", "2026-03-07T10:00:00+08:00", denomination="10")[1].reason == "insufficient_points"
    assert ask(m, "coupon", "c2", "2026-03-08T10:00:00+08:00", denomination="10")[1].status == "accepted"


def test_expired_points_cannot_be_spent(make_rules, member):
    rules = make_rules({"points": {"expiry": {"mode": "months_after_earning", "months": 1}}})
    m = funded(member, rules, 1000)  # expires at local midnight starting 2026-04-02
    assert ask(m, "coupon", "c1", "2026-04-01T23:59:00+08:00", denomination="10")[1].status == "accepted"
    result = ask(m, "coupon", "c2", "2026-04-02T00:00:00+08:00", denomination="10")[1]
    assert result.reason == RejectReason.INSUFFICIENT_POINTS and result.spendable_after == 0


def test_spending_takes_the_soonest_expiring_lots_first(make_rules, member):
    rules = make_rules({"points": {"expiry": {"mode": "months_after_earning", "months": 12}}})
    m = member(rules)
    m.pay("late", "300", "2026-02-01T10:00:00+08:00")
    m.pay("early", "300", "2026-01-01T10:00:00+08:00")
    ask(m, "coupon", "c1", "2026-03-01T10:00:00+08:00", denomination="20", quantity=2)  # 400 points
    assert [(lot.order_id, lot.amount) for lot in m.state.lots] == [("late", 200)]


@pytest.mark.parametrize("status, reason", [(MemberStatus.LOCKED, "account_locked"),
                                            (MemberStatus.FROZEN, "account_frozen")])
def test_locked_or_frozen_accounts_cannot_spend(base_rules, member, status, reason):
    m = funded(member, base_rules)
    m.state.status = status
    for kind, fields in [("coupon", {"denomination": "10"}), ("merchandise", {"item_id": "mug"}),
                         ("gift", {"to_member_id": "m2", "points": 10}),
                         ("points_cash", {"order_id": "o9", "order_amount": "100"})]:
        outcome, result = ask(m, kind, f"r-{kind}", **fields)
        assert result.reason == reason, kind
        spent_nothing(m, outcome, 5000)


def test_a_malicious_complaint_locks_and_then_spending_is_refused(base_rules, member):
    m = member(base_rules)
    m.complain("malicious", T0)  # no points to cover the penalty: locked
    m.pay("fund", "500", T0)
    assert ask(m, "coupon", "c1", denomination="10")[1].reason == RejectReason.ACCOUNT_LOCKED


# -- retries and answers -----------------------------------------------------------


def test_a_retry_gets_the_first_answer_and_spends_nothing(base_rules, member):
    m = funded(member, base_rules)
    first, answer = ask(m, "coupon", "c1", denomination="50")
    before = m.snapshot()
    again = m.apply(request("coupon", "c1", T1, denomination="50"))
    assert again.result == "duplicate"
    assert [o.value for o in again.outputs] == [answer]
    assert m.snapshot() == before and m.held == 4500


def test_a_retry_with_other_content_still_gets_the_first_answer(base_rules, member):
    m = funded(member, base_rules)
    _, answer = ask(m, "coupon", "c1", denomination="50")
    again = m.apply(request("merchandise", "c1", T1, item_id="mug"))
    assert [o.value for o in again.outputs] == [answer] and m.held == 4500


def test_a_rejected_request_stays_rejected_when_retried_after_earning(base_rules, member):
    m = funded(member, base_rules, 10)
    _, answer = ask(m, "coupon", "c1", denomination="10")
    m.pay("more", "1000", T1)
    again = m.apply(request("coupon", "c1", "2026-03-03T10:00:00+08:00", denomination="10"))
    assert [o.value for o in again.outputs] == [answer] and answer.reason == "insufficient_points"
    assert m.held == 1010


def test_the_answer_outlives_the_dedupe_memory(make_rules, member):
    rules = make_rules({"retention": {"recent_event_ids": 8}})
    m = funded(member, rules)
    _, answer = ask(m, "coupon", "c1", denomination="10")
    for i in range(10):
        m.login(f"2026-03-02T11:{i:02d}:00+08:00")
    assert "c1" not in m.state.recent_event_ids
    again = m.apply(request("coupon", "c1", T1, denomination="10"))
    assert again.result == "applied"  # not caught by the event-id dedupe any more ...
    assert [o.value for o in again.outputs] == [answer]  # ... but answered the same, spending nothing
    assert m.held == 4900


def test_answers_kept_are_bounded_but_outlast_the_dedupe_memory(make_rules, member):
    m = funded(member, make_rules({"redemptions": {"recent_results": 3}, "retention": {"recent_event_ids": 8}}))
    for i in range(12):
        ask(m, "coupon", f"c{i}", denomination="10")
    assert [r.request_id for r in m.state.redemption.answers()] == [f"c{i}" for i in range(4, 12)]
    m = funded(member, make_rules({"redemptions": {"recent_results": 10}, "retention": {"recent_event_ids": 8}}))
    for i in range(12):
        ask(m, "coupon", f"c{i}", denomination="10")
    assert len(m.state.redemption.answers()) == 10


def test_every_rejection_spends_nothing_and_says_why(base_rules, member):
    m = funded(member, base_rules, 100)
    cases = [
        ("coupon", {"denomination": "7"}, "invalid_denomination"),
        ("coupon", {"denomination": "100", "quantity": 2}, "insufficient_points"),
        ("merchandise", {"item_id": "nope"}, "unknown_item"),
        ("gift", {"to_member_id": "m1", "points": 5}, "gift_to_self"),
        ("gift_respond", {"gift_id": "g-x", "accept": True}, "unknown_gift"),
        ("points_cash_cancel", {"original_request_id": "nope"}, "unknown_request"),
        ("points_cash", {"order_id": "o9", "order_amount": "100", "mode": "cash_first", "cash_limit": "10"},
         "insufficient_points"),  # 90 yuan of points: 900, the member has 100
    ]
    for i, (kind, fields, reason) in enumerate(cases):
        outcome, result = ask(m, kind, f"r{i}", **fields)
        assert (result.status, result.reason) == ("rejected", reason), kind
        assert result.points_spent == result.points_returned == 0 and result.granted is None
        spent_nothing(m, outcome, 100)


# -- merchandise -------------------------------------------------------------------


def test_merchandise_spends_the_catalogue_price_and_asks_fulfilment(base_rules, member):
    m = funded(member, base_rules)
    outcome, result = ask(m, "merchandise", "r1", item_id="tote", quantity=2)
    assert result.status == "accepted" and result.points_spent == 5000 and m.held == 0
    assert result.granted.item_id == "tote" and result.granted.points_each == 2500
    [grant] = [g for g in m.grants if g.benefit == "merchandise"]
    assert grant.quantity == 2 and grant.details["item_id"] == "tote"
    assert m.of(LedgerEntry)[-1].rule == "merchandise"


def test_merchandise_caps_and_stock(make_rules, member):
    rules = make_rules({"redemptions": {"merchandise": {"items": {"mug": {"in_stock": False}}}}})
    m = funded(member, rules, 100_000)
    assert ask(m, "merchandise", "r1", item_id="mug")[1].reason == RejectReason.OUT_OF_STOCK
    assert ask(m, "merchandise", "r2", item_id="tote", quantity=3)[1].reason == RejectReason.OVER_ORDER_CAP
    assert ask(m, "merchandise", "r3", item_id="tote", quantity=2)[1].status == "accepted"
    assert ask(m, "merchandise", "r4", item_id="tote", quantity=2)[1].status == "accepted"  # 4 = the member cap
    outcome, result = ask(m, "merchandise", "r5", item_id="tote", quantity=1)
    assert result.reason == RejectReason.OVER_MEMBER_LIMIT
    spent_nothing(m, outcome, 90_000)


# -- coupon reminders --------------------------------------------------------------


def _remind(m, as_of: str, cause: str = "eval") -> list[Notification]:
    step = Step(m.state, m.rules, cause, datetime.fromisoformat(as_of))
    coupon_reminders(step, step.occurred_at)
    return [o.value for o in step.outputs if isinstance(o.value, Notification)]


def test_coupon_reminders_one_month_before_then_weekly(base_rules, member):
    m = funded(member, base_rules)
    ask(m, "coupon", "c1", "2026-03-02T10:00:00+08:00", denomination="20")  # valid until 2026-09-02 10:00
    assert _remind(m, "2026-08-02T09:59:00+08:00") == []
    [first] = _remind(m, "2026-08-02T10:00:00+08:00")
    assert first.kind == NotificationKind.COUPON_EXPIRY_REMINDER and first.data["reminder"] == 0
    assert _remind(m, "2026-08-02T10:00:00+08:00", cause="again") == []  # same period: nothing more
    assert _remind(m, "2026-08-09T09:59:00+08:00") == []
    [second] = _remind(m, "2026-08-09T10:00:00+08:00")
    assert second.data["reminder"] == 1 and second.notification_id != first.notification_id
    [late] = _remind(m, "2026-08-31T12:00:00+08:00")  # a gap: only the latest due one
    assert late.data["reminder"] == 4
    assert _remind(m, "2026-09-02T10:00:00+08:00") == []  # expired: forgotten
    assert m.state.redemption.coupons == []


def test_coupon_reminder_ids_do_not_depend_on_the_cause(base_rules, member):
    a, b = funded(member, base_rules), funded(member, base_rules)
    for m in (a, b):
        ask(m, "coupon", "c1", denomination="20")
    assert [n.notification_id for n in _remind(a, "2026-08-10T00:00:00+08:00", "x")] == \
        [n.notification_id for n in _remind(b, "2026-08-10T00:00:00+08:00", "y")]


def test_issued_coupons_kept_are_bounded(make_rules, member):
    m = funded(member, make_rules({"redemptions": {"coupons": {"keep_issued": 2}}}))
    for i in range(4):
        ask(m, "coupon", f"c{i}", denomination="10")
    assert [c.request_id for c in m.state.redemption.coupons] == ["c2", "c3"]


def test_spendable_and_held_after_coupons_match_the_answer(base_rules, member):
    m = funded(member, base_rules)
    _, result = ask(m, "coupon", "c1", denomination="100", quantity=3)
    assert result.balance_after == held(m.state) == 2000
    assert result.spendable_after == spendable(m.state, datetime.fromisoformat(T1)) == 2000


def test_a_catalogue_item_costs_its_price_at_its_band_unless_the_catalogue_fixes_its_points(make_rules, member):
    rules = make_rules({"redemptions": {"merchandise": {"items": {
        "kettle": {"name": "Kettle", "price": "199.90"},  # 1:10 -> 1999
        "bike": {"name": "Bike", "price": "2000.01"},  # 1:15 -> 30000.15, rounded up
        "pin": {"name": "Pin", "price": "50", "points": 99},  # fixed by the catalogue
    }}}})
    bands, items = rules.redemptions.points_cash, rules.redemptions.merchandise.items
    assert {k: items[k].points_at(bands) for k in ("kettle", "bike", "pin")} == {
        "kettle": 1999, "bike": 30001, "pin": 99}
    shipped = {k: i.points_at(bands) for k, i in RuleBook.load(SHIPPED_RULES_DIR).default
               .redemptions.merchandise.items.items()}
    assert shipped == {"mug": 1500, "tote": 2500}  # 150 and 250 yuan at 1:10
    m = funded(member, rules, 40_000)
    _, result = ask(m, "merchandise", "r1", item_id="kettle", quantity=2)
    assert (result.points_spent, result.granted.points_each) == (3998, 1999)
    with pytest.raises(ValueError, match="points or a price"):
        make_rules({"redemptions": {"merchandise": {"items": {"x": {"name": "X"}}}}})
