"""Complaints (seed 001 §5), growth value (seed 003 §3.3), logins and profiles."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from models.outputs import LedgerEntry, LedgerKind, Notification, NotificationKind
from models.state import MemberStatus, state_json

DAY = "2026-03-01T12:00:00+08:00"


def _of(outcome, kind):
    return [o.value for o in outcome.outputs if isinstance(o.value, kind)]


# -- complaints -----------------------------------------------------------------------


def test_malicious_complaint_deducts_ten(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    out = m.complain("malicious", "2026-03-02T12:00:00+08:00")
    (entry,) = _of(out, LedgerEntry)
    assert (entry.kind, entry.rule, entry.delta, entry.balance) == (
        LedgerKind.ADJUSTMENT, "complaint:malicious", -10, 15
    )
    assert _of(out, Notification) == []
    assert m.held == 15 and m.state.status is MemberStatus.ACTIVE


def test_malicious_complaint_with_exactly_ten_does_not_lock(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "10", DAY)
    m.complain("malicious", DAY)
    assert m.held == 0 and m.state.status is MemberStatus.ACTIVE and m.notifications == []


def test_malicious_complaint_with_too_few_points_takes_all_and_locks(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "7.90", DAY)  # 7 points
    out = m.complain("malicious", "2026-03-02T12:00:00+08:00")
    (entry,) = _of(out, LedgerEntry)
    assert (entry.delta, entry.balance) == (-7, 0)
    (note,) = _of(out, Notification)
    assert note.kind is NotificationKind.ACCOUNT_STATUS
    assert note.data["status"] == "locked" and note.data["shortfall"] == 3
    assert note.data["complaint_id"] == f"c-{note.cause_event_id}"
    assert m.state.status is MemberStatus.LOCKED and m.held == 0


def test_malicious_complaint_with_no_points_locks_without_ledger_entry(base_rules, member):
    m = member(base_rules)
    out = m.complain("malicious", DAY)
    assert _of(out, LedgerEntry) == []
    (note,) = _of(out, Notification)
    assert note.kind is NotificationKind.ACCOUNT_STATUS and note.data["shortfall"] == 10
    assert m.state.status is MemberStatus.LOCKED
    # a second one while locked deducts what it can but does not notify again
    m.pay("o1", "4", DAY)
    out = m.complain("malicious", "2026-03-02T12:00:00+08:00")
    assert [e.delta for e in _of(out, LedgerEntry)] == [-4]
    assert _of(out, Notification) == []


@pytest.mark.parametrize("verdict", ["upheld", "dismissed"])
def test_other_verdicts_deduct_nothing(base_rules, member, verdict):
    m = member(base_rules)
    m.pay("o1", "5", DAY)
    before_lots = m.state.lots[0].amount
    out = m.complain(verdict, DAY)
    assert out.result == "applied" and out.outputs == []
    assert m.held == 5 == before_lots and m.state.status is MemberStatus.ACTIVE


def test_configured_penalty_for_upheld(make_rules, member):
    m = member(make_rules({"complaints": {"upheld": {"deduct": 3}}}))
    m.pay("o1", "2", DAY)
    out = m.complain("upheld", DAY)
    assert [e.delta for e in _of(out, LedgerEntry)] == [-2]
    assert m.state.status is MemberStatus.ACTIVE  # lock_if_insufficient defaults off


def test_complaint_takes_soonest_expiring_points(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "8", "2025-06-01T12:00:00+08:00")  # expires 2027-01-01
    m.pay("o2", "20", DAY)  # expires 2028-01-01
    m.complain("malicious", DAY)
    assert [(lot.order_id, lot.amount) for lot in m.state.lots] == [("o2", 18)]


# -- growth -----------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "growth"), [("0.99", 0), ("1", 1), ("199.99", 199), ("1234.56", 1234)])
def test_order_growth_is_one_per_whole_yuan(base_rules, member, amount, growth):
    m = member(base_rules)
    m.pay("o1", amount, DAY)
    assert m.state.growth == growth
    assert m.state.orders["o1"].growth == growth


def test_review_growth_capped_at_three_per_local_day(base_rules, member):
    m = member(base_rules)
    for hour in (9, 10, 11):
        m.review(f"2026-03-01T{hour:02d}:00:00+08:00")
    assert m.state.growth == 15
    m.review("2026-03-01T23:59:00+08:00")  # 4th the same local day
    assert m.state.growth == 15
    m.review("2026-03-01T16:00:00Z")  # 2026-03-02T00:00 local: a new day
    assert m.state.growth == 20
    m.review("2026-03-02T08:00:00+08:00")
    m.review("2026-03-02T09:00:00+08:00")
    m.review("2026-03-02T10:00:00+08:00")
    assert m.state.growth == 30


def test_review_points_follow_daily_cap(base_rules, member):
    m = member(base_rules)
    for hour in (9, 10, 11, 12):
        m.review(f"2026-03-01T{hour:02d}:00:00+08:00")
    assert [(e.rule, e.delta) for e in m.ledger] == [("behaviour:review", 5)] * 3
    assert m.held == 15 and m.state.points_days == {date(2026, 3, 1): 15}


def test_late_review_counts_against_its_own_day(base_rules, member):
    m = member(base_rules)
    for hour in (9, 10, 11):
        m.review(f"2026-03-01T{hour:02d}:00:00+08:00")
    m.review("2026-03-03T09:00:00+08:00")  # moves the watermark on
    assert m.state.growth == 20
    m.review("2026-03-01T20:00:00+08:00")  # late, for the full day
    assert m.state.growth == 20
    m.review("2026-03-02T20:00:00+08:00")  # late, for an empty day
    assert m.state.growth == 25


def test_growth_clawed_on_refund(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "250.75", DAY)
    m.review(DAY)
    assert m.state.growth == 255
    m.refund("o1", "100", "2026-03-02T12:00:00+08:00")  # floor(250 * 100 / 250.75) = 99
    assert m.state.growth == 156
    m.refund("o1", "150.75", "2026-03-03T12:00:00+08:00")
    assert m.state.growth == 5  # the review's growth stays


def test_custom_growth_unit(make_rules, member):
    m = member(make_rules({"growth": {"per_unit": 2, "unit": 10}}))
    m.pay("o1", "99.99", DAY)
    assert m.state.growth == 18


# -- logins and profiles ---------------------------------------------------------------


def test_login_keeps_latest_time_and_earns_nothing_by_default(base_rules, member):
    m = member(base_rules)
    out = m.login("2026-03-02T12:00:00+08:00")
    assert out.result == "applied" and out.outputs == []
    m.login(DAY)  # older
    assert m.state.last_login_at == datetime.fromisoformat("2026-03-02T12:00:00+08:00")
    assert m.held == 0


def test_login_points_once_per_local_day(make_rules, member):
    m = member(make_rules({"points": {"earning": {"behaviours": {"points": {"login": 2}}}}}))
    m.login("2026-03-01T08:00:00+08:00")
    m.login("2026-03-01T20:00:00+08:00")
    m.login("2026-03-01T16:30:00Z")  # next local day
    assert m.held == 4 and [e.delta for e in m.ledger] == [2, 2]


def test_profile_facts_are_kept(base_rules, member):
    m = member(base_rules)
    out = m.profile(DAY, birthday=date(1990, 5, 17), time_zone="Europe/Paris")
    assert out.outputs == []
    assert m.state.birthday == date(1990, 5, 17) and m.state.time_zone == "Europe/Paris"
    out = m.profile(DAY, time_zone="Mars/Olympus")
    assert (out.result, out.reason) == ("rejected", "invalid_event")
    assert m.state.time_zone == "Europe/Paris"


def test_spend_days_keep_exact_decimals(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "0.10", DAY)
    m.pay("o2", "0.20", DAY)
    assert m.state.spend_days == {date(2026, 3, 1): Decimal("0.30")}


def test_reviews_too_late_for_the_daily_counters_earn_nothing_capped(base_rules, member):
    m = member(base_rules)
    for _ in range(3):
        m.review("2026-03-01T10:00:00+08:00")
    m.login("2026-04-20T10:00:00+08:00")  # event time moves on; 03-01's counters are gone
    growth, held = m.state.growth, m.held
    for _ in range(3):
        m.review("2026-03-01T11:00:00+08:00")
    assert (m.state.growth, m.held) == (growth, held)
    m.review("2026-04-19T10:00:00+08:00")  # a day still within reach earns as usual
    assert m.state.growth == growth + 5


def test_contact_details_are_published_not_kept(base_rules, member):
    m = member(base_rules)
    out = m.profile(DAY, name=" Ann Lee ", phone="+44 (20) 7946-0958", email="Ann@Example.COM")
    [change] = [o.value for o in out.outputs]
    assert (change.name, change.phone, change.email) == ("Ann Lee", "+442079460958", "ann@example.com")
    assert change.member_id == "m1" and change.cause_event_id == out.outputs[0].value.cause_event_id
    assert "Ann" not in state_json(m.state).decode()
    assert m.profile(DAY, birthday=date(1990, 5, 17)).outputs == []  # no contact detail given: nothing


def test_a_rejected_profile_publishes_no_contact_details(base_rules, member):
    m = member(base_rules)
    out = m.profile(DAY, name="Ann", time_zone="Mars/Olympus")
    assert (out.result, out.outputs) == ("rejected", [])
