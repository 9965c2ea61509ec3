"""Points an order or a behaviour earns (seed 001 §2), as one line per rule.

Pure: (event facts, tier, local time, compiled rules, today's counters) ->
lines.  No I/O, no wall clock; exact integer arithmetic throughout (each
money value as an integer numerator over a denominator shared by the order,
ratios and factors compiled at load, see :class:`config.earning.Compiled`).

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

The stacking is linear, so each line is computed once per order rather than
per portion: one integer sum over the portions (money times the factors of
the steps so far, each factor an integer over its step's compiled
denominator), floored by one integer division by the product of those
denominators.  That is exactly the floor of the rational line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from config.earning.compiled import Compiled, Scaled
from config.earning.schema import EarningRules
from models.events import OrderItem, OrderPaid

TOTAL_COUNTER = "__total__"
"""Key in ``earned_today`` holding all points earned today."""


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
    amount = order.amount.as_integer_ratio()
    raw = _proportional(order, amount, tier, local_time, c)
    raw += _bonuses(order, amount, tier, c)
    return _capped(raw, tier, c.order_rule_caps, c, earned_today)


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
    return _capped([(f"behaviour:{action}", c.behaviours.get(action, 0))], tier, c.rule_caps, c, earned_today)


def _proportional(
    order: OrderPaid, amount: tuple[int, int], tier: str, local_time: datetime, c: Compiled
) -> list[tuple[str, int]]:
    paid, paid_denominator = amount
    if c.ratio is None or paid == 0:
        return []
    ratio, ratio_denominator = c.ratio
    lines = [("base", paid * ratio // (paid_denominator * ratio_denominator))]

    # Order-wide steps: the largest open window (ties: the first listed) and,
    # per category, the largest open window x category factor; the tier's.
    window: Scaled | None = None
    window_categories: dict[str, Scaled] = {}
    for w in c.windows_by_day.get((local_time.month, local_time.day), c.absolute_windows):
        if w.days is not None or w.contains(local_time):  # a recurring one is open on its day
            if w.multiplier is not None and (window is None or w.multiplier[1] > window[1]):
                window = w.multiplier
            for category, factor in w.categories.items():
                best = window_categories.get(category)
                if best is None or factor[1] > best[1]:
                    window_categories[category] = factor
    tier_factor = c.tier_multipliers.get(tier)

    # Per item: the largest item factor (SKU, category, price ranges; ties:
    # that order) and window x category factor; None stands for 1.
    items = order.items
    skus, categories = c.skus, c.categories
    ranges = c.tier_price_ranges.get(tier, c.price_ranges)
    steps: list[tuple[Scaled | None, Scaled | None]] = []
    for item in items:
        best = skus.get(item.sku)
        category = categories.get(item.category)
        if category is not None and (best is None or category[1] > best[1]):
            best = category
        price = item.unit_price
        for r in ranges:
            if (
                (best is None or r.factor[1] > best[1])
                and (price > r.min if r.strict else price >= r.min)
                and (r.max is None or price <= r.max)
            ):
                best = r.factor
        steps.append((best, window_categories.get(item.category)))
    if window is None and tier_factor is None and steps.count((None, None)) == len(steps):
        return lines  # nothing but base points: the common case

    # Money as integers over one denominator: cents, as Money has at most two
    # places (anything finer, which validation rules out, is exact all the same).
    scale = 100
    sums = _sums(items, steps, scale, c) if scale % paid_denominator == 0 else None
    if sums is None:
        scale = math.lcm(paid_denominator, *[item.unit_price.as_integer_ratio()[1] for item in items])
        sums = _sums(items, steps, scale, c)
        assert sums is not None
    total, by_item, itemised, by_category, categorised = sums
    paid *= scale // paid_denominator

    # Step 1: each item's portion is subtotal * share / whole; the rest, if
    # any, takes no item or window x category factor.
    item_denominator, category_denominator = c.item_denominator, c.window_category_denominator
    if total >= paid:
        share, whole = paid, total
    else:
        share = whole = 1
        itemised += (paid - total) * item_denominator
        categorised += (paid - total) * item_denominator * category_denominator

    # Each line: numerator * its sum // denominator, the fraction growing step by step.
    numerator, denominator = share * ratio, whole * scale * ratio_denominator * item_denominator
    lines += [(rule, numerator * points // denominator) for rule, points in by_item.items()]
    if window is not None:
        rule, factor = window
        window_denominator = c.window_denominator
        lines.append((rule, numerator * itemised * (factor - window_denominator) // (denominator * window_denominator)))
        numerator, denominator = numerator * factor, denominator * window_denominator
    denominator *= category_denominator
    lines += [(rule, numerator * points // denominator) for rule, points in by_category.items()]
    if tier_factor is not None:
        tier_denominator = c.tier_denominator
        points = numerator * categorised * (tier_factor - tier_denominator) // (denominator * tier_denominator)
        lines.append(("tier_multiplier", points))
    return lines


def _sums(
    items: list[OrderItem], steps: list[tuple[Scaled | None, Scaled | None]], scale: int, c: Compiled
) -> tuple[int, dict[str, int], int, dict[str, int], int] | None:
    """Sums over the items' subtotals (money * ``scale``), each over the denominators of the steps it includes.

    None if some unit price is not a whole number of ``1 / scale``.
    """
    item_denominator, category_denominator = c.item_denominator, c.window_category_denominator
    total = 0  # subtotal
    by_item: dict[str, int] = {}  # subtotal * (item factor - 1), per rule
    itemised = 0  # subtotal * item factor
    by_category: dict[str, int] = {}  # subtotal * item factor * (window x category factor - 1), per rule
    categorised = 0  # subtotal * item factor * window x category factor
    for item, (item_factor, category_factor) in zip(items, steps, strict=True):
        n, d = item.unit_price.as_integer_ratio()
        if scale % d:
            return None
        subtotal = n * (scale // d) * item.quantity
        total += subtotal
        if item_factor is None:
            earned = subtotal * item_denominator
        else:
            rule, factor = item_factor
            by_item[rule] = by_item.get(rule, 0) + subtotal * (factor - item_denominator)
            earned = subtotal * factor
        itemised += earned
        if category_factor is None:
            categorised += earned * category_denominator
        else:
            rule, factor = category_factor
            by_category[rule] = by_category.get(rule, 0) + earned * (factor - category_denominator)
            categorised += earned * factor
    return total, by_item, itemised, by_category, categorised


def _bonuses(order: OrderPaid, amount: tuple[int, int], tier: str, c: Compiled) -> list[tuple[str, int]]:
    paid, paid_denominator = amount
    lines: list[tuple[str, int]] = []
    value = order.amount
    for bound, strict, points in c.thresholds:
        if value > bound if strict else value >= bound:
            lines.append(("threshold_bonus", points))
            break
    tier_step = c.tier_steps.get(tier)
    if tier_step is not None:
        every, every_denominator, points = tier_step
        lines.append(("tier_threshold_bonus", paid * every_denominator // (paid_denominator * every) * points))
    if c.step is not None:
        every, every_denominator, points = c.step
        lines.append(("step_bonus", paid * every_denominator // (paid_denominator * every) * points))
    if c.quantities:
        quantity = sum([item.quantity for item in order.items])
        for qb in c.quantities:
            if quantity >= qb.min_quantity:
                lines.append(("cart_quantity_bonus", qb.points))
                break
    return lines


def _capped(
    raw: list[tuple[str, int]], tier: str, rule_caps: Mapping[str, int], c: Compiled, earned_today: Mapping[str, int]
) -> list[EarnLine]:
    """The positive lines after the caps; ``rule_caps``: the daily rule caps that can apply to ``raw``."""
    tier_cap = c.tier_caps.get(tier)
    if tier_cap is None and not rule_caps:
        return [EarnLine(rule, points) for rule, points in raw if points > 0]
    left = None if tier_cap is None else max(0, tier_cap - earned_today.get(TOTAL_COUNTER, 0))
    out: list[EarnLine] = []
    for rule, points in raw:
        cap = rule_caps.get(rule)
        if cap is not None:
            points = min(points, cap - earned_today.get(rule, 0))
        if left is not None:
            points = min(points, left)
        if points > 0:
            out.append(EarnLine(rule, points))
            if left is not None:
                left -= points
    return out
