"""The abnormal spending monitor (engine/spending.py, engine/holds.py): each rule's boundary
(exactly N is normal, N + 1 trips), its actions (flag, hold, lock), the operators' release,
confirmation and dismissal, and the property that no event makes a held, locked or frozen
member's spendable points go up -- only a release does."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from config.risk import RedemptionBurst, SpendingRules
from engine.event_time import Arrival, apply_in_time
from engine.holds import HELD
from engine.intake import parse_event
from engine.operator_actions import operator_command_id
from engine.outcome import Applied
from engine.views import member_summary
from engine.wallet import spendable
from models.commands import AccountAction, RiskDecision
from models.devices import RiskAction, RiskFlag, RiskRule
from models.outputs import DeadLetterReason, LedgerKind, Notification, NotificationKind
from models.state import MemberStatus
from tests.engine.fixtures import Member, make_rules
from tests.engine.redemption_fixtures import request, result_of
from tests.engine.test_coupon_thresholds import gold_coupons, member_with_coupons, use

T0 = datetime.fromisoformat("2026-03-02T10:00:00+08:00")
MINUTE = timedelta(minutes=1)
QUIET = {"orders_per_hour": None, "amount_spike": None, "refund_after_spend": None, "redemption_burst": None}


def rules_with(**spending):
    return make_rules({"risk": {"spending": {**QUIET, **spending}}})


def flags(m: Member) -> list[RiskFlag]:
    return m.of(RiskFlag)


def decide(m: Member, decision: str, flag_id: str, at: datetime, request_id: str = "rq-1"):
    return m.apply(RiskDecision(
        type=f"risk_{decision}", command_id=operator_command_id("default", request_id), member_id=m.member_id,
        occurred_at=at, request_id=request_id, actor="t1:alice", reason="checked the orders", flag_id=flag_id))


def free(m: Member) -> int:
    """Points the member can spend, or will once ordinary pending periods are over: every lot's but
    the held ones (none of these tests reaches an expiry)."""
    state = m.state
    assert spendable(state, T0 + timedelta(days=400)) <= max(
        0, sum(lot.amount for lot in state.lots if lot.pending_until != HELD) - state.debt)
    return max(0, sum(lot.amount for lot in state.lots if lot.pending_until != HELD) - state.debt)


# -- orders per hour -----------------------------------------------------------------------------


@pytest.mark.parametrize(("orders", "tripped"), [(3, False), (4, True)])
def test_orders_per_hour_trips_beyond_max_orders(orders, tripped):
    m = Member(rules_with(orders_per_hour={"max_orders": 3, "action": "flag"}))
    for i in range(orders):
        m.pay(f"o{i}", "10", T0 + i * 19 * MINUTE)  # all within the hour that ends at the last
    got = flags(m)
    assert [f.rule for f in got] == ([RiskRule.ORDERS_PER_HOUR] if tripped else [])
    if tripped:
        flag = got[0]
        assert flag.action is RiskAction.FLAG_ONLY and flag.order_id == "o3" and flag.members == ["m1"]
        assert flag.evidence == {"orders": "4", "max_orders": "3"} and flag.limit == 3
        assert flag.window == timedelta(hours=1)
        assert m.held == 40 and free(m) == 40  # a flag only: nothing held


def test_orders_an_hour_apart_do_not_count_together():
    m = Member(rules_with(orders_per_hour={"max_orders": 1, "action": "flag"}))
    m.pay("o1", "10", T0)
    m.pay("o2", "10", T0 + timedelta(hours=1))  # exactly an hour later: the first is out of its hour
    assert flags(m) == []
    m.pay("o3", "10", T0 + timedelta(hours=1, seconds=1))
    assert [f.order_id for f in flags(m)] == ["o3"]


# -- amount spike ------------------------------------------------------------------------------


def spiky(action: str = "hold") -> Member:
    m = Member(rules_with(amount_spike={"factor": 5, "history": 3, "min_history": 3, "action": action}))
    for i, amount in enumerate(["10", "20", "30"]):  # median 20
        m.pay(f"h{i}", amount, T0 + i * timedelta(days=1))
    return m


@pytest.mark.parametrize(("amount", "tripped"), [("100", False), ("100.01", True)])
def test_amount_spike_trips_above_factor_times_the_median(amount, tripped):
    m = spiky("flag")
    m.pay("big", amount, T0 + timedelta(days=5))
    got = flags(m)
    assert [f.rule for f in got] == ([RiskRule.AMOUNT_SPIKE] if tripped else [])
    if tripped:
        assert got[0].evidence == {"amount": "100.01", "median": "20", "factor": "5", "orders": "3"}
        assert got[0].limit is None and got[0].window is None


def test_amount_spike_needs_min_history():
    m = Member(rules_with(amount_spike={"factor": 5, "history": 3, "min_history": 3, "action": "hold"}))
    m.pay("h0", "10", T0)
    m.pay("h1", "10", T0 + MINUTE)  # two orders of history: not judged
    m.pay("big", "1000", T0 + 2 * MINUTE)
    assert flags(m) == []
    m.pay("big2", "10000", T0 + 3 * MINUTE)  # three now (median 10): judged
    assert [f.order_id for f in flags(m)] == ["big2"]


def test_a_held_order_stays_pending_until_released():
    m = spiky()
    m.pay("big", "500", T0 + timedelta(days=5))
    flag = flags(m)[0]
    assert flag.action is RiskAction.HOLD
    assert m.held == 560 and free(m) == 60  # in the balance, not spendable
    earn = [e for e in m.ledger if e.order_id == "big"]
    assert [e.pending_until for e in earn] == [HELD]
    # a coupon of 10 yuan costs 100 points: the held 500 cannot pay for it
    asked = result_of(m.apply(request("coupon", "c1", T0 + timedelta(days=6), denomination="10")))
    assert asked.status.value == "rejected"
    # what it earns while the flag is open is held under the same flag
    m.pay("next", "20", T0 + timedelta(days=7))
    assert free(m) == 60 and m.held == 580
    risk = member_summary(m.state, m.rules, T0 + timedelta(days=7))["risk"]
    assert risk == {"open_flags": [{"flag_id": flag.flag_id, "rule": "amount_spike", "action": "hold",
                                    "at": (T0 + timedelta(days=5)).isoformat(), "order_id": "big"}],
                    "held_for_review": 520, "held_by_status": 0}
    released = decide(m, "release", flag.flag_id, T0 + timedelta(days=8))
    assert released.result is Applied.APPLIED
    entries = [o.value for o in released.outputs if o.value.__class__.__name__ == "LedgerEntry"]
    assert [(e.rule, e.delta, e.order_id, e.pending_until) for e in entries] == [
        ("risk_release", 0, "big", None), ("risk_release", 0, "next", None)]
    assert free(m) == 580 and m.held == 580
    assert member_summary(m.state, m.rules, T0 + timedelta(days=8))["risk"] == {
        "open_flags": [], "held_for_review": 0, "held_by_status": 0}
    note = [o.value for o in released.outputs if isinstance(o.value, Notification)]
    assert note[0].kind is NotificationKind.RISK_DECISION and note[0].data["points"] == 520
    assert note[0].message == f"risk flag {flag.flag_id} (amount_spike) released, 520 points: checked the orders"
    # a redelivery changes nothing; the flag is closed, so a second decision is refused
    again = decide(m, "release", flag.flag_id, T0 + timedelta(days=8))
    assert again.result is Applied.DUPLICATE and again.outputs == []
    late = decide(m, "confirm", flag.flag_id, T0 + timedelta(days=9), request_id="rq-2")
    assert late.result is Applied.REJECTED and late.reason is DeadLetterReason.INVALID_COMMAND


def test_a_confirmed_hold_cancels_its_points_with_a_ledger_entry():
    m = spiky()
    m.pay("big", "500", T0 + timedelta(days=5))
    flag = flags(m)[0]
    confirmed = decide(m, "confirm", flag.flag_id, T0 + timedelta(days=6))
    entries = [o.value for o in confirmed.outputs if o.value.__class__.__name__ == "LedgerEntry"]
    assert [(e.kind, e.rule, e.delta, e.balance, e.operator) for e in entries] == [
        (LedgerKind.ADJUSTMENT, "risk_confirm", -500, 60, "t1:alice")]
    assert m.held == 60 and free(m) == 60 and m.state.spending.held == {}


def test_a_hold_is_not_dismissed_and_a_flag_is_not_released():
    m = spiky()
    m.pay("big", "500", T0 + timedelta(days=5))
    hold = flags(m)[0]
    refused = decide(m, "dismiss", hold.flag_id, T0 + timedelta(days=6))
    assert refused.result is Applied.REJECTED and "release or confirm" in refused.detail
    other = spiky("flag")
    other.pay("big", "500", T0 + timedelta(days=5))
    flag = flags(other)[0]
    assert decide(other, "release", flag.flag_id, T0 + timedelta(days=6)).result is Applied.REJECTED
    assert decide(other, "dismiss", flag.flag_id, T0 + timedelta(days=6), "rq-2").result is Applied.APPLIED
    assert other.state.spending.flags == {}


def test_a_refund_of_a_held_order_claws_back_its_held_points():
    m = spiky()
    m.pay("big", "500", T0 + timedelta(days=5))
    m.refund("big", "500", T0 + timedelta(days=6))
    assert m.held == 60 and free(m) == 60
    # the release finds nothing left to release and forgets the lot
    flag = flags(m)[0]
    released = decide(m, "release", flag.flag_id, T0 + timedelta(days=7))
    assert released.result is Applied.APPLIED and m.state.spending.held == {}


def test_lock_action_locks_the_account_and_the_flag_says_so():
    m = spiky("lock")
    m.pay("big", "500", T0 + timedelta(days=5))
    assert m.state.status is MemberStatus.LOCKED
    assert "amount_spike" in m.state.status_reason
    assert flags(m)[0].action is RiskAction.LOCK
    # a locked member's order earns pending-only points (engine/holds.py)
    assert free(m) == 60 and m.held == 560


# -- refund after spending points ----------------------------------------------------------------------


@pytest.mark.parametrize(("after", "tripped"), [(timedelta(hours=1), True), (timedelta(hours=1, seconds=1), False)])
def test_refund_after_spend_within_the_window(after, tripped):
    m = Member(rules_with(refund_after_spend={"within": "PT1H", "action": "flag"}))
    m.pay("o1", "300", T0)
    assert result_of(m.apply(request("coupon", "c1", T0 + MINUTE, denomination="10"))).status.value == "accepted"
    m.refund("o1", "100", T0 + MINUTE + after)
    got = flags(m)
    assert [f.rule for f in got] == ([RiskRule.REFUND_AFTER_SPEND] if tripped else [])
    if tripped:
        assert got[0].evidence == {"spent_at": (T0 + MINUTE).isoformat(), "refund": "100"}


def test_a_refund_without_spending_is_not_flagged():
    m = Member(rules_with(refund_after_spend={"within": "PT1H", "action": "flag"}))
    m.pay("o1", "300", T0)
    m.refund("o1", "100", T0 + MINUTE)
    assert flags(m) == []


# -- redemption burst ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("coupons", "tripped"), [(2, False), (3, True)])
def test_redemption_burst_beyond_max(coupons, tripped):
    m = Member(rules_with(redemption_burst={"max_redemptions": 2, "window": "PT1H", "action": "hold"}))
    m.pay("o1", "1000", T0)
    for i in range(coupons):
        m.apply(request("coupon", f"c{i}", T0 + (i + 1) * MINUTE, denomination="10"))
    got = flags(m)
    assert [f.rule for f in got] == ([RiskRule.REDEMPTION_BURST] if tripped else [])
    m.pay("o2", "50", T0 + timedelta(hours=2))
    # a hold on a burst holds what the member earns from then on
    assert (m.state.lots[-1].pending_until == HELD) is tripped


def test_a_refused_coupon_request_is_not_a_redemption():
    m = Member(rules_with(redemption_burst={"max_redemptions": 1, "window": "PT1H", "action": "flag"}))
    m.pay("o1", "100", T0)  # 100 points: one 10 yuan coupon
    m.apply(request("coupon", "c1", T0 + MINUTE, denomination="10"))
    m.apply(request("coupon", "c2", T0 + 2 * MINUTE, denomination="10"))  # refused: no points left
    assert flags(m) == []


# -- deterministic ids, redeliveries ----------------------------------------------------------------


def test_the_same_event_gives_the_same_flag_and_a_redelivery_changes_nothing():
    a, b = spiky(), spiky()
    a.pay("big", "500", T0 + timedelta(days=5), event_id="e-big")
    b.pay("big", "500", T0 + timedelta(days=5), event_id="e-big")
    assert flags(a)[0].flag_id == flags(b)[0].flag_id
    again = a.pay("big", "500", T0 + timedelta(days=5), event_id="e-big")
    assert again.result is Applied.DUPLICATE and again.outputs == []


# -- locked and frozen accounts -----------------------------------------------------------------------


def account(m: Member, action: str, at: datetime, request_id: str):
    return m.apply(AccountAction(
        type=f"account_{action}", command_id=operator_command_id("default", request_id), member_id=m.member_id,
        occurred_at=at, request_id=request_id, actor="t1:alice", reason="appeal"))


@pytest.mark.parametrize("status", ["freeze", "lock"])
def test_a_frozen_or_locked_member_earns_pending_only_points_released_when_active(status):
    m = Member(make_rules())
    m.pay("o1", "10", T0)
    account(m, status, T0 + MINUTE, "rq-1")
    m.pay("o2", "20", T0 + 2 * MINUTE)
    assert m.held == 30 and free(m) == 10
    assert member_summary(m.state, m.rules, T0 + 2 * MINUTE)["risk"]["held_by_status"] == 20
    back = account(m, "unfreeze" if status == "freeze" else "unlock", T0 + 3 * MINUTE, "rq-2")
    entries = [o.value for o in back.outputs if o.value.__class__.__name__ == "LedgerEntry"]
    assert [(e.rule, e.delta, e.order_id) for e in entries] == [("status_release", 0, "o2")]
    assert free(m) == 30


# -- the property -----------------------------------------------------------------------------------------

EVENTS = st.lists(
    st.tuples(st.sampled_from(["pay", "refund", "coupon", "login", "review", "burst"]),
              st.integers(min_value=1, max_value=2000), st.integers(min_value=0, max_value=240)),
    max_size=25)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from(["hold", "freeze", "lock"]), events=EVENTS)
def test_no_event_raises_a_held_locked_or_frozen_members_spendable_points(start, events):
    """Whatever a held, locked or frozen member does -- orders (spiking or not), refunds, coupon
    exchanges, logins, reviews -- the points it can spend never go up; a release (and only it)
    restores them."""
    m = spiky()  # 60 points, a hold rule on spikes
    at = T0 + timedelta(days=5)
    if start == "hold":
        m.pay("big", "500", at)
        assert flags(m)
    else:
        account(m, start, at, "rq-0")
    orders = ["h0", "h1", "h2"] + (["big"] if start == "hold" else [])
    before = free(m)
    for i, (kind, amount, minutes) in enumerate(events):
        at += timedelta(minutes=minutes)
        if kind == "pay":
            m.pay(f"p{i}", str(amount), at)
            orders.append(f"p{i}")
        elif kind == "refund":
            m.refund(orders[amount % len(orders)], str(Decimal(amount) / 10), at)
        elif kind == "coupon":
            m.apply(request("coupon", f"c{i}", at, denomination="10"))
        elif kind == "login":
            m.login(at)
        elif kind == "review":
            m.review(at)
        else:
            m.pay(f"p{i}", "100000", at)  # far above the median: a new hold
            orders.append(f"p{i}")
        now = free(m)
        assert now <= before, (kind, amount)
        before = now
    assert m.state.status is not MemberStatus.ACTIVE or any(
        flag.action == "hold" for flag in m.state.spending.flags.values())
    # the release (or the return to active) is what makes them spendable
    if start == "hold":
        decide(m, "release", flags(m)[0].flag_id, at + MINUTE, "rq-release")
    else:
        account(m, "unfreeze" if start == "freeze" else "unlock", at + MINUTE, "rq-back")
    assert free(m) >= before


# -- event time: a late order ----------------------------------------------------------------------------


def test_a_late_order_that_trips_a_rule_publishes_its_flag():
    """Through event time (engine/event_time.py): the spiking order arrives after a later order, so
    the later one is replayed; the late order's flag is published (the replay adds flags, as it
    adds device reports) and the later order's earnings are held under it."""
    rules = rules_with(amount_spike={"factor": 5, "history": 3, "min_history": 3, "action": "hold"})
    record, published = None, []
    for n, (amount, at) in enumerate([("10", T0), ("10", T0 + MINUTE), ("10", T0 + 2 * MINUTE),
                                      ("20", T0 + 4 * MINUTE), ("500", T0 + 3 * MINUTE)]):
        raw = json.dumps({"event_id": f"e{n}", "member_id": "m1", "occurred_at": at.isoformat(),
                          "type": "order_paid", "order_id": f"o{n}", "amount": amount}).encode()
        record, outcome = apply_in_time(record, parse_event("orders", raw, 65536), Arrival("orders", raw), rules)
        published += outcome.outputs
    (flag,) = [o.value for o in published if isinstance(o.value, RiskFlag)]
    assert (flag.order_id, flag.action) == ("o4", RiskAction.HOLD)
    assert {lot.order_id for lot in record.state.lots if lot.pending_until == HELD} == {"o3", "o4"}


@pytest.mark.parametrize(("uses", "tripped"), [(2, False), (3, True)])
def test_benefit_uses_count_in_a_redemption_burst(uses, tripped):
    gold = gold_coupons(per_order=None, min_spend=None, count=3)
    burst = SpendingRules(orders_per_hour=None, amount_spike=None, refund_after_spend=None,
                          redemption_burst=RedemptionBurst(max_redemptions=2, window=timedelta(hours=1)))
    rules = gold.model_copy(update={"risk": gold.risk.model_copy(update={"spending": burst})})
    m, coupons = member_with_coupons(rules)
    for i, coupon in enumerate(coupons[:uses]):
        assert use(m, coupon, f"shop-{i}", None).result is Applied.APPLIED
    got = flags(m)
    assert [(f.rule, f.evidence.get("redemptions")) for f in got] == (
        [(RiskRule.REDEMPTION_BURST, "3")] if tripped else [])


def test_with_every_rule_off_nothing_is_kept_nor_flagged():
    m = Member(rules_with())
    for i in range(30):
        m.pay(f"o{i}", "10" if i < 29 else "100000", T0 + i * MINUTE)
    m.apply(request("coupon", "c1", T0 + timedelta(hours=1), denomination="10"))
    m.refund("o0", "10", T0 + timedelta(hours=1, minutes=1))
    assert flags(m) == [] and m.state.spending is UNSET
