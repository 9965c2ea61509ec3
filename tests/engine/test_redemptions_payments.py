"""Points + cash: price bands, the share cap, the minimum balance, both modes,
quotes, settling an order once, cancellation returning points once, and the checkout quote's
points + cash options agreeing with what a request then settles."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from config.redemptions import PointsCashRules
from engine.quote import quote
from engine.redemptions import plan_payment
from engine.redemptions.payments import PaymentPlan
from models.outputs import LedgerEntry, LedgerKind
from models.quotes import QuoteRequest
from models.redemptions import PaymentMode, RejectReason
from models.state import MemberStatus
from tests.engine.redemption_fixtures import request, result_of

T0 = "2026-03-01T10:00:00+08:00"
T1 = "2026-03-02T10:00:00+08:00"
RULES = PointsCashRules()  # the defaults: seed 001's bands, points may pay all of an order
HALF = PointsCashRules(max_points_share=Decimal("0.5"))  # a tenant's cap: points pay at most half
POINTS_FIRST, CASH_FIRST = PaymentMode.POINTS_FIRST, PaymentMode.CASH_FIRST


def plan(amount: str, available: int, mode=POINTS_FIRST, cash: str | None = None, rules=HALF, items=()):
    lines = [(Decimal(price), quantity) for price, quantity in items]
    return plan_payment(Decimal(amount), mode, Decimal(cash) if cash is not None else None, available, rules, lines)


def split(result) -> tuple:
    """(rate, points, points' value, cash) of a plan, or its refusal's reason."""
    if isinstance(result, PaymentPlan):
        return (result.points_per_yuan, result.points, result.points_value, result.cash_amount)
    return result.reason


@pytest.mark.parametrize("amount, rate", [("1.00", 10), ("2000.00", 10), ("2000.01", 15), ("100000", 15)])
def test_price_bands_are_inclusive_at_their_upper_bound(amount, rate):
    assert RULES.rate_for(Decimal(amount)) == rate
    result = plan(amount, 10**9)  # an order without items: priced as one item of its amount
    assert isinstance(result, PaymentPlan) and result.points_per_yuan == rate


def test_points_first_pays_up_to_half_the_order():
    assert split(plan("100.00", 10_000)) == (10, 500, Decimal("50.00"), Decimal("50.00"))
    assert split(plan("3000.00", 10**6)) == (15, 22_500, Decimal("1500.00"), Decimal("1500.00"))
    assert split(plan("99.99", 10_000)) == (10, 500, Decimal("49.99"), Decimal("50.00"))  # cap rounds down


def test_points_first_is_limited_by_the_balance():
    assert split(plan("100.00", 120)) == (10, 120, Decimal("12.00"), Decimal("88.00"))


def test_points_never_buy_more_than_the_rate_allows():
    rules = PointsCashRules(min_balance=0, max_points_share=Decimal("0.5"))
    # 1:15: 10 points are worth 0.666.. yuan -> 0.66 paid, and 0.66 costs ceil(9.9) = 10 points
    assert split(plan("3000.00", 10, rules=rules)) == (15, 10, Decimal("0.66"), Decimal("2999.34"))
    assert plan("100.00", 0, rules=rules).reason == RejectReason.INSUFFICIENT_POINTS
    assert plan("0.01", 1000, rules=rules).reason == RejectReason.OVER_ORDER_CAP  # half a cent: nothing to pay


def test_minimum_balance_boundary():
    assert plan("100.00", 99).reason == RejectReason.BELOW_MINIMUM
    assert isinstance(plan("100.00", 100), PaymentPlan)
    assert plan("100.00", 99, CASH_FIRST, cash="60").reason == RejectReason.BELOW_MINIMUM


def test_cash_first_uses_points_for_the_rest_within_the_cap():
    assert split(plan("100.00", 10_000, CASH_FIRST, cash="60")) == (10, 400, Decimal("40.00"), Decimal("60.00"))
    assert split(plan("100.00", 10_000, CASH_FIRST, cash="50")) == (10, 500, Decimal("50.00"), Decimal("50.00"))
    assert plan("100.00", 10_000, CASH_FIRST, cash="49.99").reason == RejectReason.OVER_ORDER_CAP
    assert split(plan("100.00", 0, CASH_FIRST, cash="100")) == (10, 0, Decimal("0.00"), Decimal("100.00"))
    assert split(plan("100.00", 0, CASH_FIRST, cash="500")) == (10, 0, Decimal("0.00"), Decimal("100.00"))
    assert plan("100.00", 399, CASH_FIRST, cash="60").reason == RejectReason.INSUFFICIENT_POINTS


def test_by_default_points_may_pay_the_whole_order():
    assert RULES.max_points_share == 1  # seed 001: points "offset some or all of their cash"
    assert split(plan("100.00", 10_000, rules=RULES)) == (10, 1000, Decimal("100.00"), Decimal("0.00"))
    assert split(plan("100.00", 10_000, CASH_FIRST, cash="0", rules=RULES)) == (
        10, 1000, Decimal("100.00"), Decimal("0.00"))
    assert split(plan("100.00", 600, rules=RULES)) == (10, 600, Decimal("60.00"), Decimal("40.00"))


# -- the bands go by item unit price ------------------------------------------------


def test_three_800_yuan_items_pay_at_1_to_10_not_at_the_totals_band():
    whole = plan("2400.00", 10**6, rules=RULES, items=[("800.00", 3)])
    assert split(whole) == (10, 24_000, Decimal("2400.00"), Decimal("0.00"))
    assert [(p.points_per_yuan, p.value, p.points) for p in whole.parts] == [(10, Decimal("2400.00"), 24_000)]
    assert split(plan("2400.00", 10**6, rules=RULES)) == (15, 36_000, Decimal("2400.00"), Decimal("0.00"))  # no items


@pytest.mark.parametrize("price, rate", [("2000.00", 10), ("2000.01", 15)])
def test_an_items_band_is_inclusive_at_its_upper_bound(price, rate):
    assert split(plan(price, 10**6, rules=RULES, items=[(price, 1)]))[0] == rate


def test_mixed_bands_are_paid_per_band_the_cheaper_rate_first():
    items = [("2500.00", 1), ("500.00", 2)]  # 2500 at 1:15, 1000 at 1:10
    full = plan("3500.00", 10**6, rules=RULES, items=items)
    assert [(p.points_per_yuan, p.value, p.points) for p in full.parts] == [
        (10, Decimal("1000.00"), 10_000), (15, Decimal("2500.00"), 37_500)]
    assert split(full) == (10, 47_500, Decimal("3500.00"), Decimal("0.00"))
    # 13,000 points: the 1:10 goods first (10,000 points), then 3,000 points at 1:15 = 200 yuan
    short = plan("3500.00", 13_000, rules=RULES, items=items)
    assert [(p.points_per_yuan, p.value, p.points) for p in short.parts] == [
        (10, Decimal("1000.00"), 10_000), (15, Decimal("200.00"), 3_000)]
    assert split(short) == (10, 13_000, Decimal("1200.00"), Decimal("2300.00"))
    # cash first: 2,300 cash, the rest in points, the 1:10 goods first
    cash_first = plan("3500.00", 10**6, CASH_FIRST, cash="2300", rules=RULES, items=items)
    assert split(cash_first) == (10, 13_000, Decimal("1200.00"), Decimal("2300.00"))
    # the cap counts the whole order: half of 3500 is 1750 = 1000 at 1:10 + 750 at 1:15
    capped = plan("3500.00", 10**6, items=items)
    assert [(p.points_per_yuan, p.value, p.points) for p in capped.parts] == [
        (10, Decimal("1000.00"), 10_000), (15, Decimal("750.00"), 11_250)]


def test_items_must_add_up_to_the_order_amount():
    with pytest.raises(ValueError, match="sum to order_amount"):
        request("points_cash", "p1", T1, order_id="o", order_amount="100",
                items=[{"sku": "a", "unit_price": "40", "quantity": 2}])


def test_bands_must_be_ordered_and_end_open():
    with pytest.raises(ValueError):
        PointsCashRules(bands=[{"up_to": 2000, "points_per_yuan": 10}])
    with pytest.raises(ValueError):
        PointsCashRules(bands=[{"up_to": 2000, "points_per_yuan": 10}, {"up_to": 1000, "points_per_yuan": 12},
                               {"points_per_yuan": 15}])


# -- through the engine ----------------------------------------------------------------


@pytest.fixture
def half_rules(make_rules):
    """Rules whose points pay at most half an order (the examples below were computed with it)."""
    return make_rules({"redemptions": {"points_cash": {"max_points_share": "0.5"}}})


def pay(m, request_id: str, order_id: str, amount: str, at: str = T1, **fields):
    return m.apply(request("points_cash", request_id, at, member=m.member_id, order_id=order_id,
                           order_amount=amount, **fields))


def cancel(m, request_id: str, original: str, at: str = T1):
    return m.apply(request("points_cash_cancel", request_id, at, member=m.member_id, original_request_id=original))


def funded(member, rules, points: int = 1000):
    m = member(rules)
    m.pay("fund", str(points), T0)
    return m


def test_settling_spends_points_with_a_ledger_entry_for_the_order(half_rules, member):
    m = funded(member, half_rules)
    result = result_of(pay(m, "p1", "o-100", "100.00"))
    assert result.status == "accepted" and result.points_spent == 500 and m.held == 500
    assert (result.granted.points_value, result.granted.cash_amount) == (Decimal("50.00"), Decimal("50.00"))
    entry = m.of(LedgerEntry)[-1]
    assert (entry.kind, entry.rule, entry.delta, entry.order_id) == (LedgerKind.SPEND, "points_cash", -500, "o-100")


def test_a_quote_spends_nothing(half_rules, member):
    m = funded(member, half_rules)
    outcome = pay(m, "q1", "o-100", "100.00", quote_only=True)
    result = result_of(outcome)
    assert result.status == "accepted" and result.points_spent == 0 and result.granted.quote_only
    assert result.granted.points_value == Decimal("50.00") and m.held == 1000
    assert [o.topic for o in outcome.outputs] == ["redemption-results"]
    assert result_of(pay(m, "p1", "o-100", "100.00")).status == "accepted"  # a quote does not settle


def test_an_order_is_settled_once(half_rules, member):
    m = funded(member, half_rules)
    pay(m, "p1", "o-100", "100.00")
    outcome = pay(m, "p2", "o-100", "100.00")
    assert result_of(outcome).reason == RejectReason.ALREADY_SETTLED and m.held == 500


def test_cancelling_returns_the_points_once_with_their_expiry(half_rules, member):
    m = funded(member, half_rules)
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


def test_cancel_of_something_never_settled(half_rules, member):
    m = funded(member, half_rules)
    pay(m, "q1", "o-1", "100.00", quote_only=True)
    pay(m, "r1", "o-2", "100.00", mode="cash_first", cash_limit="1")  # over the cap: rejected
    for original in ("q1", "r1", "nope"):
        assert result_of(cancel(m, f"x-{original}", original)).reason == RejectReason.UNKNOWN_REQUEST
    assert m.held == 1000


def test_a_locked_account_cannot_pay_with_points_but_gets_a_cancellation_back(half_rules, member):
    m = funded(member, half_rules)
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


def test_through_the_engine_the_default_pays_by_item_and_all_of_it(base_rules, member):
    m = funded(member, base_rules, 30_000)
    result = result_of(pay(m, "p1", "o-3x800", "2400.00", items=[{"sku": "tv-stand", "unit_price": "800.00",
                                                                   "quantity": 3}]))
    assert result.status == "accepted" and result.points_spent == 24_000 and m.held == 6_000
    assert (result.granted.points_per_yuan, result.granted.points_value, result.granted.cash_amount) == (
        10, Decimal("2400.00"), Decimal("0.00"))
    assert [(p.points_per_yuan, p.points) for p in result.granted.parts] == [(10, 24_000)]


def test_cash_first_needs_a_cash_limit():
    with pytest.raises(ValueError, match="cash_limit"):
        request("points_cash", "p1", T1, order_id="o", order_amount="10", mode="cash_first")
    with pytest.raises(ValueError):
        request("points_cash", "p1", T1, order_id="o", order_amount="0")


# -- the checkout quote's points + cash options ------------------------------------------


def options(m, at: str = T1, points: int | None = None, items=(("tv-stand", "800.00", 3),)):
    cart = QuoteRequest(items=[{"sku": sku, "category": "home", "unit_price": price, "quantity": quantity}
                               for sku, price, quantity in items], points=points)
    q = quote(m.state, m.rules, cart, datetime.fromisoformat(at))
    return q, {o.mode: o for o in q.payment_options}


def test_the_quotes_options_are_what_a_points_cash_request_then_settles(base_rules, member):
    m = funded(member, base_rules, 30_000)  # BLACK_GOLD by then: the goods at 88 %, three at 704.00
    q, by_mode = options(m, points=5_000)
    assert q.spendable_points == 30_000 and q.goods_to_pay == Decimal("2112.00")
    most, wanted = by_mode["most_points"], by_mode["points_wanted"]
    assert (most.available, most.points, most.points_value, most.cash) == (True, 21_120, Decimal("2112.00"),
                                                                          Decimal("0.00"))
    assert (wanted.points, wanted.points_value, wanted.cash) == (5_000, Decimal("500.00"), Decimal("1612.00"))
    assert m.held == 30_000  # a dry run
    settled = result_of(pay(m, "p1", "o-3x704", "2112.00", items=[{"sku": "tv-stand", "unit_price": "704.00",
                                                                    "quantity": 3}]))
    assert (settled.points_spent, settled.granted.points_value) == (most.points, most.points_value)
    assert [(p.points_per_yuan, p.points) for p in settled.granted.parts] == [
        (p.points_per_yuan, p.points) for p in most.parts]


def test_each_items_member_price_decides_its_band_and_the_option_says_why_points_cannot_pay(base_rules, member):
    m = funded(member, base_rules, 99)
    _, by_mode = options(m, items=(("tv", "2100.00", 1),))
    assert list(by_mode) == ["most_points"]  # no points asked for: one option
    assert (by_mode["most_points"].available, by_mode["most_points"].reason) == (False, "99 spendable < minimum 100")
    m = funded(member, base_rules, 100)
    _, by_mode = options(m, items=(("tv", "2100.00", 1),), points=1)  # over 2,000 yuan: 15 points a yuan
    assert [(p.points_per_yuan, p.points, p.value) for p in by_mode["most_points"].parts] == [
        (15, 100, Decimal("6.66"))]
    assert [(p.points_per_yuan, p.points, p.value) for p in by_mode["points_wanted"].parts] == [
        (15, 1, Decimal("0.06"))]  # at most the one point asked for, though 100 are spendable
    m.state.status = MemberStatus.FROZEN
    _, by_mode = options(m)
    assert (by_mode["most_points"].available, by_mode["most_points"].reason) == (False, "the account is frozen")
