"""Refunds: exact proportional clawback of points and growth, caps, policies, spend windows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from config.rules import ClawbackPolicy
from engine.wallet import held, spendable, take
from models.outputs import LedgerEntry, LedgerKind, Notification, NotificationKind

PAID = "2026-03-01T12:00:00+08:00"
LATER = "2026-03-05T12:00:00+08:00"


def _ledger(outcome) -> list[LedgerEntry]:
    return [o.value for o in outcome.outputs if isinstance(o.value, LedgerEntry)]


def test_full_refund_claws_back_exactly_what_the_order_earned(base_rules, member):
    m = member(base_rules)
    m.pay("o0", "40", "2026-02-20T12:00:00+08:00")
    m.pay("o1", "123.45", PAID)
    assert m.held == 163 and m.state.growth == 163
    record = m.state.orders["o1"]
    assert (record.points, record.growth) == (123, 123)
    out = m.refund("o1", "123.45", LATER)
    (entry,) = _ledger(out)
    assert (entry.kind, entry.rule, entry.delta, entry.balance, entry.order_id) == (
        LedgerKind.ADJUSTMENT, "refund_clawback", -123, 40, "o1"
    )
    assert m.held == 40 and m.state.growth == 40
    assert (record.refunded, record.points_clawed, record.growth_clawed) == (Decimal("123.45"), 123, 123)
    assert m.state.lifetime_earned == 163  # lifetime is what was earned, never reduced
    assert [lot.order_id for lot in m.state.lots] == ["o0"]


def test_full_refund_with_shipped_bonus_rules_claws_every_point(shipped_rules, member):
    m = member(shipped_rules)
    m.pay("o1", "600", PAID, items=[])
    earned = m.state.orders["o1"].points
    assert earned == m.held and earned > 600  # base plus bonuses, whatever they are
    m.refund("o1", "600", LATER)
    assert m.held == 0 and m.state.lots == [] and m.state.growth == 0
    assert m.ledger[-1].delta == -earned


def test_partial_refunds_are_proportional_and_cumulative(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", PAID)  # 100 points, 100 growth
    out = m.refund("o1", "33.33", LATER)  # floor(33.33) = 33
    assert _ledger(out)[0].delta == -33 and m.held == 67 and m.state.growth == 67
    out = m.refund("o1", "33.33", LATER)  # cumulative 66.66 -> 66 due, 33 more
    assert _ledger(out)[0].delta == -33 and m.held == 34 and m.state.growth == 34
    out = m.refund("o1", "0.01", LATER)  # 66.67 -> 66: nothing more yet
    assert _ledger(out) == [] and m.held == 34 and m.state.growth == 34
    out = m.refund("o1", "33.33", LATER)  # full: all of it
    assert _ledger(out)[0].delta == -34 and m.held == 0 and m.state.growth == 0
    record = m.state.orders["o1"]
    assert (record.refunded, record.points_clawed, record.growth_clawed) == (Decimal("100.00"), 100, 100)


def test_proportional_with_uneven_points(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "7.99", PAID)  # 7 points, 7 growth
    m.refund("o1", "4", LATER)  # floor(7 * 4 / 7.99) = 3
    assert m.held == 4 and m.state.growth == 4
    m.refund("o1", "3.99", LATER)
    assert m.held == 0 and m.state.growth == 0


def test_refund_beyond_order_amount_is_capped(base_rules, member):
    m = member(base_rules)
    m.pay("o0", "50", PAID)
    m.pay("o1", "80", PAID)
    out = m.refund("o1", "500", LATER)
    assert _ledger(out)[0].delta == -80
    assert m.held == 50 and m.state.growth == 50
    assert m.state.orders["o1"].refunded == Decimal("80")
    assert m.state.spend_days == {date(2026, 3, 1): Decimal("50")}
    out = m.refund("o1", "10", LATER)  # a further refund: nothing left to refund
    assert out.result == "applied" and _ledger(out) == [] and m.held == 50
    assert m.state.orders["o1"].refunded == Decimal("80")
    assert m.state.spend_days == {date(2026, 3, 1): Decimal("50")}


def test_same_refund_event_twice_changes_nothing(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", PAID)
    m.refund("o1", "40", LATER, event_id="rf-1")
    before = m.snapshot()
    out = m.refund("o1", "40", LATER, event_id="rf-1")
    assert out.result == "duplicate" and out.outputs == []
    assert m.snapshot() == before and m.held == 60


def test_refund_for_unknown_order_is_rejected_without_change(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", PAID)
    before = m.snapshot()
    out = m.refund("nope", "10", LATER)
    assert (out.result, out.reason) == ("rejected", "refund_without_order")
    assert "nope" in out.detail and out.outputs == []
    assert m.snapshot() == before


def test_refund_as_first_event_is_rejected(base_rules, member):
    m = member(base_rules)
    out = m.refund("o1", "10", PAID)
    assert (out.result, out.reason) == ("rejected", "refund_without_order")
    assert out.state.recent_event_ids == [] and out.state.watermark is None


def test_refund_amount_over_limit_is_rejected(make_rules, member):
    m = member(make_rules({"limits": {"max_amount": 1000}}))
    m.pay("o1", "1000", PAID)
    before = m.snapshot()
    out = m.refund("o1", "1000.01", LATER)
    assert (out.result, out.reason) == ("rejected", "amount_over_limit")
    assert m.snapshot() == before


def test_refund_reduces_spend_on_the_original_orders_day(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-01T23:30:00+08:00")
    m.pay("o2", "100", "2026-03-10T12:00:00+08:00")
    m.refund("o1", "50.50", "2026-03-12T12:00:00+08:00")
    assert m.state.spend_days == {date(2026, 3, 1): Decimal("99.50"), date(2026, 3, 10): Decimal("100")}
    m.refund("o1", "99.50", "2026-03-12T12:00:00+08:00")
    assert m.state.spend_days == {date(2026, 3, 10): Decimal("100")}
    assert m.state.points_days == {date(2026, 3, 10): 100}


# -- points already spent ----------------------------------------------------------


@pytest.fixture
def capped(make_rules):
    """Rules of a tenant that lets a member keep what a refund could not take back."""
    return make_rules({"points": {"clawback": "cap_and_record"}})


def test_cap_and_record_caps_clawback_and_records_shortfall(capped, member):
    m = member(capped)
    m.pay("o1", "100", PAID)
    m.pay("o2", "20", PAID)
    assert take(m.state, 110, datetime.fromisoformat(LATER)) == 110  # spent elsewhere
    assert m.held == 10
    out = m.refund("o1", "100", LATER)
    (entry,) = _ledger(out)
    assert (entry.delta, entry.balance) == (-10, 0)
    (note,) = [o.value for o in out.outputs if isinstance(o.value, Notification)]
    assert note.kind is NotificationKind.CLAWBACK_SHORTFALL
    assert note.data == {"order_id": "o1", "shortfall": 90}
    assert m.state.shortfall == 90 and m.state.debt == 0 and m.held == 0
    assert m.state.orders["o1"].points_clawed == 100
    m.pay("o3", "30", "2026-03-06T12:00:00+08:00")  # later earnings are not taken
    assert m.held == 30 and m.state.shortfall == 90


def test_cap_and_record_after_malicious_complaint(capped, member):
    m = member(capped)
    m.pay("o1", "15", PAID)
    m.complain("malicious", "2026-03-02T12:00:00+08:00")
    assert m.held == 5
    out = m.refund("o1", "15", LATER)
    assert _ledger(out)[0].delta == -5
    assert m.state.shortfall == 10 and m.held == 0
    assert m.notifications[-1].kind is NotificationKind.CLAWBACK_SHORTFALL
    assert m.notifications[-1].data["shortfall"] == 10


def test_by_default_a_refund_after_spending_leaves_no_one_ahead(base_rules, shipped_rules, member):
    """Seed 001 §5, no refund loophole: what the refund cannot take back is owed, not kept."""
    assert base_rules.points.clawback is shipped_rules.points.clawback is ClawbackPolicy.NEGATIVE_BALANCE
    m = member(shipped_rules)
    m.pay("o1", "100", PAID)
    earned = m.held
    take(m.state, earned, datetime.fromisoformat(LATER))  # all of it spent elsewhere
    m.refund("o1", "100", LATER)
    assert (m.held, m.state.debt, m.state.shortfall) == (-earned, earned, 0)
    assert spendable(m.state, datetime.fromisoformat(LATER)) == 0


def test_negative_balance_policy_creates_debt_paid_by_later_earnings(make_rules, member):
    m = member(make_rules({"points": {"clawback": "negative_balance"}}))
    m.pay("o1", "100", PAID)
    take(m.state, 95, datetime.fromisoformat(LATER))
    out = m.refund("o1", "100", LATER)
    (entry,) = _ledger(out)
    assert (entry.delta, entry.balance) == (-100, -95)
    assert [o for o in out.outputs if isinstance(o.value, Notification)] == []
    assert m.state.debt == 95 and m.held == -95 and m.state.shortfall == 0
    assert spendable(m.state, datetime.fromisoformat(LATER)) == 0
    out = m.pay("o2", "30", "2026-03-06T12:00:00+08:00")
    assert (_ledger(out)[0].delta, _ledger(out)[0].balance) == (30, -65)
    assert m.state.debt == 65 and m.state.lots == []
    m.pay("o3", "100", "2026-03-07T12:00:00+08:00")
    assert m.state.debt == 0 and m.held == 35
    assert [lot.amount for lot in m.state.lots] == [35]
    # a complaint cannot take points that are owed
    m2 = member(make_rules({"points": {"clawback": "negative_balance"}}), "m2")
    m2.pay("o1", "10", PAID)
    take(m2.state, 10, datetime.fromisoformat(LATER))
    m2.refund("o1", "10", LATER)
    m2.pay("o2", "4", LATER)
    assert m2.state.debt == 6 and m2.held == -6
    m2.complain("malicious", LATER)
    assert m2.held == -6 and m2.state.status == "locked"


def test_clawback_takes_the_orders_own_lot_first(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", "2025-06-01T12:00:00+08:00")  # expires 2027-01-01
    m.pay("o2", "50", PAID)  # expires 2028-01-01
    m.refund("o2", "50", LATER)
    assert [(lot.order_id, lot.amount) for lot in m.state.lots] == [("o1", 100)]


def test_clawback_includes_pending_points(make_rules, member):
    m = member(make_rules({"points": {"pending_days": 7}}))
    m.pay("o1", "100", PAID)
    m.refund("o1", "40", "2026-03-02T12:00:00+08:00")
    (lot,) = m.state.lots
    assert lot.amount == 60 and lot.pending_until is not None
    assert held(m.state) == 60


@pytest.mark.parametrize("policy", ["cap_and_record", "negative_balance"])
def test_growth_clawback_never_goes_below_zero(make_rules, member, policy):
    m = member(make_rules({"points": {"clawback": policy}}))
    m.pay("o1", "100", PAID)
    m.refund("o1", "100", LATER)
    m.refund("o1", "100", LATER)
    assert m.state.growth == 0
    assert m.state.orders["o1"].growth_clawed == 100
