"""Points + cash: price bands, the share cap, the minimum balance, both modes,
quotes, settling an order once, and cancellation returning points once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.redemptions import PointsCashRules
from engine.redemptions import plan_payment
from engine.redemptions.payments import PaymentPlan
from models.outputs import LedgerEntry, LedgerKind
from models.redemptions import PaymentMode, RejectReason
from models.state import MemberStatus
from tests.engine.redemption_fixtures import request, result_of

T0 = "2026-03-01T10:00:00+08:00"
T1 = "2026-03-02T10:00:00+08:00"
RULES = PointsCashRules()
POINTS_FIRST, CASH_FIRST = PaymentMode.POINTS_FIRST, PaymentMode.CASH_FIRST


def plan(amount: str, available: int, mode=POINTS_FIRST, cash: str | None = None, rules=RULES):
    return plan_payment(Decimal(amount), mode, Decimal(cash) if cash is not None else None, available, rules)


@pytest.mark.parametrize("amount, rate", [("1.00", 10), ("2000.00", 10), ("2000.01", 15), ("100000", 15)])
def test_price_bands_are_inclusive_at_their_upper_bound(amount, rate):
    assert RULES.rate_for(Decimal(amount)) == rate
    result = plan(amount, 10**9)
    assert isinstance(result, PaymentPlan) and result.points_per_yuan == rate


def test_points_first_pays_up_to_half_the_order():
    assert plan("100.00", 10_000) == PaymentPlan(10, 500, Decimal("50.00"), Decimal("50.00"))
    assert plan("3000.00", 10**6) == PaymentPlan(15, 22_500, Decimal("1500.00"), Decimal("1500.00"))
    assert plan("99.99", 10_000) == PaymentPlan(10, 500, Decimal("49.99"), Decimal("50.00"))  # cap rounds down


def test_points_first_is_limited_by_the_balance():
    assert plan("100.00", 120) == PaymentPlan(10, 120, Decimal("12.00"), Decimal("88.00"))


def test_points_never_buy_more_than_the_rate_allows():
    rules = PointsCashRules(min_balance=0)
    # 1:15: 10 points are worth 0.666.. yuan -> 0.66 paid, and 0.66 costs ceil(9.9) = 10 points
    assert plan("3000.00", 10, rules=rules) == PaymentPlan(15, 10, Decimal("0.66"), Decimal("2999.34"))
    assert plan("100.00", 0, rules=rules).reason == RejectReason.INSUFFICIENT_POINTS
    assert plan("0.01", 1000, rules=rules).reason == RejectReason.OVER_ORDER_CAP  # half a cent: nothing to pay


def test_minimum_balance_boundary():
    assert plan("100.00", 99).reason == RejectReason.BELOW_MINIMUM
    assert isinstance(plan("100.00", 100), PaymentPlan)
    assert plan("100.00", 99, CASH_FIRST, cash="60").reason == RejectReason.BELOW_MINIMUM


def test_cash_first_uses_points_for_the_rest_within_the_cap():
    assert plan("100.00", 10_000, CASH_FIRST, cash="60") == PaymentPlan(10, 400, Decimal("40.00"), Decimal("60.00"))
    assert plan("100.00", 10_000, CASH_FIRST, cash="50") == PaymentPlan(10, 500, Decimal("50.00"), Decimal("50.00"))
    assert plan("100.00", 10_000, CASH_FIRST, cash="49.99").reason == RejectReason.OVER_ORDER_CAP
    assert plan("100.00", 0, CASH_FIRST, cash="100") == PaymentPlan(10, 0, Decimal("0.00"), Decimal("100.00"))
    assert plan("100.00", 0, CASH_FIRST, cash="500") == PaymentPlan(10, 0, Decimal("0.00"), Decimal("100.00"))
    assert plan("100.00", 399, CASH_FIRST, cash="60").reason == RejectReason.INSUFFICIENT_POINTS


def test_the_cap_is_configurable_up_to_the_whole_order():
    rules = PointsCashRules(max_points_share=Decimal(1))
    assert plan("100.00", 10_000, rules=rules) == PaymentPlan(10, 1000, Decimal("100.00"), Decimal("0.00"))


def test_bands_must_be_ordered_and_end_open():
    with pytest.raises(ValueError):
        PointsCashRules(bands=[{"up_to": 2000, "points_per_yuan": 10}])
    with pytest.raises(ValueError):
        PointsCashRules(bands=[{"up_to": 2000, "points_per_yuan": 10}, {"up_to": 1000, "points_per_yuan": 12},
                               {"points_per_yuan": 15}])


# -- through the engine ----------------------------------------------------------------


def pay(m, request_id: str, order_id: str, amount: str, at: str = T1, **fields):
    return m.apply(request("points_cash", request_id, at, member=m.member_id, order_id=order_id,
                           order_amount=amount, **fields))


def cancel(m, request_id: str, original: str, at: str = T1):
    return m.apply(request("points_cash_cancel", request_id, at, member=m.member_id, original_request_id=original))


def funded(member, rules, points: int = 1000):
    m = member(rules)
    m.pay("fund", str(points), T0)
    return m


def test_settling_spends_points_with_a_ledger_entry_for_the_order(base_rules, member):
    m = funded(member, base_rules)
    result = result_of(pay(m, "p1", "o-100", "100.00"))
    assert result.status == "accepted" and result.points_spent == 500 and m.held == 500
    assert (result.granted.points_value, result.granted.cash_amount) == (Decimal("50.00"), Decimal("50.00"))
    entry = m.of(LedgerEntry)[-1]
    assert (entry.kind, entry.rule, entry.delta, entry.order_id) == (LedgerKind.SPEND, "points_cash", -500, "o-100")


def test_a_quote_spends_nothing(base_rules, member):
    m = funded(member, base_rules)
    outcome = pay(m, "q1", "o-100", "100.00", quote_only=True)
    result = result_of(outcome)
    assert result.status == "accepted" and result.points_spent == 0 and result.granted.quote_only
    assert result.granted.points_value == Decimal("50.00") and m.held == 1000
    assert [o.topic for o in outcome.outputs] == ["redemption-results"]
    assert result_of(pay(m, "p1", "o-100", "100.00")).status == "accepted"  # a quote does not settle


def test_an_order_is_settled_once(base_rules, member):
    m = funded(member, base_rules)
    pay(m, "p1", "o-100", "100.00")
    outcome = pay(m, "p2", "o-100", "100.00")
    assert result_of(outcome).reason == RejectReason.ALREADY_SETTLED and m.held == 500


def test_cancelling_returns_the_points_once_with_their_expiry(base_rules, member):
    m = funded(member, base_rules)
    expiry = m.state.lots[0].expires_at
    pay(m, "p1", "o-100", "100.00")
    outcome = cancel(m, "x1", "p1")
    result = result_of(outcome)
    assert result.status == "accepted" and result.points_returned == 500 and m.held == 1000
    entry = m.of(LedgerEntry)[-1]
    assert (entry.kind, entry.rule, entry.delta, entry.balance) == (LedgerKind.ADJUSTMENT, "points_cash_cancel", 500,
                                                                    1000)
    assert {lot.expires_at for lot in m.state.lots} == {expiry}

    retry = cancel(m, "x1", "p1")  # the same cancel again: the same answer
    assert retry.result == "duplicate" and [o.value for o in retry.outputs] == [result]
    other = result_of(cancel(m, "x2", "p1"))  # another cancel of the same payment
    assert other.reason == RejectReason.ALREADY_CANCELLED and other.points_returned == 0
    assert m.held == 1000 and len([e for e in m.of(LedgerEntry) if e.rule == "points_cash_cancel"]) == 1
    assert result_of(pay(m, "p3", "o-100", "100.00")).status == "accepted"  # cancelled: can be paid again


def test_cancel_of_something_never_settled(base_rules, member):
    m = funded(member, base_rules)
    pay(m, "q1", "o-1", "100.00", quote_only=True)
    pay(m, "r1", "o-2", "100.00", mode="cash_first", cash_limit="1")  # over the cap: rejected
    for original in ("q1", "r1", "nope"):
        assert result_of(cancel(m, f"x-{original}", original)).reason == RejectReason.UNKNOWN_REQUEST
    assert m.held == 1000


def test_a_locked_account_cannot_pay_with_points_but_gets_a_cancellation_back(base_rules, member):
    m = funded(member, base_rules)
    pay(m, "p1", "o-100", "100.00")
    m.state.status = MemberStatus.LOCKED
    assert result_of(pay(m, "p2", "o-200", "100.00")).reason == RejectReason.ACCOUNT_LOCKED
    assert result_of(cancel(m, "x1", "p1")).points_returned == 500


def test_settlements_kept_are_bounded(make_rules, member):
    m = funded(member, make_rules({"redemptions": {"points_cash": {"keep_settlements": 2, "min_balance": 0}}}), 10_000)
    for i in range(4):
        pay(m, f"p{i}", f"o{i}", "10.00")
    assert list(m.state.redemption.settlements) == ["p2", "p3"]
    assert result_of(cancel(m, "x0", "p0")).reason == RejectReason.UNKNOWN_REQUEST


def test_cash_first_needs_a_cash_limit():
    with pytest.raises(ValueError, match="cash_limit"):
        request("points_cash", "p1", T1, order_id="o", order_amount="10", mode="cash_first")
    with pytest.raises(ValueError):
        request("points_cash", "p1", T1, order_id="o", order_amount="0")
