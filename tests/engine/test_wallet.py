"""Point lots: soonest-expiring first, pending points, expiry dates, debt."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.apply import new_member
from engine.wallet import add_lot, expires_at, held, pending, spendable, take
from models.state import PointLot

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=SH)


def _lot(lot_id: str, amount: int, *, expires: datetime | None, earned: datetime | None = None,
         pending_until: datetime | None = None, order_id: str | None = None) -> PointLot:
    return PointLot(lot_id=lot_id, amount=amount, earned_at=earned or datetime(2026, 1, 1, tzinfo=SH),
                    expires_at=expires, pending_until=pending_until, order_id=order_id)


def _state(base_rules, *lots: PointLot):
    state = new_member("default", "m1", base_rules)
    state.lots = list(lots)
    return state


def _amounts(state) -> dict[str, int]:
    return {lot.lot_id: lot.amount for lot in state.lots}


def test_take_spends_soonest_expiring_first(base_rules):
    state = _state(
        base_rules,
        _lot("late", 10, expires=datetime(2028, 1, 1, tzinfo=SH)),
        _lot("never", 10, expires=None),
        _lot("soon", 10, expires=datetime(2027, 1, 1, tzinfo=SH)),
        _lot("soonest", 5, expires=datetime(2026, 7, 1, tzinfo=SH)),
    )
    assert take(state, 12, NOW) == 12
    assert _amounts(state) == {"late": 10, "never": 10, "soon": 3}
    assert take(state, 100, NOW) == 23
    assert state.lots == []


def test_take_ties_on_expiry_go_to_the_earliest_earned(base_rules):
    exp = datetime(2027, 1, 1, tzinfo=SH)
    state = _state(
        base_rules,
        _lot("b", 10, expires=exp, earned=datetime(2025, 3, 1, tzinfo=SH)),
        _lot("a", 10, expires=exp, earned=datetime(2025, 2, 1, tzinfo=SH)),
    )
    take(state, 15, NOW)
    assert _amounts(state) == {"b": 5}


def test_take_skips_pending_and_expired_unless_asked(base_rules):
    state = _state(
        base_rules,
        _lot("expired", 10, expires=datetime(2026, 6, 1, 12, 0, tzinfo=SH)),  # expires_at <= as_of
        _lot("pending", 10, expires=datetime(2027, 1, 1, tzinfo=SH), pending_until=NOW + timedelta(seconds=1)),
        _lot("ok", 10, expires=datetime(2028, 1, 1, tzinfo=SH)),
    )
    assert spendable(state, NOW) == 10
    assert pending(state, NOW) == 10
    assert held(state) == 30
    assert take(state, 25, NOW) == 10
    assert _amounts(state) == {"expired": 10, "pending": 10}
    assert take(state, 25, NOW, include_pending=True) == 10
    assert take(state, 25, NOW, include_expired=True) == 10
    assert state.lots == []


def test_pending_lot_becomes_spendable_at_pending_until(base_rules):
    until = NOW + timedelta(days=1)
    state = _state(base_rules, _lot("p", 10, expires=None, pending_until=until))
    assert spendable(state, until - timedelta(microseconds=1)) == 0
    assert spendable(state, until) == 10
    assert take(state, 4, until) == 4


def test_take_order_lots_first_even_if_expiring_later(base_rules):
    state = _state(
        base_rules,
        _lot("other", 10, expires=datetime(2026, 7, 1, tzinfo=SH)),
        _lot("mine", 10, expires=datetime(2028, 1, 1, tzinfo=SH), order_id="o1"),
    )
    assert take(state, 12, NOW, order_id="o1") == 12
    assert _amounts(state) == {"other": 8}


def test_take_never_takes_points_owed_as_debt(base_rules):
    state = _state(base_rules, _lot("a", 10, expires=None))
    state.debt = 4
    assert held(state) == 6 and spendable(state, NOW) == 6
    assert take(state, 10, NOW) == 6
    assert held(state) == 0 and take(state, 1, NOW) == 0
    assert take(state, 0, NOW) == 0 and take(state, -5, NOW) == 0


def test_add_lot_pays_debt_first(base_rules):
    state = _state(base_rules)
    state.debt = 15
    add_lot(state, _lot("a", 10, expires=None))
    assert state.debt == 5 and state.lots == []
    add_lot(state, _lot("b", 10, expires=None))
    assert state.debt == 0 and _amounts(state) == {"b": 5}


# -- pending points through the engine ---------------------------------------------------


def test_pending_points_counted_in_balance_but_not_spendable(make_rules, member):
    rules = make_rules({"points": {"pending_days": 7}})
    m = member(rules)
    m.pay("o1", "100", "2026-03-01T12:00:00+08:00")
    (entry,) = m.ledger
    paid_at = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
    assert entry.balance == 100 and entry.pending_until == paid_at + timedelta(days=7)
    (lot,) = m.state.lots
    assert lot.pending_until == paid_at + timedelta(days=7)
    assert held(m.state) == 100
    assert spendable(m.state, paid_at + timedelta(days=6)) == 0
    assert pending(m.state, paid_at + timedelta(days=6)) == 100
    assert take(m.state, 50, paid_at + timedelta(days=6)) == 0
    assert spendable(m.state, paid_at + timedelta(days=7)) == 100
    assert take(m.state, 50, paid_at + timedelta(days=7)) == 50


def test_behaviour_points_are_never_pending(make_rules, member):
    m = member(make_rules({"points": {"pending_days": 7}}))
    m.review("2026-03-01T12:00:00+08:00")
    (lot,) = m.state.lots
    assert lot.pending_until is None and lot.order_id is None
    assert spendable(m.state, datetime.fromisoformat("2026-03-01T12:00:00+08:00")) == 5


# -- expiry dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned", "expected"),
    [
        ("2026-03-01T12:00:00+08:00", datetime(2028, 1, 1, tzinfo=SH)),
        ("2026-01-01T00:00:00+08:00", datetime(2028, 1, 1, tzinfo=SH)),
        ("2026-12-31T23:59:59+08:00", datetime(2028, 1, 1, tzinfo=SH)),
        ("2026-12-31T16:00:00Z", datetime(2029, 1, 1, tzinfo=SH)),  # local 2027-01-01
        ("2024-02-29T12:00:00+08:00", datetime(2026, 1, 1, tzinfo=SH)),
    ],
)
def test_end_of_next_year_expiry(base_rules, earned, expected):
    assert expires_at(datetime.fromisoformat(earned), base_rules) == expected


def test_earned_lot_carries_expiry(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "10", "2026-03-01T12:00:00+08:00")
    expected = datetime.fromisoformat("2028-01-01T00:00:00+08:00")
    assert m.state.lots[0].expires_at == expected
    assert m.ledger[0].expires_at == expected


@pytest.mark.parametrize(
    ("months", "earned", "expected"),
    [
        (12, "2026-03-01T12:00:00+08:00", datetime(2027, 3, 2, tzinfo=SH)),
        (1, "2026-01-31T12:00:00+08:00", datetime(2026, 3, 1, tzinfo=SH)),  # clamped to 02-28
        (6, "2026-08-31T12:00:00+08:00", datetime(2027, 3, 1, tzinfo=SH)),
        (24, "2024-02-29T12:00:00+08:00", datetime(2026, 3, 1, tzinfo=SH)),
        (3, "2026-02-28T17:00:00Z", datetime(2026, 6, 2, tzinfo=SH)),  # local 03-01
    ],
)
def test_months_after_earning_expiry(make_rules, months, earned, expected):
    rules = make_rules({"points": {"expiry": {"mode": "months_after_earning", "months": months}}})
    assert expires_at(datetime.fromisoformat(earned), rules) == expected


def test_never_expiring_points(make_rules, member):
    m = member(make_rules({"points": {"expiry": {"mode": "never"}}}))
    m.pay("o1", "10", "2026-03-01T12:00:00+08:00")
    assert m.state.lots[0].expires_at is None and m.ledger[0].expires_at is None
