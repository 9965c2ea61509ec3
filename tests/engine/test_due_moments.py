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
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from msgspec import UNSET

from config.rules import TenantRules
from config.tiers import Cadence
from engine.benefits import period_of
from engine.clock import add_months
from engine.evaluation import (
    DUE_ORDER,
    EVALUATION_HOOKS,
    evaluate_marked,
    evaluate_member,
    evaluate_record,
    next_due,
)
from engine.lifecycle import freeze_date
from models.badges import BadgeState
from models.journal import MemberRecord
from models.redemption_state import GiftStatus, IssuedCoupon, ReceivedGift
from models.state import MemberRegistration, MemberState, MemberStatus, PointLot, copy_state
from tests.engine.fixtures import make_rules

T = datetime.fromisoformat("2026-03-01T00:00:00+08:00")
HOURS = st.integers(-24 * 800, 24 * 800)
DAYS = st.integers(-400, 60)
RECENT = st.integers(-40, 0)  # days (before an evaluation) in and around its 30-day windows
AMOUNTS = st.integers(1, 250) | st.integers(150, 1200)  # near the thresholds, single days and sums
SOON = st.integers(-24 * 20, 24 * 400)  # expiries, deadlines: mostly after the evaluations
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


TIER_CADENCE = {"SILVER": Cadence.MONTH, "GOLD": Cadence.WEEK, "DIAMOND": Cadence.WEEK}


@st.composite
def member_states(draw, since: datetime) -> MemberState:
    """Mostly members near ``since``: windows, coupon periods around it."""
    opt = lambda strategy: draw(st.none() | strategy)  # noqa: E731
    around = lambda days: since.date() + timedelta(days=days)  # noqa: E731
    at = lambda hours: since + timedelta(hours=hours)  # noqa: E731
    tier = draw(st.sampled_from(["NORMAL"] * 5 + ["SILVER", "SILVER", "GOLD", "DIAMOND", "UNKNOWN"]))
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
    if draw(st.booleans()):  # this period's tier coupons granted, or some other period's
        cadence = TIER_CADENCE.get(tier, Cadence.DAY) if draw(st.booleans()) else draw(st.sampled_from(list(Cadence)))
        periods["tier_coupon"] = period_of(around(draw(st.integers(-10, 0))), cadence)
    state = MemberState(
        tenant_id="t", member_id="m",
        tier=tier,
        lots=lots,
        growth=draw(st.integers(0, 1500)),
        spend_days={around(d): Decimal(draw(AMOUNTS)) for d in draw(st.lists(DAYS | RECENT, max_size=3))},
        points_days={around(d): draw(st.integers(1, 250)) for d in draw(st.lists(DAYS, max_size=2))},
        birthday=opt(st.builds(date, st.just(1990), st.integers(1, 12), st.integers(1, 28))),
        benefit_periods=periods,
        nudged_on={k: around(draw(DAYS)) for k in draw(st.sets(st.sampled_from(["next_tier", "churn", "retention"])))},
        expiry_warned_on=opt(DAYS.map(around)),
        last_login_at=opt(st.integers(-24 * 45, 0).map(at)),
        downgrade_at=at(draw(st.integers(-24 * 10, 24 * 40))) if draw(st.integers(0, 5)) == 3 else None,
        downgrade_warned=draw(st.booleans()),
        watermark=opt(HOURS.map(at)),
    )
    state.redemption.coupons = coupons
    state.redemption.gifts_received = gifts
    lifecycle(state, since, draw)
    if draw(st.integers(0, 4)) == 2:
        badges(state, since, draw)
    if tier in TIER_CADENCE and draw(st.integers(0, 3)):
        settle(state, since, draw)
    return state


def badges(state: MemberState, since: datetime, draw) -> None:
    """Badges of the shipped lines (and a retired one): a level its stored values qualify for or
    not, decided before or after ``since``, a downgrade pending (warned or not), this month's
    rights issued or another month's (engine/badges.py)."""
    at = lambda hours: since + timedelta(hours=hours)  # noqa: E731
    for line_id in draw(st.lists(st.sampled_from(["baitiao", "gold_bar", "retired"]), max_size=2, unique=True)):
        values = ({"bt_score": str(draw(st.sampled_from([400, 500, 650, 800]))),
                   "bt_yq_flag": str(draw(st.integers(0, 1)))} if line_id == "baitiao"
                  else {"jt_hold_amt": str(draw(st.sampled_from([500, 1000, 10000, 100000])))})
        if draw(st.integers(0, 5)) == 0:
            values = {}  # values this version cannot read
        state.badges[line_id] = BadgeState(
            level=draw(st.integers(0, 3)), since=draw(st.none() | SINCE.map(at)), values=values,
            protection_until=draw(st.none() | SOON.map(at)), downgrade_warned=draw(st.booleans()))
        if draw(st.booleans()):
            month = add_months(since.date(), draw(st.integers(-1, 0)))
            state.benefit_periods[f"badge_rights:{line_id}"] = period_of(month, Cadence.MONTH)


def lifecycle(state: MemberState, since: datetime, draw) -> None:
    """The inactivity freeze's inputs: a status, a return to active (an unfreeze), a login or
    registration months ago, its warning sent or not (engine/lifecycle.py)."""
    at = lambda hours: since + timedelta(hours=hours)  # noqa: E731
    state.status = draw(st.sampled_from([MemberStatus.ACTIVE] * 4 + [MemberStatus.LOCKED, MemberStatus.FROZEN]))
    if draw(st.booleans()):
        state.status_since = at(draw(st.integers(-24 * 120, 0)))
    if draw(st.integers(0, 3)) == 0:
        state.last_login_at = at(draw(st.integers(-24 * 100, -24 * 80)))  # near its freeze date
    if draw(st.integers(0, 3)) == 0:
        state.registration = MemberRegistration(event_id="r", registered_at=at(draw(st.integers(-24 * 100, 0))),
                                                channel="app", device_id="d")
    if draw(st.booleans()):
        state.inactivity_warned_for = freeze_date(state, make_rules()) or UNSET


def settle(state: MemberState, since: datetime, draw) -> None:
    """A settled member of a shipped tier: qualified by a few days of spend in the
    window (or fallen short, with a downgrade pending), this period's coupons
    granted, seen lately, nothing expiring soon, so that the moments its tier's
    rules fall due (a day leaving the window, the next coupon period, the
    downgrade's warning and the downgrade) are what the property tests."""
    threshold = {"SILVER": 200, "GOLD": 500, "DIAMOND": 1000}[state.tier]
    days = draw(st.lists(st.integers(-29, 0), min_size=1, max_size=3, unique=True))
    amounts = draw(st.lists(st.integers(1, threshold), min_size=len(days), max_size=len(days)))
    amounts[0] = max(1, amounts[0] + threshold + draw(st.integers(0, 60)) - sum(amounts))  # just qualified
    state.spend_days = {since.date() + timedelta(days=d): Decimal(a) for d, a in zip(days, amounts, strict=True)}
    state.benefit_periods["tier_coupon"] = period_of(since.date(), TIER_CADENCE[state.tier])
    state.last_login_at = since - timedelta(hours=draw(st.integers(0, 24 * 20)))
    state.lots = [lot for lot in state.lots if lot.expires_at is None or lot.expires_at > since + timedelta(days=60)]
    state.downgrade_at, state.badges, state.nudged_on = None, {}, {}
    if draw(st.booleans()):  # fallen short since: a downgrade pending, warned or not
        state.spend_days = {d: v for d, v in state.spend_days.items() if v < threshold // 2}
        state.downgrade_at = since + timedelta(hours=draw(st.integers(0, 24 * 30)))
        state.downgrade_warned = draw(st.booleans())
    state.redemption.coupons, state.redemption.gifts_received = [], {}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), since_hours=SINCE, minutes=st.integers(0, 59), fraction=st.floats(0, 1, exclude_max=True))
def test_evaluating_a_member_before_its_due_moment_does_nothing(rules, data, since_hours, minutes, fraction):
    since = at(since_hours) + timedelta(minutes=minutes)
    state = data.draw(member_states(since))
    due = next_due(state, rules, since)
    note(f"since {since}, due {due}")
    if due is not None and due <= since:
        return  # due at once: the evaluation runs, nothing is skipped
    last = (due if due is not None else since + timedelta(days=800)) - timedelta(microseconds=1)
    for as_of in {since, since + (last - since) * fraction, last}:
        before = copy_state(state)
        changed, outputs = evaluate_member(before, rules, as_of, "eval")
        assert (changed, outputs, before) == (False, [], state), f"as of {as_of}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), as_of_hours=SINCE)
def test_evaluate_marked_is_evaluate_record_then_next_due(rules, data, as_of_hours):
    """The slice runner's shortcut (a member with nothing due is not evaluated, and the moment that
    said so is its mark) changes, emits and marks exactly what the long way does."""
    as_of = at(as_of_hours)
    state = data.draw(member_states(as_of))
    long_way, short_way = MemberRecord(copy_state(state)), MemberRecord(copy_state(state))
    changed, outputs = evaluate_record(long_way, rules, as_of, "eval")
    since = as_of if long_way.state.watermark is None else max(as_of, long_way.state.watermark)
    expected = (changed, outputs, since, next_due(long_way.state, rules, since))
    likely_due = data.draw(st.booleans())  # a hint (the stored mark's): the results do not depend on it
    assert tuple(evaluate_marked(short_way, rules, as_of, "eval", likely_due)) == expected
    assert short_way.state == long_way.state


def test_next_due_asks_every_hook_once():
    assert sorted(map(id, DUE_ORDER)) == sorted(id(hook.due) for hook in EVALUATION_HOOKS)


def test_the_due_moments_of_plain_members():
    """The property above is not vacuous: ordinary members get a due moment in
    the future, and the moments are the shipped rules' own."""
    rules = _rules(RULE_VARIANTS["shipped"])
    expires = datetime.fromisoformat("2026-12-31T23:59:59+08:00")
    quiet = MemberState(tenant_id="t", member_id="m", last_login_at=T,
                        lots=[PointLot(lot_id="l", amount=5, earned_at=T, expires_at=expires)])
    assert next_due(quiet, rules, T) == T + timedelta(days=30)  # churn warning
    quiet.last_login_at = None
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)  # expiry warning
    quiet.spend_days = {T.date(): Decimal(150)}  # 50 short of SILVER: the gap can only grow
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)
    quiet.spend_days = {T.date(): Decimal(185)}  # 15 short: the next-tier nudge is due
    assert next_due(quiet, rules, T) == T
    quiet.spend_days = {T.date() - timedelta(days=29): Decimal(185)}  # the window's first day
    assert next_due(quiet, rules, T) == T
    quiet.spend_days = {T.date() - timedelta(days=30): Decimal(185)}  # out of the window for good
    assert next_due(quiet, rules, T) == expires - timedelta(days=30)
    quiet.spend_days = {T.date() - timedelta(days=5): Decimal(20), T.date(): Decimal(190)}  # above SILVER's 200:
    assert next_due(quiet, rules, T) == T  # not upgraded (as of no event), and 10 short once the 20 leaves

    silver = MemberState(tenant_id="t", member_id="m", tier="SILVER",
                         spend_days={T.date() - timedelta(days=5): Decimal(260)})
    assert next_due(silver, rules, T) == T  # this month's coupons not granted yet
    silver.benefit_periods["tier_coupon"] = "2026-03"
    assert next_due(silver, rules, T) == T + timedelta(days=25)  # the 260 leaves the 30-day window
    silver.spend_days[T.date() - timedelta(days=2)] = Decimal(1)
    assert next_due(silver, rules, T) == T + timedelta(days=25)  # 260 alone leaving may drop the tier
    silver.spend_days = {T.date() - timedelta(days=35): Decimal(260)}
    assert next_due(silver, rules, T) == T  # no longer qualifies: the downgrade is scheduled at once
    silver.spend_days, silver.downgrade_at = {}, T + timedelta(days=20)  # a downgrade pending, still short:
    assert next_due(silver, rules, T) == T + timedelta(days=13)  # its warning, 7 days ahead
    silver.downgrade_warned = True
    assert next_due(silver, rules, T) == T + timedelta(days=20)  # the downgrade itself
    silver.spend_days = {T.date(): Decimal(300)}
    assert next_due(silver, rules, T) == T  # qualifies again: called off at once
    gold = MemberState(tenant_id="t", member_id="m", tier="GOLD", benefit_periods={"tier_coupon": "2026-W09"},
                       spend_days={T.date(): Decimal(600)})
    assert next_due(gold, rules, T) == T + timedelta(days=1)  # 1 March 2026 is a Sunday: coupons on Monday
    assert next_due(MemberState(tenant_id="t", member_id="m"), rules, T) is None


def _badge_holder(since: datetime, **badge) -> MemberState:
    state = MemberState(tenant_id="t", member_id="m", last_login_at=since)
    state.badges = {"baitiao": BadgeState(since=since - timedelta(days=3), **badge)}
    state.benefit_periods["badge_rights:baitiao"] = period_of(since.date(), Cadence.MONTH)
    return state


def test_a_badge_holder_is_due_when_its_rights_renew():
    """Rights issued for this month: nothing until the next local month, when they renew."""
    rules, since = make_rules(), datetime.fromisoformat("2026-03-10T02:00:00+08:00")
    state = _badge_holder(since, level=2, values={"bt_score": "700", "bt_yq_flag": "0"})
    due = next_due(state, rules, since)
    assert due == datetime.fromisoformat("2026-04-01T00:00:00+08:00")
    assert evaluate_member(copy_state(state), rules, due - timedelta(microseconds=1), "e") == (False, [])
    changed, outputs = evaluate_member(copy_state(state), rules, due, "e")
    assert changed and {out.value.benefit for out in outputs} == {"baitiao_interest_coupon", "baitiao_limit_boost"}


def test_a_badge_short_of_its_level_is_due_at_its_warning_then_its_downgrade():
    rules, since = make_rules(), datetime.fromisoformat("2026-03-10T02:00:00+08:00")
    short = {"bt_score": "600", "bt_yq_flag": "0"}  # level 1's values under a level-2 badge
    assert next_due(_badge_holder(since, level=2, values=short), rules, since) == since  # protection starts
    ends = since + timedelta(days=12)
    state = _badge_holder(since, level=2, values=short, protection_until=ends)
    assert next_due(state, rules, since) == ends - timedelta(days=7)  # downgrade_warning_days
    state.badges["baitiao"].downgrade_warned = True
    assert next_due(state, rules, since) == ends
    requalified = _badge_holder(since, level=2, values={"bt_score": "700", "bt_yq_flag": "0"}, downgrade_warned=True)
    assert next_due(requalified, rules, since) == since  # a pending downgrade to cancel


def test_a_line_published_at_run_time_changes_the_due_marks_key():
    """A badge's due moments depend on its line's definition, so a mark holds only under it."""
    from config.rules import RuleBook
    from engine.published_lines import PublishedLines

    rules = make_rules()
    lines = PublishedLines(RuleBook(rules, {}))
    before = lines.book.default.due_fingerprint
    definition = rules.business_lines["baitiao"].model_dump() | {"tenant_id": "t", "line_id": "baitiao", "version": 2}
    assert lines.offer(json.dumps(definition, default=str).encode(), 1 << 20).verdict == "applied"
    after = lines.book.default
    assert after.fingerprint == rules.fingerprint and after.due_fingerprint != before
    arm_free = after.for_member("t", "m", "NORMAL", datetime.fromisoformat("2026-03-10T02:00:00+08:00"))
    assert arm_free.due_fingerprint == after.due_fingerprint
