"""The badge views of the member API (seed 000's badge page): badge list with
aggregated rights, and a badge's detail with what the next level still needs."""

from __future__ import annotations

from datetime import datetime

from engine.badge_views import badge_detail, badges_summary
from engine.views import member_summary
from tests.engine.badge_fixtures import SEED_PAYLOAD, Holder, shipped

SCORES = {k: v for k, v in SEED_PAYLOAD.items() if k not in ("user_pin", "dt")}


def seeded() -> Holder:
    m = Holder(shipped().default, "xxx")
    m.send(**SCORES)
    return m


def test_member_summary_lists_badges_and_aggregated_rights():
    m = seeded()
    body = member_summary(m.state, m.rules, datetime.fromisoformat("2022-12-01T00:00:00+08:00"))
    assert [(b["line_id"], b["level"], b["level_name"]) for b in body["badges"]] == [
        ("gold_bar", 1, "Gold Bar Holder"), ("small_treasury", 1, "Treasury Starter"), ("wealth", 2, "Wealth Gold")]
    wealth = body["badges"][2]
    assert wealth["rule_version"] == 1 and wealth["since"] == "2022-11-30T00:00:00+08:00"
    assert wealth["rights_issued_for"] == "2022-11"  # issued on reaching the level, renewed monthly
    assert [r["benefit"] for r in wealth["rights"]] == ["wealth_fee_coupon", "wealth_market_report"]
    rights = {r["benefit"]: r["sources"] for r in body["badge_rights"]}
    assert sorted(rights) == ["gold_storage_fee_waiver", "treasury_yield_boost", "wealth_fee_coupon",
                              "wealth_market_report"]
    assert rights["wealth_fee_coupon"] == [{"line_id": "wealth", "level": 2, "benefit": "wealth_fee_coupon",
                                            "description": "20 yuan purchase fee coupon", "value": "20",
                                            "quantity": 1, "valid_days": 30}]


def test_rights_of_one_benefit_from_several_lines_are_grouped():
    m = Holder(shipped().default)
    m.send(xjk_jy_amt="5000", jt_hold_amt="60000")  # treasury 2, gold bar 3
    m.send("2022-12-01", line_id="wealth", lc_score="450", jt_hold_amt="60000", gdlc_jy_flag="0")  # wealth 2
    rights = {r["benefit"]: r["sources"] for r in badges_summary(m.state, m.rules)["badge_rights"]}
    assert [(s["line_id"], s["value"]) for s in rights["wealth_fee_coupon"]] == [("wealth", "20")]
    assert [(s["line_id"], s["level"]) for s in rights["gold_buy_discount"]] == [("gold_bar", 3)]


def test_no_badges_yet():
    m = Holder(shipped().default)
    m.send(xjk_jy_amt="10")
    assert badges_summary(m.state, m.rules) == {"badges": [], "badge_rights": []}


def test_badge_detail_says_what_the_next_level_needs():
    m = seeded()
    detail = badge_detail(m.state, m.rules, "wealth")
    assert (detail["level"], detail["level_name"], detail["qualified_level"], detail["rule_version"]) == (
        2, "Wealth Gold", 2, 1)
    assert detail["values"] == {"lc_score": "450", "jt_hold_amt": "3000.00", "gdlc_jy_flag": "0"}
    assert detail["rights_issued_for"] == "2022-11"
    m.evaluate("2022-12-01T00:00:00+08:00")
    assert badge_detail(m.state, m.rules, "wealth")["rights_issued_for"] == "2022-12"
    assert detail["fields"] == {"lc_score": "int", "jt_hold_amt": "decimal", "gdlc_jy_flag": "flag"}
    nxt = detail["next_level"]
    assert (nxt["level"], nxt["name"], nxt["met"]) == (3, "Wealth Diamond", False)
    assert nxt["missing"] == [
        {"field": "lc_score", "op": ">=", "threshold": "600", "current": "450", "met": False, "gap": "150"},
        {"field": "gdlc_jy_flag", "op": "==", "threshold": "1", "current": "0", "met": False, "gap": None},
        {"field": "jt_hold_amt", "op": ">=", "threshold": "50000", "current": "3000.00", "met": False,
         "gap": "47000.00"},
    ]
    assert list(nxt["rule"]) == ["all", "met"] and list(nxt["rule"]["all"][1]) == ["any", "met"]
    # every level's rule, explained with the member's values
    assert [lv["rule"]["met"] for lv in detail["levels"]] == [True, True, False]


def test_badge_detail_at_the_top_and_for_lines_without_values():
    m = Holder(shipped().default)
    m.send(xjk_jy_amt="25000")
    top = badge_detail(m.state, m.rules, "small_treasury")
    assert top["level"] == 3 and top["next_level"] is None
    none_yet = badge_detail(m.state, m.rules, "baitiao")
    assert none_yet["level"] == 0 and none_yet["qualified_level"] is None
    assert none_yet["values"] == {"bt_score": None, "bt_yq_flag": None}
    assert [c["current"] for c in none_yet["next_level"]["missing"]] == [None, None]
    assert badge_detail(m.state, m.rules, "no_such_line") is None
