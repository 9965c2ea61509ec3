"""The due moment the periodic evaluation skips members by (``engine.evaluation.next_due``).

A worker stores ``next_due(state, rules, since)`` with every state and passes
over a member when the evaluation's ``as_of`` lies in ``[since, due)``.  That
is only safe if evaluating the member at any such moment does nothing at all:
no output, no change to the state.  The property below checks exactly that,
on states built field by field (odd combinations included) under rules that
move every knob the due moments depend on.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from config.rules import TenantRules
from engine.evaluation import evaluate_member, next_due
from models.badges import BadgeState
from models.redemption_state import GiftStatus, IssuedCoupon, ReceivedGift
from models.state import MemberState, PointLot
from tests.unit.conftest import make_rules

T = datetime.fromisoformat("2026-03-01T00:00:00+08:00")
HOURS = st.integers(-24 * 800, 24 * 800)
DAYS = st.integers(-400, 60)
SOON = st.integers(-24 * 40, 24 * 800)  # expiries, deadlines: mostly after the evaluations
SINCE = st.integers(-24 * 60, 24 * 10)  # evaluations near T, most of the members' moments on either side

RULE_VARIANTS = {
    "shipped": {},
    "utc-growth-birthday-at-base": {
        "time_zone": "UTC",
        "tiers": {"tiers": [
            {"id": "NORMAL", "benefits": {"birthday_pack": {"value": 10, "valid_days": 30}}},
            {"id": "SILVER", "qualify": [{"metric": {"kind": "growth"}, "threshold": 300}]},
            {"id": "GOLD", "qualify": [{"metric": {"kind": "growth"}, "threshold": 900}], "protection_days": 10},
        ]},
        "evaluation": {"nudges": {"next_tier_gap": 50, "every_days": 3, "churn_days": 5}},
        "points": {"expiry": {"warn_lead_days": 10, "warn_every_days": 2}},
        "redemptions": {"coupons": {"remind_months_before": 0}},
    },
    "points-window-daily-nudges": {
        "tiers": {"tiers": [
            {"id": "NORMAL"},
            {"id": "SILVER", "qualify": [{"metric": {"kind": "points_earned", "window_days": 7}}], "threshold": 100},
        ]},
        "evaluation": {"nudges": {"next_tier_gap": 30, "churn_days": 1, "every_days": 1}},
        "points": {"expiry": {"warn_lead_days": 0}},
    },
}


def _rules(overrides: dict) -> TenantRules:
    overrides = copy.deepcopy(overrides)
    tiers = overrides.get("tiers", {}).get("tiers")
    if tiers and "threshold" in tiers[-1]:  # shorthand above: move the threshold into the condition
        tiers[-1]["qualify"][0]["threshold"] = tiers[-1].pop("threshold")
    return make_rules(overrides)


@pytest.fixture(scope="module", params=list(RULE_VARIANTS))
def rules(request) -> TenantRules:
    return _rules(RULE_VARIANTS[request.param])


def at(hours: int) -> datetime:
    return T + timedelta(hours=hours)


def on(days: int) -> date:
    return T.date() + timedelta(days=days)


@st.composite
def member_states(draw) -> MemberState:
    opt = lambda strategy: draw(st.none() | strategy)  # noqa: E731
    lots = [PointLot(lot_id=f"l{i}", amount=draw(st.integers(1, 500)), earned_at=at(draw(HOURS)),
                     expires_at=opt(SOON.map(at)))
            for i in range(draw(st.integers(0, 3)))]
    coupons = [IssuedCoupon(coupon_id=f"c{i}", request_id="r", denomination=Decimal(5), quantity=1,
                            valid_from=at(0), valid_until=at(draw(SOON)), reminders_sent=draw(st.integers(0, 3)))
               for i in range(draw(st.sampled_from([0, 0, 0, 1])))]
    gifts = {f"g{i}": ReceivedGift(from_member_id="x", points=5, offered_at=at(0), respond_by=at(draw(SOON)),
                                   status=draw(st.sampled_from(list(GiftStatus))))
             for i in range(draw(st.sampled_from([0, 0, 0, 1])))}
    periods = {"birthday_pack": str(draw(st.integers(2024, 2028)))} if draw(st.booleans()) else {}
    state = MemberState(
        tenant_id="t", member_id="m",
        tier=draw(st.sampled_from(["NORMAL"] * 6 + ["SILVER", "GOLD", "DIAMOND", "UNKNOWN"])),
        lots=lots,
        growth=draw(st.integers(0, 1500)),
        spend_days={on(d): Decimal(draw(st.integers(1, 250))) for d in draw(st.lists(DAYS, max_size=2))},
        points_days={on(d): draw(st.integers(1, 250)) for d in draw(st.lists(DAYS, max_size=2))},
        birthday=opt(st.builds(date, st.just(1990), st.integers(1, 12), st.integers(1, 28))),
        benefit_periods=periods,
        nudged_on={k: on(draw(DAYS)) for k in draw(st.sets(st.sampled_from(["next_tier", "churn", "retention"])))},
        expiry_warned_on=opt(DAYS.map(on)),
        last_login_at=opt(st.integers(-24 * 60, 24 * 10).map(at)),
        downgrade_at=at(draw(HOURS)) if draw(st.integers(0, 9)) == 7 else None,
        watermark=opt(HOURS.map(at)),
    )
    state.redemption.coupons = coupons
    state.redemption.gifts_received = gifts
    if draw(st.integers(0, 9)) == 7:
        state.badges = {"line": BadgeState(level=1)}
    return state


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=member_states(), since_hours=SINCE, minutes=st.integers(0, 59), fraction=st.floats(0, 1, exclude_max=True))
def test_evaluating_a_member_before_its_due_moment_does_nothing(rules, state, since_hours, minutes, fraction):
    since = at(since_hours) + timedelta(minutes=minutes)
    due = next_due(state, rules, since)
    note(f"since {since}, due {due}")
    if due is not None and due <= since:
        return  # due at once: the evaluation runs, nothing is skipped
    last = (due if due is not None else since + timedelta(days=800)) - timedelta(microseconds=1)
    for as_of in {since, since + (last - since) * fraction, last}:
        before = state.model_copy(deep=True)
        changed, outputs = evaluate_member(before, rules, as_of, "eval")
        assert (changed, outputs, before) == (False, [], state), f"as of {as_of}"


def test_the_due_moments_of_plain_members(rules):
    """The property above is not vacuous: ordinary quiet members get a due moment
    in the future, and the moments are the rules' own."""
    if rules.tz.key != "Asia/Shanghai" or rules.evaluation.nudges.churn_days != 30:
        pytest.skip("figures below are the shipped rules'")
    expires = datetime.fromisoformat("2026-12-31T23:59:59+08:00")
    quiet = MemberState(tenant_id="t", member_id="m", last_login_at=T,
                        lots=[PointLot(lot_id="l", amount=5, earned_at=T, expires_at=expires)])
    assert next_due(quiet, rules, T) == T + timedelta(days=30)  # churn warning
    quiet.last_login_at = None
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)  # expiry warning
    quiet.spend_days = {T.date(): Decimal(150)}  # inside the 30-day window: the next-tier gap moves
    assert next_due(quiet, rules, T) == T
    quiet.spend_days = {T.date() - timedelta(days=29): Decimal(185)}  # the window's first day, 15 short
    assert next_due(quiet, rules, T) == T
    quiet.spend_days = {T.date() - timedelta(days=30): Decimal(185)}  # out of the window for good
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)
    quiet.spend_days = {T.date() - timedelta(days=40): Decimal(150)}
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)
    quiet.tier = "SILVER"
    assert next_due(quiet, rules, T) == T  # above the base tier: downgrade checks and coupons
    assert next_due(MemberState(tenant_id="t", member_id="m"), rules, T) is None
