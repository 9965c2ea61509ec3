"""Points earning rules (seed 001 §2): worked examples, caps, stacking, exact arithmetic.
(Their configuration: tests/config/test_earning.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.earning.schema import EarningRules
from engine.earning import TOTAL_COUNTER, EarnLine, behaviour_points, order_points
from models.events import OrderItem, OrderPaid

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAIN_DAY = datetime(2025, 6, 10, 12, 0, tzinfo=SHANGHAI)
NATIONAL_DAY = datetime(2025, 10, 3, 12, 0, tzinfo=SHANGHAI)
SECTIONS = [name for name in EarningRules.model_fields if name != "windows"]
DEFAULT = EarningRules()


def only(*enabled: str, **overrides: dict[str, Any]) -> EarningRules:
    """Rules with every section off except those named (defaults, plus overrides)."""
    data: dict[str, Any] = {name: {"enabled": name in enabled or name in overrides} for name in SECTIONS}
    for name, extra in overrides.items():
        data[name] |= extra
    return EarningRules.model_validate(data)


ALL_OFF = only()


def item(price: str, quantity: int = 1, *, sku: str = "SKU", category: str = "general") -> OrderItem:
    return OrderItem(sku=sku, category=category, unit_price=Decimal(price), quantity=quantity)


def order(amount: str, *items: OrderItem) -> OrderPaid:
    return OrderPaid(
        type="order_paid",
        event_id="e1",
        member_id="m1",
        occurred_at=datetime(2025, 6, 10, 4, 0, tzinfo=UTC),
        order_id="o1",
        amount=Decimal(amount),
        items=list(items),
    )


def earn(
    o: OrderPaid,
    rules: EarningRules,
    *,
    tier: str = "NORMAL",
    when: datetime = PLAIN_DAY,
    today: dict[str, int] | None = None,
) -> dict[str, int]:
    lines = order_points(o, tier=tier, local_time=when, rules=rules, earned_today=today or {})
    return {line.rule: line.points for line in lines}


BASE = only("base")


# --- rule 1: base ratio ---------------------------------------------------------------


def test_base_one_point_per_yuan_floors() -> None:
    assert earn(order("123.99"), BASE) == {"base": 123}


def test_base_one_point_per_ten_yuan() -> None:
    rules = only(base={"points_per_unit": 1, "unit": 10})
    assert earn(order("99.99"), rules) == {"base": 9}
    assert earn(order("100"), rules) == {"base": 10}
    assert earn(order("9.99"), rules) == {}


def test_base_is_on_the_net_amount_not_the_item_prices() -> None:
    assert earn(order("80", item("100")), BASE) == {"base": 80}


# --- rule 2: designated goods ---------------------------------------------------------


def test_designated_category_earns_one_to_two() -> None:
    o = order("150", item("100", category="featured"), item("50"))
    assert earn(o, only("base", "designated")) == {"base": 150, "category:featured": 100}


def test_designated_sku_and_largest_factor_wins() -> None:
    rules = only("base", designated={"skus": {"ABC": 3}})
    o = order("20", item("10", 2, sku="ABC", category="featured"))
    assert earn(o, rules) == {"base": 20, "sku:ABC": 40}
    tie = only("base", designated={"skus": {"ABC": 2}})
    assert earn(o, tie) == {"base": 20, "sku:ABC": 20}  # on a tie the SKU rule is named


def test_prorated_to_a_discounted_net_amount() -> None:
    o = order("90", item("60", category="featured"), item("40"))
    assert earn(o, only("base", "designated")) == {"base": 90, "category:featured": 54}


def test_amount_items_do_not_cover_earns_base_only() -> None:
    o = order("110", item("100", category="featured"))  # e.g. 10 shipping
    assert earn(o, only("base", "designated")) == {"base": 110, "category:featured": 100}


def test_each_line_is_floored() -> None:
    o = order("1", item("2", category="featured"), item("1"))  # featured share is 2/3
    assert earn(o, only("base", "designated")) == {"base": 1}


# --- rules 3 and 4: time windows ------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "window_points"),
    [
        (datetime(2025, 9, 30, 23, 59, tzinfo=SHANGHAI), None),
        (datetime(2025, 10, 1, 0, 0, tzinfo=SHANGHAI), 200),
        (datetime(2025, 10, 7, 23, 59, tzinfo=SHANGHAI), 200),
        (datetime(2025, 10, 8, 0, 0, tzinfo=SHANGHAI), None),
        (datetime(2025, 4, 30, 23, 59, tzinfo=SHANGHAI), None),
        (datetime(2025, 5, 5, 23, 59, tzinfo=SHANGHAI), 200),
        (datetime(2025, 5, 6, 0, 0, tzinfo=SHANGHAI), None),
    ],
)
def test_holiday_windows_triple_by_local_date(when: datetime, window_points: int | None) -> None:
    result = earn(order("100"), only("base", "window_multipliers"), when=when)
    window = [v for k, v in result.items() if k.startswith("window:")]
    assert result["base"] == 100
    assert window == ([] if window_points is None else [window_points])


def test_window_uses_the_local_day_not_utc() -> None:
    utc = datetime(2025, 9, 30, 16, 0, tzinfo=UTC)  # 2025-10-01 00:00 in Shanghai
    rules = only("base", "window_multipliers")
    assert earn(order("100"), rules, when=utc) == {"base": 100}
    assert earn(order("100"), rules, when=utc.astimezone(SHANGHAI)) == {"base": 100, "window:national_day": 200}


def test_absolute_and_wrapping_windows() -> None:
    rules = EarningRules.model_validate(
        {
            **{name: {"enabled": False} for name in SECTIONS},
            "base": {"enabled": True},
            "windows": [
                {"id": "singles", "starts_at": "2025-11-11T00:00:00", "ends_at": "2025-11-12T00:00:00"},
                {"id": "new_year", "start_day": "12-30", "end_day": "01-02"},
            ],
            "window_multipliers": {"multipliers": {"singles": 2, "new_year": 4}},
            "window_categories": {"enabled": False, "factors": {}},
        }
    )
    at = lambda *a: datetime(*a, tzinfo=SHANGHAI)  # noqa: E731
    assert earn(order("10"), rules, when=at(2025, 11, 10, 23, 59)) == {"base": 10}
    assert earn(order("10"), rules, when=at(2025, 11, 11, 0, 0)) == {"base": 10, "window:singles": 10}
    assert earn(order("10"), rules, when=at(2025, 11, 11, 23, 59)) == {"base": 10, "window:singles": 10}
    assert earn(order("10"), rules, when=at(2025, 11, 12, 0, 0)) == {"base": 10}
    assert earn(order("10"), rules, when=at(2026, 1, 1, 8, 0)) == {"base": 10, "window:new_year": 30}
    assert earn(order("10"), rules, when=at(2025, 12, 29, 23, 59)) == {"base": 10}


def test_window_category_stacks_on_the_window() -> None:
    o = order("150", item("100", category="fresh"), item("50"))
    rules = only("base", "window_multipliers", "window_categories")
    assert earn(o, rules, when=NATIONAL_DAY) == {
        "base": 150,
        "window:national_day": 300,
        "window_category:national_day:fresh": 300,
    }
    assert earn(o, rules, when=PLAIN_DAY) == {"base": 150}


def test_window_category_alone() -> None:
    o = order("100", item("100", category="fresh"))
    rules = only("base", "window_categories")
    assert earn(o, rules, when=NATIONAL_DAY) == {"base": 100, "window_category:national_day:fresh": 100}


# --- rule 5: tiers --------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "extra"), [("NORMAL", None), ("GOLD", None), ("DIAMOND", 51), ("BLACK_GOLD", 103)])
def test_tier_multiplier(tier: str, extra: int | None) -> None:
    expected = {"base": 103} | ({} if extra is None else {"tier_multiplier": extra})  # DIAMOND: 51.5 floors
    assert earn(order("103"), only("base", "tier_multipliers"), tier=tier) == expected


# --- rules 6 and 7: price ranges ------------------------------------------------------


def test_price_over_1000_doubles() -> None:
    rules = only("base", "price_ranges")
    assert earn(order("1000.01", item("1000.01")), rules) == {"base": 1000, "price_range:1000+": 1000}
    assert earn(order("1000", item("1000")), rules) == {"base": 1000}


def test_price_range_inclusive_and_bounded() -> None:
    ranges = [{"id": "mid", "min": 100, "op": ">=", "max": 200, "factor": 3}]
    rules = only("base", price_ranges={"ranges": ranges})
    assert earn(order("100", item("100")), rules) == {"base": 100, "price_range:mid": 200}
    assert earn(order("200", item("200")), rules) == {"base": 200, "price_range:mid": 400}
    assert earn(order("200.01", item("200.01")), rules) == {"base": 200}


def test_price_range_by_tier_and_largest_factor_wins() -> None:
    rules = only("base", "price_ranges", "price_range_tiers")
    assert earn(order("600", item("600")), rules, tier="GOLD") == {"base": 600, "price_range_tier:senior_500+": 300}
    assert earn(order("600", item("600")), rules, tier="NORMAL") == {"base": 600}
    assert earn(order("1200", item("1200")), rules, tier="GOLD") == {"base": 1200, "price_range:1000+": 1200}


# --- rules 8-11: bonuses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "bonus"),
    [("199.99", None), ("200", 10), ("499.99", 10), ("500", 20), ("500.01", 30), ("9000", 30)],
)
def test_threshold_bonus_highest_bracket_only(amount: str, bonus: int | None) -> None:
    assert earn(order(amount), only("threshold_bonus")) == ({} if bonus is None else {"threshold_bonus": bonus})


def test_threshold_brackets_in_any_order() -> None:
    brackets = [
        {"amount": 500, "op": ">", "points": 30},
        {"amount": 200, "points": 10},
        {"amount": 500, "op": ">=", "points": 20},
    ]
    rules = only(threshold_bonus={"brackets": brackets})
    assert [earn(order(a), rules) for a in ("500", "500.01")] == [{"threshold_bonus": 20}, {"threshold_bonus": 30}]


@pytest.mark.parametrize(
    ("tier", "amount", "bonus"),
    [
        ("GOLD", "299.99", 20),
        ("GOLD", "300", 30),
        ("BLACK_GOLD", "100", 10),
        ("GOLD", "99.99", None),
        ("NORMAL", "300", None),
    ],
)
def test_tier_threshold_every_full_hundred(tier: str, amount: str, bonus: int | None) -> None:
    expected = {} if bonus is None else {"tier_threshold_bonus": bonus}
    assert earn(order(amount), only("tier_threshold_bonus"), tier=tier) == expected


@pytest.mark.parametrize(("amount", "bonus"), [("230", 4), ("49.99", None), ("50", 1), ("99.99", 1)])
def test_step_bonus_per_full_fifty(amount: str, bonus: int | None) -> None:
    assert earn(order(amount), only("step_bonus")) == ({} if bonus is None else {"step_bonus": bonus})


def test_cart_quantity_bonus() -> None:
    rules = only("cart_quantity_bonus")
    assert earn(order("10", item("1", 2), item("1", 3)), rules) == {"cart_quantity_bonus": 10}
    assert earn(order("10", item("1", 4)), rules) == {}
    tiers = only(
        cart_quantity_bonus={"brackets": [{"min_quantity": 10, "points": 25}, {"min_quantity": 5, "points": 10}]}
    )
    assert earn(order("10", item("1", 12)), tiers) == {"cart_quantity_bonus": 25}


# --- rule 12: behaviours --------------------------------------------------------------


def behave(
    action: str, rules: EarningRules = DEFAULT, tier: str = "NORMAL", today: dict[str, int] | None = None
) -> list[EarnLine]:
    return behaviour_points(action, tier=tier, local_time=PLAIN_DAY, rules=rules, earned_today=today or {})


def test_behaviour_points() -> None:
    assert behave("review") == [EarnLine("behaviour:review", 5)]
    assert behave("registration") == [EarnLine("behaviour:registration", 5)]
    for kind in ("email", "phone", "real_name"):
        assert behave(f"verification_{kind}") == [EarnLine(f"behaviour:verification_{kind}", 5)]
    assert behave("login") == []
    assert behave("share") == []
    assert behave("review", ALL_OFF) == []


# --- caps -----------------------------------------------------------------------------


@pytest.mark.parametrize(("already", "points"), [(0, 5), (10, 5), (12, 3), (15, None), (40, None)])
def test_review_capped_at_three_a_day(already: int, points: int | None) -> None:
    lines = behave("review", today={"behaviour:review": already, TOTAL_COUNTER: already})
    assert lines == ([] if points is None else [EarnLine("behaviour:review", points)])


def test_rule_cap_on_base() -> None:
    rules = only("base", daily_caps={"rules": {"base": 50}})
    assert earn(order("80"), rules, today={"base": 20}) == {"base": 30}


def test_tier_cap_cuts_later_lines_first() -> None:
    rules = only("base", "step_bonus", "behaviours", daily_caps={"rules": {}, "tiers": {"NORMAL": 100}})
    assert earn(order("230"), rules, today={TOTAL_COUNTER: 0}) == {"base": 100}
    assert earn(order("60"), rules, today={TOTAL_COUNTER: 30}) == {"base": 60, "step_bonus": 1}
    assert earn(order("60"), rules, today={TOTAL_COUNTER: 65}) == {"base": 35}
    assert earn(order("60"), rules, today={TOTAL_COUNTER: 100}) == {}
    assert earn(order("230"), rules, tier="GOLD") == {"base": 230, "step_bonus": 4}
    assert behave("review", rules, today={TOTAL_COUNTER: 98}) == [EarnLine("behaviour:review", 2)]
    assert behave("review", rules, today={TOTAL_COUNTER: 100}) == []


def test_caps_switched_off() -> None:
    rules = only("behaviours")
    assert behave("review", rules, today={"behaviour:review": 99}) == [EarnLine("behaviour:review", 5)]


# --- everything together --------------------------------------------------------------


def test_everything_combined() -> None:
    o = order(
        "1480",  # items add up to 1850: every item gets 80 %
        item("100", 3, sku="F1", category="fresh"),
        item("50", sku="P1", category="featured"),
        item("1500", sku="TV", category="appliance"),
    )
    lines = order_points(o, tier="DIAMOND", local_time=NATIONAL_DAY, rules=DEFAULT, earned_today={})
    assert lines == [
        EarnLine("base", 1480),
        EarnLine("category:featured", 40),
        EarnLine("price_range:1000+", 1200),  # beats DIAMOND's senior_500+ x1.5
        EarnLine("window:national_day", 480 + 160 + 4800),
        EarnLine("window_category:national_day:fresh", 720),
        EarnLine("tier_multiplier", 720 + 120 + 3600),
        EarnLine("threshold_bonus", 30),
        EarnLine("tier_threshold_bonus", 140),
        EarnLine("step_bonus", 29),
        EarnLine("cart_quantity_bonus", 10),
    ]
    # proportional lines telescope to base * item factor * window * window category * tier
    assert sum(line.points for line in lines[:6]) == 240 * 3 * 2 * 3 // 2 + 40 * 2 * 3 * 3 // 2 + 1200 * 2 * 3 * 3 // 2


def test_all_off_earns_nothing() -> None:
    o = order("5000", item("1500", 10, sku="ABC", category="fresh"))
    assert order_points(o, tier="BLACK_GOLD", local_time=NATIONAL_DAY, rules=ALL_OFF, earned_today={}) == []
    assert all(behave(a, ALL_OFF) == [] for a in ("review", "registration", "verification_email", "login"))


def test_base_off_turns_off_every_proportional_rule() -> None:
    rules = DEFAULT.model_copy(update={"base": DEFAULT.base.model_copy(update={"enabled": False})})
    rules = EarningRules.model_validate(rules.model_dump())
    o = order("100", item("100", category="fresh"))
    assert earn(o, rules, tier="GOLD", when=NATIONAL_DAY) == {"tier_threshold_bonus": 10, "step_bonus": 2}


def test_pure_and_deterministic() -> None:
    o = order("230", item("46", 5))
    today = {TOTAL_COUNTER: 3}
    first = order_points(o, tier="GOLD", local_time=PLAIN_DAY, rules=DEFAULT, earned_today=today)
    assert first == order_points(o, tier="GOLD", local_time=PLAIN_DAY, rules=DEFAULT, earned_today=today)
    assert today == {TOTAL_COUNTER: 3}


# --- properties -----------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)
items = st.lists(
    st.builds(
        OrderItem,
        sku=st.sampled_from(["ABC", "XYZ"]),
        category=st.sampled_from(["fresh", "featured", "general"]),
        unit_price=st.integers(min_value=0, max_value=300_000).map(lambda c: Decimal(c) / 100),
        quantity=st.integers(min_value=1, max_value=20),
    ),
    max_size=5,
)
tiers = st.sampled_from(["NORMAL", "SILVER", "GOLD", "DIAMOND", "BLACK_GOLD"])
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=SHANGHAI)
)


def paid(amount: Decimal, its: list[OrderItem]) -> OrderPaid:
    return order(str(amount), *its)


@given(amount=cents, its=items, tier=tiers, when=moments)
def test_points_never_negative(amount: Decimal, its: list[OrderItem], tier: str, when: datetime) -> None:
    lines = order_points(paid(amount, its), tier=tier, local_time=when, rules=DEFAULT, earned_today={})
    assert all(isinstance(line.points, int) and line.points > 0 for line in lines)
    assert len({line.rule for line in lines}) == len(lines)


@given(
    a=cents,
    b=cents,
    its=items,
    per=st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c) / 100),
    unit=st.integers(min_value=1, max_value=100_000).map(lambda c: Decimal(c) / 100),
)
def test_base_only_is_monotone_in_amount(
    a: Decimal, b: Decimal, its: list[OrderItem], per: Decimal, unit: Decimal
) -> None:
    rules = only(base={"points_per_unit": per, "unit": unit})
    low, high = sorted((a, b))

    def total(amount: Decimal) -> int:
        return sum(earn(paid(amount, its), rules).values())

    assert total(low) <= total(high)


@given(
    amount=cents,
    its=items,
    tier=tiers,
    when=moments,
    cap=st.integers(min_value=0, max_value=5000),
    already=st.integers(min_value=0, max_value=6000),
    review_already=st.integers(min_value=0, max_value=20),
)
def test_capped_total_never_exceeds_the_cap(
    amount: Decimal, its: list[OrderItem], tier: str, when: datetime, cap: int, already: int, review_already: int
) -> None:
    rules = EarningRules.model_validate(
        {"daily_caps": {"rules": {"behaviour:review": 15, "base": 700}, "tiers": {tier: cap}}}
    )
    today = {TOTAL_COUNTER: already, "base": 100, "behaviour:review": review_already}
    lines = order_points(paid(amount, its), tier=tier, local_time=when, rules=rules, earned_today=today)
    after = dict(today)  # the caller bumps the counters by what was earned
    for line in lines:
        after[line.rule] = after.get(line.rule, 0) + line.points
        after[TOTAL_COUNTER] += line.points
    lines += behaviour_points("review", tier=tier, local_time=when, rules=rules, earned_today=after)
    assert sum(line.points for line in lines) <= max(0, cap - already)
    by_rule = {line.rule: line.points for line in lines}
    assert by_rule.get("base", 0) <= 600
    assert by_rule.get("behaviour:review", 0) <= max(0, 15 - review_already)


# --- exactness and tie-breaks of the compiled integer arithmetic ------------------------


def test_overlapping_windows_ties_go_to_the_first_listed() -> None:
    def rules(golden: int) -> EarningRules:
        return EarningRules.model_validate(
            {
                **{name: {"enabled": False} for name in SECTIONS},
                "base": {"enabled": True},
                "windows": [
                    {"id": "national_day", "start_day": "10-01", "end_day": "10-07"},
                    {"id": "golden", "start_day": "10-03", "end_day": "10-10"},
                ],
                "window_multipliers": {"multipliers": {"national_day": 2, "golden": golden}},
                "window_categories": {"factors": {"national_day": {"fresh": 2}, "golden": {"fresh": golden}}},
            }
        )

    o = order("10", item("10", category="fresh"))
    assert earn(o, rules(2), when=NATIONAL_DAY) == {
        "base": 10,
        "window:national_day": 10,
        "window_category:national_day:fresh": 20,
    }
    assert earn(o, rules(3), when=NATIONAL_DAY) == {
        "base": 10,
        "window:golden": 20,
        "window_category:golden:fresh": 60,
    }
    assert earn(o, rules(3), when=datetime(2025, 10, 9, 12, 0, tzinfo=SHANGHAI)) == {
        "base": 10,
        "window:golden": 20,
        "window_category:golden:fresh": 60,
    }


def test_factors_with_different_denominators_stay_exact() -> None:
    rules = only(
        "base",
        designated={"skus": {}, "categories": {"odd": "1.333"}},
        tier_multipliers={"tiers": {"GOLD": "1.25"}},
        price_ranges={"ranges": [{"id": "mid", "min": 50, "op": ">=", "max": 60, "factor": "1.5"}]},
    )
    o = order("400", item("100", 3, category="odd"), item("60"))  # 300 * 1.333 and 60 * 1.5
    assert earn(o, rules, tier="GOLD") == {
        "base": 400,
        "category:odd": 99,  # 99.9
        "price_range:mid": 30,
        "tier_multiplier": 132,  # (399.9 + 90 + 40 not covered by items) * 0.25 = 132.475
    }


def test_money_finer_than_cents_is_still_exact() -> None:
    # Validation keeps Money to two places; bypassing it must not make the arithmetic inexact.
    its = [OrderItem.model_construct(sku="SKU", category="featured", unit_price=Decimal("3.3335"), quantity=3)]
    rules = only("base", designated={"skus": {}, "categories": {"featured": 3}})
    discounted = order("10").model_copy(update={"items": its})  # items 10.0005, scaled down to 10
    assert earn(discounted, rules) == {"base": 10, "category:featured": 20}
    finer = order("10").model_copy(update={"amount": Decimal("20.0009"), "items": its})
    assert earn(finer, rules) == {"base": 20, "category:featured": 20}  # 20.001
