"""The compiled form of the points-earning rules: what :mod:`engine.earning` reads per event.

Every ratio and factor becomes exact integers at load (a factor as a
numerator over a denominator shared by its whole stacking step), so per-event
arithmetic is exact integer arithmetic and nothing is re-parsed per event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: the schema builds its compiled form by calling compile_earning
    from config.earning.schema import EarningRules, PriceRange, QuantityBracket

DayRange = tuple[tuple[int, int], tuple[int, int]]



def window_contains(
    days: DayRange | None, starts_at: datetime | None, ends_at: datetime | None, local_time: datetime
) -> bool:
    if days is None:
        assert starts_at is not None and ends_at is not None
        return starts_at <= local_time.replace(tzinfo=None) < ends_at
    first, last = days
    today = (local_time.month, local_time.day)
    if first <= last:
        return first <= today <= last
    return today >= first or today <= last


Scaled = tuple[str, int]
"""A rule that can apply: its ledger rule name and its factor times its step's denominator."""


def _denominator(factors: Iterable[Decimal]) -> int:
    """The least common denominator of some factors (1 for none)."""
    return math.lcm(1, *(Fraction(f).denominator for f in factors))


def _scaled(factor: Decimal, denominator: int) -> int:
    """``factor * denominator``, exactly an integer as ``denominator`` comes from :func:`_denominator`."""
    scaled = Fraction(factor) * denominator
    assert scaled.denominator == 1
    return scaled.numerator


@dataclass(frozen=True, slots=True)
class Ranged:
    """A price range (rules 6 and 7) that can raise an item's factor."""

    min: Decimal
    strict: bool  # ``op`` is ``>``
    max: Decimal | None
    factor: Scaled  # over ``Compiled.item_denominator``


@dataclass(frozen=True, slots=True)
class Timed:
    """A window some multiplier refers to (rules 3 and 4)."""

    days: DayRange | None
    starts_at: datetime | None
    ends_at: datetime | None
    multiplier: Scaled | None  # over ``Compiled.window_denominator``
    categories: dict[str, Scaled]  # over ``Compiled.window_category_denominator``

    def contains(self, local_time: datetime) -> bool:
        """As :meth:`Window.contains`."""
        return window_contains(self.days, self.starts_at, self.ends_at, local_time)


@dataclass(frozen=True, slots=True)
class Compiled:
    """What :mod:`engine.earning` reads; disabled sections compile to nothing.

    Factors are integers over one denominator per stacking step (item factor,
    window, window x category, tier): the least common denominator of every
    factor that step can use, so each step's arithmetic stays in integers.
    Factors of 1 are left out (they never apply), and so are windows no
    multiplier refers to.  Recurring windows are looked up by month and day.
    """

    ratio: tuple[int, int] | None  # points_per_unit / unit, reduced; None: no proportional points
    item_denominator: int
    skus: dict[str, Scaled]
    categories: dict[str, Scaled]
    price_ranges: tuple[Ranged, ...]  # for a tier no tiered range names
    tier_price_ranges: dict[str, tuple[Ranged, ...]]  # for the tiers some tiered range names
    window_denominator: int
    window_category_denominator: int
    # (month, day) -> the windows that may be open then, in the order listed: the
    # recurring ones open that day and every absolute one; absent: absolute_windows.
    windows_by_day: dict[tuple[int, int], tuple[Timed, ...]]
    absolute_windows: tuple[Timed, ...]  # ``starts_at``..``ends_at``, open or not by the time of day too
    tier_denominator: int
    tier_multipliers: dict[str, int]
    thresholds: tuple[tuple[Decimal, bool, int], ...]  # amount, strict (``>``), points; highest first
    tier_steps: dict[str, tuple[int, int, int]]  # every as numerator, denominator; points
    step: tuple[int, int, int] | None
    quantities: tuple[QuantityBracket, ...]
    behaviours: dict[str, int]
    rule_caps: dict[str, int]
    order_rule_caps: dict[str, int]  # the rule caps on rules an order can earn (not ``behaviour:``)
    tier_caps: dict[str, int]


def compile_earning(rules: EarningRules) -> Compiled:
    """The compiled form of ``rules``; disabled sections compile to nothing."""
    on = rules.base.enabled
    ratio = Fraction(rules.base.points_per_unit) / Fraction(rules.base.unit)
    designated = on and rules.designated.enabled
    designated_skus = rules.designated.skus if designated else {}
    designated_categories = rules.designated.categories if designated else {}
    ranges: list[tuple[str, PriceRange, frozenset[str] | None]] = []
    if on and rules.price_ranges.enabled:
        ranges += [(f"price_range:{r.id}", r, None) for r in rules.price_ranges.ranges]
    if on and rules.price_range_tiers.enabled:
        ranges += [(f"price_range_tier:{r.id}", r, frozenset(r.tiers)) for r in rules.price_range_tiers.ranges]
    wm = rules.window_multipliers.multipliers if on and rules.window_multipliers.enabled else {}
    wc = rules.window_categories.factors if on and rules.window_categories.enabled else {}
    tm = rules.tier_multipliers.tiers if on and rules.tier_multipliers.enabled else {}

    item = _denominator([*designated_skus.values(), *designated_categories.values(), *(r.factor for _, r, _ in ranges)])
    ranged = [
        (Ranged(r.min, r.op == ">", r.max, (rule, _scaled(r.factor, item))), tiers)
        for rule, r, tiers in ranges
        if r.factor > 1
    ]
    named_tiers = {t for _, tiers in ranged if tiers is not None for t in tiers}
    window, window_category = _denominator(wm.values()), _denominator(f for cs in wc.values() for f in cs.values())
    timed: list[Timed] = []
    for w in rules.windows:
        multiplier = (f"window:{w.id}", _scaled(wm[w.id], window)) if wm.get(w.id, 1) > 1 else None
        categories = {
            c: (f"window_category:{w.id}:{c}", _scaled(f, window_category))
            for c, f in wc.get(w.id, {}).items()
            if f > 1
        }
        if multiplier is not None or categories:
            timed.append(Timed(w._days, w.starts_at, w.ends_at, multiplier, categories))
    absolute = tuple(w for w in timed if w.days is None)
    by_day: dict[tuple[int, int], tuple[Timed, ...]] = {}
    for day in (datetime(2000, 1, 1) + timedelta(days=n) for n in range(366)):  # a leap year: 02-29 too
        maybe_open = tuple(w for w in timed if w.days is None or w.contains(day))
        if maybe_open != absolute:
            by_day[day.month, day.day] = maybe_open
    tier = _denominator(tm.values())
    caps = rules.daily_caps
    return Compiled(
        ratio=ratio.as_integer_ratio() if on and ratio > 0 else None,
        item_denominator=item,
        skus={k: (f"sku:{k}", _scaled(v, item)) for k, v in designated_skus.items() if v > 1},
        categories={k: (f"category:{k}", _scaled(v, item)) for k, v in designated_categories.items() if v > 1},
        price_ranges=tuple(r for r, tiers in ranged if tiers is None),
        tier_price_ranges={
            t: tuple(r for r, tiers in ranged if tiers is None or t in tiers) for t in sorted(named_tiers)
        },
        window_denominator=window,
        window_category_denominator=window_category,
        windows_by_day=by_day,
        absolute_windows=absolute,
        tier_denominator=tier,
        tier_multipliers={k: _scaled(v, tier) for k, v in tm.items() if v > 1},
        thresholds=(
            tuple(
                (b.amount, b.op == ">", b.points)
                for b in sorted(rules.threshold_bonus.brackets, key=lambda b: (b.amount, b.op == ">"), reverse=True)
            )
            if rules.threshold_bonus.enabled
            else ()
        ),
        tier_steps=(
            {
                t: (*Fraction(s.every).as_integer_ratio(), s.points)
                for t, s in rules.tier_threshold_bonus.tiers.items()
            }
            if rules.tier_threshold_bonus.enabled
            else {}
        ),
        step=(
            (*Fraction(rules.step_bonus.every).as_integer_ratio(), rules.step_bonus.points)
            if rules.step_bonus.enabled
            else None
        ),
        quantities=(
            tuple(sorted(rules.cart_quantity_bonus.brackets, key=lambda b: b.min_quantity, reverse=True))
            if rules.cart_quantity_bonus.enabled
            else ()
        ),
        behaviours=dict(rules.behaviours.points) if rules.behaviours.enabled else {},
        rule_caps=dict(caps.rules) if caps.enabled else {},
        order_rule_caps=(
            {k: v for k, v in caps.rules.items() if not k.startswith("behaviour:")} if caps.enabled else {}
        ),
        tier_caps=dict(caps.tiers) if caps.enabled else {},
    )
