"""Tier upgrades in real time (seed 003 §1, §2.2): thresholds, windows by local day, gifts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from engine.apply import new_member
from engine.qualification import qualification
from models.outputs import BenefitGrant, TierChange, TierDirection

T0 = "2026-03-10T12:00:00+08:00"


@pytest.mark.parametrize(
    ("amount", "tier"),
    [
        ("199.99", "NORMAL"),
        ("200", "SILVER"),
        ("499.99", "SILVER"),
        ("500.00", "GOLD"),
        ("999.99", "GOLD"),
        ("1000", "DIAMOND"),
        ("19999.99", "DIAMOND"),
        ("20000", "BLACK_GOLD"),
    ],
)
def test_single_order_reaches_threshold_tier(base_rules, member, amount, tier):
    m = member(base_rules)
    m.pay("o1", amount, T0)
    assert m.tier == tier
    changes = m.tier_changes
    if tier == "NORMAL":
        assert changes == [] and m.grants == []
    else:
        assert [(c.from_tier, c.to_tier, c.direction) for c in changes] == [("NORMAL", tier, TierDirection.UP)]
        assert changes[0].reason == "qualified"


def test_spend_accumulates_over_orders_in_30_days(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-01T10:00:00+08:00")
    assert m.tier == "NORMAL"
    m.pay("o2", "49.99", "2026-03-15T10:00:00+08:00")
    assert m.tier == "NORMAL"  # 199.99
    m.pay("o3", "0.01", "2026-03-30T10:00:00+08:00")
    assert m.tier == "SILVER"  # 200.00 within 03-01..03-30
    (change,) = m.tier_changes
    assert change.metric == "spend_30d" and change.metric_value == Decimal("200.00")
    assert change.cause_event_id == "m1-e3"


def test_several_tiers_at_once_emit_one_change_and_the_new_tiers_gift(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", T0)
    out = m.pay("o2", "1200", "2026-03-11T09:00:00+08:00")
    changes = [o.value for o in out.outputs if isinstance(o.value, TierChange)]
    grants = [o.value for o in out.outputs if isinstance(o.value, BenefitGrant)]
    assert [(c.from_tier, c.to_tier) for c in changes] == [("NORMAL", "DIAMOND")]
    assert changes[0].metric_value == Decimal("1300")
    assert len(grants) == 1
    gift = grants[0]
    assert (gift.benefit, gift.tier, gift.value) == ("upgrade_gift", "DIAMOND", Decimal("50"))
    assert gift.valid_from == out.outputs[0].value.occurred_at
    assert gift.valid_until - gift.valid_from == timedelta(days=30)
    assert gift.details == {"description": "DIAMOND upgrade coupon"}
    assert m.state.tier_since == gift.valid_from


def test_each_step_up_grants_that_tiers_gift(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "200", T0)
    m.pay("o2", "300", "2026-03-11T12:00:00+08:00")
    m.pay("o3", "500", "2026-03-12T12:00:00+08:00")
    assert [(c.from_tier, c.to_tier) for c in m.tier_changes] == [
        ("NORMAL", "SILVER"),
        ("SILVER", "GOLD"),
        ("GOLD", "DIAMOND"),
    ]
    assert [(g.tier, g.value) for g in m.grants] == [
        ("SILVER", Decimal("10")),
        ("GOLD", Decimal("20")),
        ("DIAMOND", Decimal("50")),
    ]
    assert len({c.change_id for c in m.tier_changes}) == 3


def test_black_gold_by_365_day_spend(base_rules, member):
    m = member(base_rules)
    # 10 orders of 1999.99 a month apart: never 20000 in 30 days, 19999.90 in the year
    day = date(2025, 4, 1)
    for i in range(10):
        m.pay(f"o{i}", "1999.99", f"{day + timedelta(days=33 * i)}T12:00:00+08:00")
    assert m.tier == "DIAMOND"
    last_day = day + timedelta(days=33 * 9)
    m.pay("o-last", "0.10", f"{last_day + timedelta(days=1)}T12:00:00+08:00")
    assert m.tier == "BLACK_GOLD"
    change = m.tier_changes[-1]
    assert (change.from_tier, change.to_tier, change.metric, change.metric_value) == (
        "DIAMOND", "BLACK_GOLD", "spend_365d", Decimal("20000.00")
    )
    assert m.grants[-1].tier == "BLACK_GOLD" and m.grants[-1].value == Decimal("100")


def test_365_day_window_excludes_day_366(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "10000", "2025-03-01T12:00:00+08:00")
    m.pay("o2", "10000", "2026-03-01T12:00:00+08:00")  # 2025-03-01 is 366 days back
    assert m.tier == "DIAMOND"
    n = member(base_rules, "m2")
    n.pay("o1", "10000", "2025-03-02T12:00:00+08:00")
    n.pay("o2", "10000", "2026-03-01T12:00:00+08:00")  # day 365 of the window
    assert n.tier == "BLACK_GOLD"


def test_black_gold_by_invitation(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "50", T0)
    out = m.profile("2026-03-11T08:00:00+08:00", invited_tier="BLACK_GOLD")
    assert m.tier == "BLACK_GOLD"
    (change,) = [o.value for o in out.outputs if isinstance(o.value, TierChange)]
    assert (change.from_tier, change.to_tier, change.reason) == ("NORMAL", "BLACK_GOLD", "invitation")
    (gift,) = [o.value for o in out.outputs if isinstance(o.value, BenefitGrant)]
    assert (gift.tier, gift.value) == ("BLACK_GOLD", Decimal("100"))
    # the invitation sticks: no downgrade and no second change on later events
    m.pay("o2", "5000", "2026-03-12T08:00:00+08:00")
    assert m.tier == "BLACK_GOLD" and len(m.tier_changes) == 1


def test_invitation_to_a_tier_not_by_invitation_does_not_upgrade(base_rules, member):
    m = member(base_rules)
    m.profile(T0, invited_tier="GOLD")
    assert m.tier == "NORMAL" and m.tier_changes == []


def test_invitation_to_unknown_tier_is_rejected(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "10", T0)
    before = m.snapshot()
    out = m.profile(T0, invited_tier="PLATINUM")
    assert out.result == "rejected" and out.reason == "invalid_event"
    assert m.snapshot() == before


def test_no_real_time_downgrade_when_spend_leaves_the_window(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "600", "2026-01-01T12:00:00+08:00")
    assert m.tier == "GOLD"
    m.pay("o2", "1", "2026-03-01T12:00:00+08:00")  # 30-day spend is 1 now
    m.login("2026-04-01T12:00:00+08:00")
    m.review("2026-04-02T12:00:00+08:00")
    assert m.tier == "GOLD"
    assert [c.direction for c in m.tier_changes] == [TierDirection.UP]


def test_refund_does_not_downgrade(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "1000", T0)
    assert m.tier == "DIAMOND"
    m.refund("o1", "1000", "2026-03-11T12:00:00+08:00")
    assert m.tier == "DIAMOND"
    assert len(m.tier_changes) == 1
    q = qualification(m.state, base_rules.tiers, date(2026, 3, 11))
    assert q.tier == "NORMAL" and q.value == 0


def test_refunded_spend_cannot_count_toward_a_later_upgrade(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", T0)
    m.refund("o1", "100", "2026-03-11T12:00:00+08:00")
    m.pay("o2", "100", "2026-03-12T12:00:00+08:00")
    assert m.tier == "NORMAL"  # 50 + 100
    m.pay("o3", "50", "2026-03-12T13:00:00+08:00")
    assert m.tier == "SILVER"


# -- 30-day window by local day (Asia/Shanghai) -----------------------------------


def test_late_evening_local_order_counts_on_its_local_day(base_rules, member):
    # 2026-03-01T23:30+08:00 is local day 03-01 (UTC 15:30, also 03-01)
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-01T23:30:00+08:00")
    assert m.state.spend_days == {date(2026, 3, 1): Decimal("150")}
    m.pay("o2", "60", "2026-03-30T12:00:00+08:00")  # window 03-01..03-30
    assert m.tier == "SILVER"

    n = member(base_rules, "m2")
    n.pay("o1", "150", "2026-03-01T23:30:00+08:00")
    n.pay("o2", "60", "2026-03-31T00:10:00+08:00")  # window 03-02..03-31
    assert n.tier == "NORMAL"


def test_utc_afternoon_is_next_local_day(base_rules, member):
    # 2026-03-01T16:30Z is 2026-03-02T00:30 in Shanghai: local day 03-02
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-01T16:30:00Z")
    assert m.state.spend_days == {date(2026, 3, 2): Decimal("150")}
    m.pay("o2", "60", "2026-03-31T12:00:00+08:00")  # window 03-02..03-31 still holds it
    assert m.tier == "SILVER"

    n = member(base_rules, "m2")
    n.pay("o1", "150", "2026-03-01T15:59:59Z")  # 23:59:59 local, day 03-01
    n.pay("o2", "60", "2026-03-31T12:00:00+08:00")
    assert n.tier == "NORMAL"


def test_window_ends_on_local_day_not_utc_day(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-02T00:30:00+08:00")  # local 03-02, UTC 03-01
    # 2026-03-31T20:00Z is local 04-01: window 03-03..04-01 drops 03-02
    m.pay("o2", "60", "2026-03-31T20:00:00Z")
    assert m.tier == "NORMAL"


def test_late_event_lands_in_its_own_day_inside_the_window(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-31T12:00:00+08:00")
    out = m.pay("o2", "60", "2026-03-15T12:00:00+08:00")  # late, out of order
    assert m.state.spend_days == {date(2026, 3, 31): Decimal("150"), date(2026, 3, 15): Decimal("60")}
    assert m.tier == "SILVER"
    (change,) = [o.value for o in out.outputs if isinstance(o.value, TierChange)]
    assert change.metric_value == Decimal("210")
    assert m.state.watermark == m.state.orders["o1"].paid_at


def test_late_event_outside_the_current_window_does_not_upgrade(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "150", "2026-03-31T12:00:00+08:00")
    m.pay("o2", "60", "2026-03-01T12:00:00+08:00")  # 31 local days before the watermark
    assert m.state.spend_days[date(2026, 3, 1)] == Decimal("60")
    assert m.tier == "NORMAL"
    m.pay("o3", "50", "2026-03-02T12:00:00+08:00")  # day 30 of the window
    assert m.tier == "SILVER"


def test_qualification_reports_highest_tier_and_base(base_rules):
    state = new_member("default", "m1", base_rules)
    q = qualification(state, base_rules.tiers, date(2026, 3, 1))
    assert (q.rank, q.tier, q.reason, q.metric, q.value) == (0, "NORMAL", "base", "spend_30d", 0)
    state.spend_days[date(2026, 2, 1)] = Decimal("700")
    assert qualification(state, base_rules.tiers, date(2026, 3, 2)).tier == "GOLD"  # day 30
    assert qualification(state, base_rules.tiers, date(2026, 3, 3)).tier == "NORMAL"  # day 31
    state.invited_tier = "BLACK_GOLD"
    q = qualification(state, base_rules.tiers, date(2026, 3, 3))
    assert (q.tier, q.reason) == ("BLACK_GOLD", "invitation")


# -- custom ladders -----------------------------------------------------------------


def _ladder(metric: dict, thresholds: dict[str, int]) -> dict:
    tiers = [{"id": "BASIC"}]
    tiers += [
        {"id": tid, "qualify": [{"metric": metric, "threshold": value}],
         "upgrade_gift": {"value": value, "valid_days": 7}}
        for tid, value in thresholds.items()
    ]
    return {"tiers": {"tiers": tiers}}


def test_growth_ladder(make_rules, member):
    rules = make_rules(_ladder({"kind": "growth"}, {"BRONZE": 100, "SILVERISH": 300}))
    m = member(rules)
    assert m.pay("o1", "99.99", T0).outputs  # growth 99
    assert m.state.tier == "BASIC" and m.state.growth == 99
    m.review("2026-03-10T13:00:00+08:00")  # +5 growth
    assert m.state.growth == 104 and m.tier == "BRONZE"
    assert m.tier_changes[-1].metric == "growth" and m.tier_changes[-1].metric_value == 104
    assert m.grants[-1].tier == "BRONZE" and m.grants[-1].value == 100
    m.pay("o2", "196", "2026-06-10T12:00:00+08:00")  # growth never leaves a window
    assert m.state.growth == 300 and m.tier == "SILVERISH"


def test_points_earned_ladder(make_rules, member):
    rules = make_rules(
        _ladder({"kind": "points_earned", "window_days": 7}, {"BRONZE": 100})
        | {"points": {"earning": {"base": {"points_per_unit": 2}}}}
    )
    m = member(rules)
    m.pay("o1", "30", "2026-03-01T12:00:00+08:00")  # 60 points
    m.pay("o2", "20", "2026-03-08T12:00:00+08:00")  # 40 points, but 03-01 left the 7 days
    assert m.state.points_days == {date(2026, 3, 1): 60, date(2026, 3, 8): 40}
    assert m.tier == "BASIC"
    m.pay("o3", "10", "2026-03-08T13:00:00+08:00")  # 60 in 03-02..03-08
    assert m.tier == "BASIC"
    m.pay("o4", "20", "2026-03-08T14:00:00+08:00")  # 100
    assert m.tier == "BRONZE"
    assert m.tier_changes[-1].metric == "points_earned_7d" and m.tier_changes[-1].metric_value == 100
