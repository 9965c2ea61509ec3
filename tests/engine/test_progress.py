"""The member view's lots (soonest expiry first) and progress to the next tier."""

from __future__ import annotations

from datetime import datetime

from engine.views import member_summary

T0 = "2026-03-10T12:00:00+08:00"


def summary(m, at: str = "2026-03-10T13:00:00+08:00") -> dict:
    return member_summary(m.state, m.rules, datetime.fromisoformat(at))


def test_progress_names_the_next_tier_and_what_is_short(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "180", T0)
    progress = summary(m)["tier_progress"]
    assert progress["next_tier"] == "SILVER" and progress["by_invitation"] is False
    assert progress["closest"] == {"metric": "spend_30d", "money": True, "value": "180", "threshold": "200",
                                   "short": "20"}
    m.pay("o2", "20", "2026-03-10T12:30:00+08:00")  # exactly the threshold: SILVER, GOLD next
    progress = summary(m)["tier_progress"]
    assert m.tier == "SILVER" and progress["next_tier"] == "GOLD" and progress["closest"]["short"] == "300"


def test_the_top_tier_has_no_progress(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "20000", T0)
    assert m.tier == "BLACK_GOLD" and summary(m)["tier_progress"] is None


def test_lots_come_soonest_expiry_first_and_sum_to_the_balance(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "100", "2025-03-10T12:00:00+08:00")
    m.pay("o2", "50", T0)
    body = summary(m)
    lots = body["lots"]
    assert len(lots) >= 2 and sum(lot["points"] for lot in lots) == body["points"]["balance"] + body["points"]["debt"]
    expiries = [lot["expires_at"] for lot in lots if lot["expires_at"] is not None]
    assert expiries == sorted(expiries, key=datetime.fromisoformat) and expiries[0] < expiries[-1]
    assert body["currency"] == "CNY" and body["downgrade_at"] is None
