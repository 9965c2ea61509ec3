"""Points an order or a behaviour earns (seed 001 §2), as one line per rule.

Pure: (event facts, tier, local time, compiled rules, today's counters) ->
lines.  No I/O, no wall clock; exact ``Fraction`` arithmetic throughout.

How an order's amount-proportional points stack:

1. The net paid ``amount`` is split over the items: item subtotals
   (``unit_price * quantity``) are scaled down pro rata when they add up to
   more than the amount (discounts); when they add up to less (shipping, or no
   items at all), the rest is a plain portion that only earns base points and
   the order-wide multipliers (window, tier).
2. Each portion earns ``base = money * points_per_unit / unit``.
3. Item factor: the largest of the applicable SKU, category, price-range and
   price-range x tier factors (ties: that order); it never compounds with the
   others.  Price ranges compare the item's listed ``unit_price``.
4. Then the multipliers, in this order: window (the largest among the open
   windows), window x category (the largest among the open windows for the
   item's category), tier; ties go to the window listed first.  So an item earns
   ``base * item_factor * window * window_category * tier``.
5. Each rule's line is the extra it adds at its step (its factor minus 1,
   times what was earned before it), summed over the items; ``base`` is the
   plain base points of the whole amount.  The lines telescope to the total.

Then flat bonuses, none multiplied: threshold (highest bracket), tier
threshold, step and cart quantity; all compare the net ``amount`` (the cart
counts summed quantities).

Line order: base, item factors (sku/category/price_range/price_range_tier),
window, window_category, tier_multiplier, threshold_bonus,
tier_threshold_bonus, step_bonus, cart_quantity_bonus.

Every line is floored separately, so the total can be a point or two below the
floor of the exact total; a line is never negative.  Caps come last, in line
order: first each rule's daily cap, then the tier's daily total cap (lines
later in the order are cut first).  Zero lines are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from config.earning import Compiled, EarningRules
from models.events import OrderItem, OrderPaid

TOTAL_COUNTER = "__total__"
"""Key in ``earned_today`` holding all points earned today."""

ONE = Fraction(1)


@dataclass(frozen=True, slots=True)
class EarnLine:
    rule: str
    points: int


def order_points(
    order: OrderPaid,
    *,
    tier: str,
    local_time: datetime,
    rules: EarningRules,
    earned_today: Mapping[str, int],
) -> list[EarnLine]:
    """Capped lines an order earns; ``local_time`` is the event time in the tenant's zone."""
    c = rules.compiled
    raw = _proportional(order, tier, local_time, c)
    raw += _bonuses(order, tier, c)
    return _capped(raw, tier, c, earned_today)


def behaviour_points(
    action: str,
    *,
    tier: str,
    local_time: datetime,
    rules: EarningRules,
    earned_today: Mapping[str, int],
) -> list[EarnLine]:
    """Capped line for one action (``review``, ``login``...); unknown actions earn nothing.

    ``local_time`` is unused today: the day is the caller's, via ``earned_today``.
    """
    c = rules.compiled
    return _capped([(f"behaviour:{action}", c.behaviours.get(action, 0))], tier, c, earned_today)


def _portions(order: OrderPaid) -> list[tuple[OrderItem | None, Fraction]]:
    """The net amount split over the items (``None``: the part no item accounts for)."""
    amount = Fraction(order.amount)
    subtotals = [(item, Fraction(item.unit_price) * item.quantity) for item in order.items]
    total = sum((s for _, s in subtotals), Fraction(0))
    if total == 0:
        return [(None, amount)]
    if total >= amount:
        scale = amount / total
        return [(item, s * scale) for item, s in subtotals]
    return [*subtotals, (None, amount - total)]


def _item_factor(item: OrderItem | None, tier: str, c: Compiled) -> tuple[str | None, Fraction]:
    best: tuple[str | None, Fraction] = (None, ONE)
    if item is None:
        return best
    candidates = [c.skus.get(item.sku), c.categories.get(item.category)]
    candidates += [
        (r.rule, r.factor)
        for r in c.price_ranges
        if (r.tiers is None or tier in r.tiers) and r.range.matches(item.unit_price)
    ]
    for candidate in candidates:
        if candidate is not None and candidate[1] > best[1]:
            best = candidate
    return best


def _largest(candidates: Iterable[tuple[str, Fraction]]) -> tuple[str | None, Fraction]:
    best: tuple[str | None, Fraction] = (None, ONE)
    for candidate in candidates:
        if candidate[1] > best[1]:
            best = candidate
    return best


def _window_category(item: OrderItem | None, open_windows: list[str], c: Compiled) -> tuple[str | None, Fraction]:
    if item is None:
        return None, ONE
    return _largest(
        (f"window_category:{w}:{item.category}", c.window_categories[w][item.category])
        for w in open_windows
        if item.category in c.window_categories.get(w, {})
    )


def _proportional(order: OrderPaid, tier: str, local_time: datetime, c: Compiled) -> list[tuple[str, int]]:
    if c.ratio == 0 or order.amount == 0:
        return []
    open_windows = [w.id for w in c.windows if w.contains(local_time)]
    window = _largest((f"window:{w}", c.window_multipliers[w]) for w in open_windows if w in c.window_multipliers)
    tier_step = ("tier_multiplier", c.tier_multipliers.get(tier, ONE))
    extra: list[dict[str, Fraction]] = [{}, {}, {}, {}]  # item factor, window, window x category, tier
    for item, money in _portions(order):
        earned = money * c.ratio
        steps = (_item_factor(item, tier, c), window, _window_category(item, open_windows, c), tier_step)
        for stage, (rule, factor) in zip(extra, steps, strict=True):
            if rule is not None and factor > 1:
                added = earned * (factor - 1)
                stage[rule] = stage.get(rule, Fraction(0)) + added
                earned += added
    lines = [("base", math.floor(Fraction(order.amount) * c.ratio))]
    lines += [(rule, math.floor(points)) for stage in extra for rule, points in stage.items()]
    return lines


def _bonuses(order: OrderPaid, tier: str, c: Compiled) -> list[tuple[str, int]]:
    amount = order.amount
    lines: list[tuple[str, int]] = []
    for bracket in c.thresholds:
        if amount > bracket.amount or (bracket.op == ">=" and amount == bracket.amount):
            lines.append(("threshold_bonus", bracket.points))
            break
    if tier in c.tier_steps:
        every, points = c.tier_steps[tier]
        lines.append(("tier_threshold_bonus", math.floor(Fraction(amount) / every) * points))
    if c.step is not None:
        every, points = c.step
        lines.append(("step_bonus", math.floor(Fraction(amount) / every) * points))
    quantity = sum(item.quantity for item in order.items)
    for qb in c.quantities:
        if quantity >= qb.min_quantity:
            lines.append(("cart_quantity_bonus", qb.points))
            break
    return lines


def _capped(raw: list[tuple[str, int]], tier: str, c: Compiled, earned_today: Mapping[str, int]) -> list[EarnLine]:
    tier_cap = c.tier_caps.get(tier)
    left = None if tier_cap is None else max(0, tier_cap - earned_today.get(TOTAL_COUNTER, 0))
    out: list[EarnLine] = []
    for rule, points in raw:
        cap = c.rule_caps.get(rule)
        if cap is not None:
            points = min(points, cap - earned_today.get(rule, 0))
        if left is not None:
            points = min(points, left)
        if points > 0:
            out.append(EarnLine(rule, points))
            if left is not None:
                left -= points
    return out
