"""Points-earning rules (seed 001 §2) as the YAML states them, validated by pydantic.

The YAML lives under ``points.earning`` of a rules file; the shipped defaults
(``config/rules/default.yaml``) equal the defaults below.
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

The compiled form (:mod:`config.earning.compiled`) is built in
``model_post_init``: build changed rules with ``model_validate``, not
``model_copy(update=...)``, which would keep it stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    Field,
    NaiveDatetime,
    PrivateAttr,
    field_validator,
    model_validator,
)

from config.earning.compiled import Compiled, DayRange, compile_earning, window_contains
from config.strict import Strict
from models.fields import CONTRACT_MAX_AMOUNT, Ident, Money

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


def _month_day(text: str) -> tuple[int, int]:
    month, day = int(text[:2]), int(text[3:])
    date(2000, month, day)  # a leap year, so 02-29 is accepted; raises ValueError
    return month, day


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
        return window_contains(self._days, self.starts_at, self.ends_at, local_time)


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


class AmountStep(Strict):
    """``points`` for every full ``every`` of money."""

    every: PositiveMoney
    points: Points


class TierThresholdBonus(Section):
    """Rule 9 (``tier_threshold_bonus``): per tier, ``points`` for every full ``every``."""

    tiers: dict[TierId, AmountStep] = Field(
        default_factory=lambda: {
            t: AmountStep(every=Decimal(100), points=10) for t in ("GOLD", "DIAMOND", "BLACK_GOLD")
        }
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
    """Rule 12 (``behaviour:<action>``): flat points per action; 0 = off.  Registration and each
    verification kind (``verification_email``, ``verification_phone``, ``verification_real_name``)
    are earned once per member (``engine.registration``)."""

    points: dict[RuleKey, Points] = Field(
        default_factory=lambda: {"review": 5, "registration": 5, "verification_email": 5, "verification_phone": 5,
                                 "verification_real_name": 5, "login": 0}
    )


class DailyCaps(Section):
    """Most points per local day: per rule id, and in total per tier (absent = no cap)."""

    rules: dict[str, Cap] = Field(default_factory=lambda: {"behaviour:review": 15})
    tiers: dict[TierId, Cap] = Field(default_factory=dict)


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
        self._compiled = compile_earning(self)

    @property
    def compiled(self) -> Compiled:
        # Read per event, so straight from pydantic's private storage: ``self._compiled``
        # would go through ``BaseModel.__getattr__``, which costs microseconds.
        private = self.__pydantic_private__
        assert private is not None and private["_compiled"] is not None
        compiled: Compiled = private["_compiled"]
        return compiled

