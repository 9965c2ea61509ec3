"""Points-earning rules (seed 001 §2): validated by pydantic, compiled once at load.

The YAML lives under ``points.earning`` of a rules file; the shipped defaults
(``config/rules/earning-default.yaml.snippet``) equal the defaults below.
Every section has ``enabled`` and each rule inside it has a stable id that
becomes the ledger ``rule`` name (see :mod:`engine.earning` for how rules stack).

Conventions:

- Money is Decimal; every ratio and factor is turned into exact integers at load
  (a factor as a numerator over a denominator shared by its whole stacking
  step, see :class:`Compiled`), so per-event arithmetic is exact integer
  arithmetic and nothing is re-parsed per event.
- A *factor* multiplies the base ratio and must be >= 1 (1 = no effect), so no
  rule can ever take points away.
- Window days are wall-clock dates in the tenant's time zone.
- Order-level bonuses (thresholds, steps) compare the net paid ``amount``.

The compiled form is built in ``model_post_init``: build changed rules with
``model_validate``, not ``model_copy(update=...)``, which would keep it stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    PrivateAttr,
    field_validator,
    model_validator,
)

from models.money import CONTRACT_MAX_AMOUNT, Ident, Money

#: Ids of configured rules (windows, price ranges, behaviours): no ``:``, which
#: separates the parts of a ledger rule name.
RuleKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}$")]
TierId = Annotated[str, Field(min_length=1, max_length=64)]
Factor = Annotated[Decimal, Field(ge=1, le=100, allow_inf_nan=False)]
Points = Annotated[int, Field(ge=0, le=1_000_000)]
Cap = Annotated[int, Field(ge=0)]
PositiveMoney = Annotated[Decimal, Field(gt=0, le=CONTRACT_MAX_AMOUNT, decimal_places=2, allow_inf_nan=False)]
MonthDay = Annotated[str, Field(pattern=r"^\d{2}-\d{2}$", description="MM-DD")]
Comparison = Literal[">=", ">"]


def _passes(value: Decimal | int, op: Comparison, bound: Decimal | int) -> bool:
    return value > bound if op == ">" else value >= bound


DayRange = tuple[tuple[int, int], tuple[int, int]]


def _month_day(text: str) -> tuple[int, int]:
    month, day = int(text[:2]), int(text[3:])
    date(2000, month, day)  # a leap year, so 02-29 is accepted; raises ValueError
    return month, day


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(Strict):
    enabled: bool = True


class BaseRatio(Section):
    """Rule 1: ``points_per_unit`` points for every ``unit`` of net paid money.

    Every other amount-proportional rule is a factor on this ratio, so turning
    it off turns off rules 1-7 as well.
    """

    points_per_unit: Decimal = Field(default=Decimal(1), ge=0, le=10_000, allow_inf_nan=False)
    unit: PositiveMoney = Decimal(1)


class Designated(Section):
    """Rule 2 (``sku:<sku>``, ``category:<category>``): factor per SKU / category."""

    skus: dict[Ident, Factor] = Field(default_factory=dict)
    categories: dict[Ident, Factor] = Field(default_factory=lambda: {"featured": Decimal(2)})


class Window(Strict):
    """A named stretch of local time: recurring whole days or an absolute range.

    Recurring: ``start_day``..``end_day`` inclusive, ``MM-DD``; a range with
    start after end wraps the new year (``12-30``..``01-02``).
    Absolute: ``starts_at`` <= local time < ``ends_at``, local wall clock
    without an offset.
    """

    id: RuleKey
    start_day: MonthDay | None = None
    end_day: MonthDay | None = None
    starts_at: NaiveDatetime | None = None
    ends_at: NaiveDatetime | None = None
    _days: DayRange | None = PrivateAttr(default=None)

    @field_validator("start_day", "end_day")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _month_day(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a real month-day (MM-DD)") from None
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        days = (self.start_day, self.end_day)
        span = (self.starts_at, self.ends_at)
        has_days, has_span = any(v is not None for v in days), any(v is not None for v in span)
        if has_days == has_span:
            raise ValueError("give either start_day and end_day, or starts_at and ends_at")
        if has_days and None in days:
            raise ValueError("start_day and end_day go together")
        if has_span and None in span:
            raise ValueError("starts_at and ends_at go together")
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def model_post_init(self, context: object, /) -> None:
        if self.start_day is not None and self.end_day is not None:
            self._days = (_month_day(self.start_day), _month_day(self.end_day))

    def contains(self, local_time: datetime) -> bool:
        """Whether ``local_time`` (its wall clock; any tzinfo is ignored) is inside."""
        return _contains(self._days, self.starts_at, self.ends_at, local_time)


def _contains(
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


class WindowMultipliers(Section):
    """Rule 3 (``window:<id>``): factor on everything earned while a window is open."""

    multipliers: dict[RuleKey, Factor] = Field(
        default_factory=lambda: {"may_day": Decimal(3), "national_day": Decimal(3)}
    )


class WindowCategories(Section):
    """Rule 4 (``window_category:<id>:<category>``): window id -> category -> factor."""

    factors: dict[RuleKey, dict[Ident, Factor]] = Field(default_factory=lambda: {"national_day": {"fresh": Decimal(2)}})


class TierMultipliers(Section):
    """Rule 5 (``tier_multiplier``): factor by the member's tier; unlisted tiers get 1."""

    tiers: dict[TierId, Factor] = Field(default_factory=lambda: {"DIAMOND": Decimal("1.5"), "BLACK_GOLD": Decimal(2)})


class PriceRange(Strict):
    """Items whose unit price passes ``op min`` (and is <= ``max`` if given) get ``factor``."""

    id: RuleKey
    min: Money
    op: Comparison = ">"
    max: Money | None = None
    factor: Factor

    @model_validator(mode="after")
    def _bounds(self) -> PriceRange:
        if self.max is not None and not _passes(self.max, self.op, self.min):
            raise ValueError(f"max {self.max} leaves no price {self.op} {self.min}")
        return self

    def matches(self, unit_price: Decimal) -> bool:
        return _passes(unit_price, self.op, self.min) and (self.max is None or unit_price <= self.max)


class TierPriceRange(PriceRange):
    tiers: list[TierId] = Field(min_length=1)


def _unique_ids(ranges: Sequence[PriceRange]) -> None:
    ids = [r.id for r in ranges]
    if len(set(ids)) != len(ids):
        raise ValueError(f"range ids repeat: {ids}")


class PriceRanges(Section):
    """Rule 6 (``price_range:<id>``): seed: goods over 1000 earn double."""

    ranges: list[PriceRange] = Field(
        default_factory=lambda: [PriceRange(id="1000+", min=Decimal(1000), op=">", factor=Decimal(2))]
    )

    @field_validator("ranges")
    @classmethod
    def _unique(cls, ranges: list[PriceRange]) -> list[PriceRange]:
        _unique_ids(ranges)
        return ranges


class PriceRangeTiers(Section):
    """Rule 7 (``price_range_tier:<id>``): a price range only for some tiers.

    Shipped: GOLD and above earn x1.5 on goods over 500 (so senior members are
    rewarded on mid-priced goods; over 1000 the plain x2 range is larger).
    """

    ranges: list[TierPriceRange] = Field(
        default_factory=lambda: [
            TierPriceRange(
                id="senior_500+",
                tiers=["GOLD", "DIAMOND", "BLACK_GOLD"],
                min=Decimal(500),
                op=">",
                factor=Decimal("1.5"),
            )
        ]
    )

    @field_validator("ranges")
    @classmethod
    def _unique(cls, ranges: list[TierPriceRange]) -> list[TierPriceRange]:
        _unique_ids(ranges)
        return ranges


class ThresholdBracket(Strict):
    amount: Money
    op: Comparison = ">="
    points: Points


class ThresholdBonus(Section):
    """Rule 8 (``threshold_bonus``): the highest bracket the net amount passes.

    Brackets may be listed in any order; ``>`` ranks above ``>=`` at the same
    amount (so ``>= 500`` and ``> 500`` can coexist).
    """

    brackets: list[ThresholdBracket] = Field(
        default_factory=lambda: [
            ThresholdBracket(amount=Decimal(200), op=">=", points=10),
            ThresholdBracket(amount=Decimal(500), op=">=", points=20),
            ThresholdBracket(amount=Decimal(500), op=">", points=30),
        ]
    )

    @field_validator("brackets")
    @classmethod
    def _ranked(cls, brackets: list[ThresholdBracket]) -> list[ThresholdBracket]:
        ranked = sorted(brackets, key=_threshold_rank)
        for low, high in pairwise(ranked):
            if _threshold_rank(low) == _threshold_rank(high):
                raise ValueError(f"two brackets for {low.op} {low.amount}")
            if high.points < low.points:
                raise ValueError(f"bracket {high.op} {high.amount} gives fewer points than {low.op} {low.amount}")
        return brackets


def _threshold_rank(bracket: ThresholdBracket) -> tuple[Decimal, bool]:
    return bracket.amount, bracket.op == ">"


class Step(Strict):
    every: PositiveMoney
    points: Points


class TierThresholdBonus(Section):
    """Rule 9 (``tier_threshold_bonus``): per tier, ``points`` for every full ``every``."""

    tiers: dict[TierId, Step] = Field(
        default_factory=lambda: {t: Step(every=Decimal(100), points=10) for t in ("GOLD", "DIAMOND", "BLACK_GOLD")}
    )


class StepBonus(Section):
    """Rule 10 (``step_bonus``): ``points`` for every full ``every`` of the net amount."""

    every: PositiveMoney = Decimal(50)
    points: Points = 1


class QuantityBracket(Strict):
    min_quantity: int = Field(ge=1, le=100_000_000)
    points: Points


class CartQuantityBonus(Section):
    """Rule 11 (``cart_quantity_bonus``): the highest bracket the summed quantities reach."""

    brackets: list[QuantityBracket] = Field(default_factory=lambda: [QuantityBracket(min_quantity=5, points=10)])

    @field_validator("brackets")
    @classmethod
    def _ranked(cls, brackets: list[QuantityBracket]) -> list[QuantityBracket]:
        ranked = sorted(brackets, key=lambda b: b.min_quantity)
        for low, high in pairwise(ranked):
            if low.min_quantity == high.min_quantity:
                raise ValueError(f"two brackets for min_quantity {low.min_quantity}")
            if high.points < low.points:
                raise ValueError(f"min_quantity {high.min_quantity} gives fewer points than {low.min_quantity}")
        return brackets


class Behaviours(Section):
    """Rule 12 (``behaviour:<action>``): flat points per action; 0 = off."""

    points: dict[RuleKey, Points] = Field(
        default_factory=lambda: {"review": 5, "registration": 5, "verification": 5, "login": 0}
    )


class DailyCaps(Section):
    """Most points per local day: per rule id, and in total per tier (absent = no cap)."""

    rules: dict[str, Cap] = Field(default_factory=lambda: {"behaviour:review": 15})
    tiers: dict[TierId, Cap] = Field(default_factory=dict)


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
        return _contains(self.days, self.starts_at, self.ends_at, local_time)


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


class EarningRules(Strict):
    """All points-earning rules of a tenant; defaults are seed 001 §2's numbers."""

    base: BaseRatio = BaseRatio()
    designated: Designated = Designated()
    windows: list[Window] = Field(
        default_factory=lambda: [
            Window(id="may_day", start_day="05-01", end_day="05-05"),
            Window(id="national_day", start_day="10-01", end_day="10-07"),
        ]
    )
    window_multipliers: WindowMultipliers = WindowMultipliers()
    window_categories: WindowCategories = WindowCategories()
    tier_multipliers: TierMultipliers = TierMultipliers()
    price_ranges: PriceRanges = PriceRanges()
    price_range_tiers: PriceRangeTiers = PriceRangeTiers()
    threshold_bonus: ThresholdBonus = ThresholdBonus()
    tier_threshold_bonus: TierThresholdBonus = TierThresholdBonus()
    step_bonus: StepBonus = StepBonus()
    cart_quantity_bonus: CartQuantityBonus = CartQuantityBonus()
    behaviours: Behaviours = Behaviours()
    daily_caps: DailyCaps = DailyCaps()
    _compiled: Compiled | None = PrivateAttr(default=None)

    @field_validator("windows")
    @classmethod
    def _unique_windows(cls, windows: list[Window]) -> list[Window]:
        ids = [w.id for w in windows]
        if len(set(ids)) != len(ids):
            raise ValueError(f"window ids repeat: {ids}")
        return windows

    @model_validator(mode="after")
    def _references(self) -> EarningRules:
        known = {w.id for w in self.windows}
        for path, ids in (
            ("window_multipliers.multipliers", self.window_multipliers.multipliers),
            ("window_categories.factors", self.window_categories.factors),
        ):
            unknown = sorted(set(ids) - known)
            if unknown:
                raise ValueError(f"{path}: unknown window ids {unknown}; windows are {sorted(known)}")
        unknown = sorted(set(self.daily_caps.rules) - self.rule_ids())
        if unknown:
            raise ValueError(f"daily_caps.rules: {unknown} are not rule ids of this configuration")
        return self

    def rule_ids(self) -> set[str]:
        """Every ledger rule name this configuration can produce (enabled or not)."""
        ids = {"base", "tier_multiplier", "threshold_bonus", "tier_threshold_bonus"}
        ids |= {"step_bonus", "cart_quantity_bonus"}
        ids |= {f"sku:{s}" for s in self.designated.skus}
        ids |= {f"category:{c}" for c in self.designated.categories}
        ids |= {f"window:{w}" for w in self.window_multipliers.multipliers}
        ids |= {f"window_category:{w}:{c}" for w, cs in self.window_categories.factors.items() for c in cs}
        ids |= {f"price_range:{r.id}" for r in self.price_ranges.ranges}
        ids |= {f"price_range_tier:{r.id}" for r in self.price_range_tiers.ranges}
        ids |= {f"behaviour:{a}" for a in self.behaviours.points}
        return ids

    def model_post_init(self, context: object, /) -> None:
        self._compiled = self._compile()

    @property
    def compiled(self) -> Compiled:
        # Read per event, so straight from pydantic's private storage: ``self._compiled``
        # would go through ``BaseModel.__getattr__``, which costs microseconds.
        private = self.__pydantic_private__
        assert private is not None and private["_compiled"] is not None
        compiled: Compiled = private["_compiled"]
        return compiled

    def _compile(self) -> Compiled:
        on = self.base.enabled
        ratio = Fraction(self.base.points_per_unit) / Fraction(self.base.unit)
        des = self.designated if on and self.designated.enabled else Designated(skus={}, categories={})
        ranges: list[tuple[str, PriceRange, frozenset[str] | None]] = []
        if on and self.price_ranges.enabled:
            ranges += [(f"price_range:{r.id}", r, None) for r in self.price_ranges.ranges]
        if on and self.price_range_tiers.enabled:
            ranges += [(f"price_range_tier:{r.id}", r, frozenset(r.tiers)) for r in self.price_range_tiers.ranges]
        wm = self.window_multipliers.multipliers if on and self.window_multipliers.enabled else {}
        wc = self.window_categories.factors if on and self.window_categories.enabled else {}
        tm = self.tier_multipliers.tiers if on and self.tier_multipliers.enabled else {}

        item = _denominator([*des.skus.values(), *des.categories.values(), *(r.factor for _, r, _ in ranges)])
        ranged = [
            (Ranged(r.min, r.op == ">", r.max, (rule, _scaled(r.factor, item))), tiers)
            for rule, r, tiers in ranges
            if r.factor > 1
        ]
        named_tiers = {t for _, tiers in ranged if tiers is not None for t in tiers}
        window, window_category = _denominator(wm.values()), _denominator(f for cs in wc.values() for f in cs.values())
        timed: list[Timed] = []
        for w in self.windows:
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
        caps = self.daily_caps
        return Compiled(
            ratio=ratio.as_integer_ratio() if on and ratio > 0 else None,
            item_denominator=item,
            skus={k: (f"sku:{k}", _scaled(v, item)) for k, v in des.skus.items() if v > 1},
            categories={k: (f"category:{k}", _scaled(v, item)) for k, v in des.categories.items() if v > 1},
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
                    for b in sorted(self.threshold_bonus.brackets, key=_threshold_rank, reverse=True)
                )
                if self.threshold_bonus.enabled
                else ()
            ),
            tier_steps=(
                {
                    t: (*Fraction(s.every).as_integer_ratio(), s.points)
                    for t, s in self.tier_threshold_bonus.tiers.items()
                }
                if self.tier_threshold_bonus.enabled
                else {}
            ),
            step=(
                (*Fraction(self.step_bonus.every).as_integer_ratio(), self.step_bonus.points)
                if self.step_bonus.enabled
                else None
            ),
            quantities=(
                tuple(sorted(self.cart_quantity_bonus.brackets, key=lambda b: b.min_quantity, reverse=True))
                if self.cart_quantity_bonus.enabled
                else ()
            ),
            behaviours=dict(self.behaviours.points) if self.behaviours.enabled else {},
            rule_caps=dict(caps.rules) if caps.enabled else {},
            order_rule_caps=(
                {k: v for k, v in caps.rules.items() if not k.startswith("behaviour:")} if caps.enabled else {}
            ),
            tier_caps=dict(caps.tiers) if caps.enabled else {},
        )
