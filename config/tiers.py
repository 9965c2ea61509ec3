"""The tier ladder (seed 003): what each tier measures, its thresholds, protection and benefit matrix.

Tiers are ranked by their order in ``tiers.tiers``: the first is the base tier
every member starts in; a member qualifies for the highest tier any of whose
conditions holds (or that invited it).  Compiled once at load: ``climb`` and
``windows`` are what the engine reads per event.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from config.strict import Strict
from models.conditions import Conditions


class MetricKind(StrEnum):
    SPEND = "spend"
    POINTS_EARNED = "points_earned"
    GROWTH = "growth"


class Metric(Strict):
    """What a tier qualification measures: money spent or points earned in a
    trailing window of local days (ending on the as-of day), or growth value."""

    kind: MetricKind = MetricKind.SPEND
    window_days: int = Field(default=30, ge=1, le=366)

    @property
    def name(self) -> str:
        if self.kind is MetricKind.GROWTH:
            return "growth"
        return f"{self.kind.value}_{self.window_days}d"


class TierCondition(Strict):
    """One way into a tier: the metric reaches the threshold."""

    metric: Metric
    threshold: Decimal = Field(ge=0)


class Cadence(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class CouponAllowance(Strict):
    count: int = Field(ge=1)
    per: Cadence
    value: Decimal = Field(default=Decimal(0), ge=0)
    valid_days: int = Field(default=7, ge=1)
    conditions: Conditions | None = Field(default=None, description="what an order must be for one to apply")


class Gift(Strict):
    value: Decimal = Field(ge=0)
    valid_days: int = Field(default=30, ge=1)
    description: str = ""
    conditions: Conditions | None = Field(default=None, description="what an order must be for it to apply")


class TierBenefits(Strict):
    """One column of seed 003's benefit matrix."""

    discount: Decimal = Field(default=Decimal(1), gt=0, le=1, description="price multiplier, 0.95 = 5% off")
    free_shipping_threshold: Decimal = Field(default=Decimal(39), ge=0)
    coupons: CouponAllowance | None = None
    birthday_pack: Gift | None = None
    priority_delivery: Literal["none", "priority", "dedicated"] = "none"
    new_product_trial: Literal["none", "occasional", "quarterly", "monthly", "weekly"] = "none"
    customer_service: Literal["standard", "email", "phone", "24h"] = "standard"


class TierDef(Strict):
    id: str = Field(min_length=1, max_length=32)
    qualify: list[TierCondition] = Field(default_factory=list, description="any one qualifies; empty = base tier")
    by_invitation: bool = False
    protection_days: int = Field(default=0, ge=0)
    upgrade_gift: Gift | None = None
    retention_offer: Gift | None = Field(
        default=None,
        description="granted with the retention nudge when a protected tier falls short (engine/nudges.py); "
                    "none = the nudge is a notice only")
    benefits: TierBenefits = TierBenefits()


class DowngradePolicy(StrEnum):
    ONE_DOWN = "one_down"
    TO_QUALIFIED = "to_qualified"


class TierRules(Strict):
    tiers: list[TierDef]
    downgrade: DowngradePolicy = DowngradePolicy.ONE_DOWN
    downgrade_warning_days: int = Field(default=7, ge=0)

    @field_validator("tiers")
    @classmethod
    def _ladder(cls, tiers: list[TierDef]) -> list[TierDef]:
        if not tiers:
            raise ValueError("a ladder needs at least one tier")
        ids = [t.id for t in tiers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"tier ids repeat: {ids}")
        if tiers[0].qualify:
            raise ValueError(f"the first tier ({tiers[0].id}) is the base tier and takes no conditions")
        for t in tiers[1:]:
            if not t.qualify and not t.by_invitation:
                raise ValueError(f"tier {t.id} has no way in: give it conditions or by_invitation")
        return tiers

    @property
    def base(self) -> str:
        return self.tiers[0].id

    def rank(self, tier_id: str) -> int:
        return self.ranks_by_id.get(tier_id, 0)

    @cached_property
    def ranks_by_id(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.tiers)}

    def by_id(self, tier_id: str) -> TierDef:
        return self.tiers[self.rank(tier_id)]

    @cached_property
    def climb(self) -> tuple[tuple[int, TierDef, tuple[tuple[Metric, Decimal, str], ...]], ...]:
        """(rank, tier, its conditions as (metric, threshold, metric name)), top tier first, base left out."""
        return tuple((rank, tier, tuple((c.metric, c.threshold, c.metric.name) for c in tier.qualify))
                     for rank, tier in reversed(list(enumerate(self.tiers))) if rank > 0)

    @cached_property
    def windows(self) -> tuple[tuple[MetricKind, int], ...]:
        """The (kind, days) of every windowed metric a tier qualifies by."""
        found = {(c.metric.kind, c.metric.window_days) for t in self.tiers for c in t.qualify}
        return tuple(sorted(w for w in found if w[0] is not MetricKind.GROWTH))
