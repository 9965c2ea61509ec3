"""Tenant rules: YAML validated by pydantic, compiled once at load.

A rules directory holds ``default.yaml`` and optionally ``<tenant_id>.yaml``
files.  A tenant file is deep-merged over the default (mappings merge, lists
and scalars replace), so it only states what differs.  A tenant without a
file uses the default.  Errors name the file, the path of the bad field and why.
"""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from hashlib import blake2b
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from config.business_lines import BusinessLine, LineId
from config.earning import EarningRules
from config.redemptions import RedemptionRules


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Condition(Strict):
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


class Gift(Strict):
    value: Decimal = Field(ge=0)
    valid_days: int = Field(default=30, ge=1)
    description: str = ""


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
    qualify: list[Condition] = Field(default_factory=list, description="any one qualifies; empty = base tier")
    by_invitation: bool = False
    protection_days: int = Field(default=0, ge=0)
    upgrade_gift: Gift | None = None
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


class GrowthAction(Strict):
    value: int = Field(ge=0)
    daily_limit: int | None = Field(default=None, ge=0, description="times per local day; null = unlimited")


class GrowthRules(Strict):
    """Seed 003 §3.3: 1 per yuan paid; review +5 at most 3 a day; invite +50."""

    per_unit: int = Field(default=1, ge=0)
    unit: Decimal = Field(default=Decimal(1), gt=0)
    review: GrowthAction = GrowthAction(value=5, daily_limit=3)
    invite: GrowthAction = GrowthAction(value=50)


class ExpiryMode(StrEnum):
    NEVER = "never"
    MONTHS_AFTER_EARNING = "months_after_earning"
    END_OF_NEXT_YEAR = "end_of_next_year"


class ExpiryRules(Strict):
    mode: ExpiryMode = ExpiryMode.END_OF_NEXT_YEAR
    months: int = Field(default=12, ge=1, le=240)
    warn_lead_days: int = Field(default=30, ge=0)
    warn_every_days: int = Field(default=7, ge=1)


class ClawbackPolicy(StrEnum):
    NEGATIVE_BALANCE = "negative_balance"
    CAP_AND_RECORD = "cap_and_record"


class PointsRules(Strict):
    pending_days: int = Field(default=0, ge=0, le=365, description="return window before order points can be spent")
    expiry: ExpiryRules = ExpiryRules()
    clawback: ClawbackPolicy = ClawbackPolicy.CAP_AND_RECORD
    earning: EarningRules = EarningRules()


class ComplaintPenalty(Strict):
    deduct: int = Field(default=0, ge=0)
    lock_if_insufficient: bool = False


class ComplaintRules(Strict):
    """Seed 001 §5: a malicious complaint costs 10 points; locked if not covered."""

    malicious: ComplaintPenalty = ComplaintPenalty(deduct=10, lock_if_insufficient=True)
    upheld: ComplaintPenalty = ComplaintPenalty()
    dismissed: ComplaintPenalty = ComplaintPenalty()


class Nudges(Strict):
    """Seed 003 §4.2: upgrade nudge, retention offer, churn warning."""

    next_tier_gap: Decimal = Field(default=Decimal(20), ge=0, description="nudge when this close to the next tier")
    retention_offer: bool = True
    churn_days: int = Field(default=30, ge=1, description="days without a login before a churn warning")
    every_days: int = Field(default=7, ge=1, description="at most one nudge of a kind per this many days")


class EvaluationRules(Strict):
    """The periodic evaluation: when it runs (tenant time zone) and what it nudges."""

    schedule: str = Field(default="0 0 * * *", description="cron, in the tenant's time zone")
    slice_size: int = Field(default=500, ge=1, le=100_000, description="members per evaluation slice")
    nudges: Nudges = Nudges()

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value


class Limits(Strict):
    max_amount: Decimal = Field(default=Decimal(1_000_000), gt=0)
    max_items: int = Field(default=500, ge=1)


class Retention(Strict):
    recent_event_ids: int = Field(default=256, ge=8, le=100_000)
    order_days: int = Field(default=400, ge=1, description="how long an order can still be refunded")
    max_orders: int = Field(default=1000, ge=1)
    ledger_entries: int = Field(default=1000, ge=1, description="history rows kept per member (tables/ledger.py)")


class TenantRules(Strict):
    tenant_id: str = "default"
    time_zone: str = "Asia/Shanghai"
    currency: str = "CNY"
    limits: Limits = Limits()
    points: PointsRules = PointsRules()
    growth: GrowthRules = GrowthRules()
    tiers: TierRules
    complaints: ComplaintRules = ComplaintRules()
    retention: Retention = Retention()
    evaluation: EvaluationRules = EvaluationRules()
    redemptions: RedemptionRules = RedemptionRules()
    #: seed 000's business lines (badges), version 1 unless stated; newer versions
    #: published to `business-lines` supersede them per tenant (engine/lines.py)
    business_lines: dict[LineId, BusinessLine] = Field(default_factory=dict)
    #: the published definitions in force (engine.lines.Catalog), set by engine.lines only
    _published_lines: Any = PrivateAttr(default=None)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def fingerprint(self) -> int:
        """A digest of these rules: stored due marks hold only under the rules they were computed with."""
        return int.from_bytes(blake2b(self.model_dump_json().encode(), digest_size=8).digest(), "big")


class RulesError(ValueError):
    """A rules file that does not validate; the message names file, field path and why."""


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{path}: the top level must be a mapping")
    return data


def _validate(path: Path, data: dict[str, Any]) -> TenantRules:
    try:
        return TenantRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise RulesError(f"{path}: {problems}") from None


def load_rules_file(path: Path, default: dict[str, Any] | None = None) -> TenantRules:
    """Load one rules file, merged over ``default`` when given."""
    data = _read_yaml(path)
    return _validate(path, _deep_merge(default, data) if default is not None else data)


class RuleBook:
    """Compiled rules of every tenant in a directory; lookups never parse."""

    def __init__(self, default: TenantRules, tenants: dict[str, TenantRules] | None = None) -> None:
        self.default = default
        self.tenants = tenants or {}

    def for_tenant(self, tenant_id: str) -> TenantRules:
        return self.tenants.get(tenant_id, self.default)

    @classmethod
    def single(cls, rules: TenantRules) -> RuleBook:
        return cls(rules)

    @classmethod
    def load(cls, directory: Path) -> RuleBook:
        default_path = directory / "default.yaml"
        default_data = _read_yaml(default_path)
        default = _validate(default_path, default_data)
        tenants: dict[str, TenantRules] = {}
        for path in sorted(directory.glob("*.yaml")):
            if path.name == "default.yaml":
                continue
            rules = load_rules_file(path, default_data)
            tenant = rules.tenant_id if rules.tenant_id != "default" else path.stem
            tenants[tenant] = rules.model_copy(update={"tenant_id": tenant})
        return cls(default, tenants)

    @classmethod
    def from_path(cls, path: Path) -> RuleBook:
        """A directory of tenant files, or one file used for every tenant."""
        return cls.load(path) if path.is_dir() else cls.single(load_rules_file(path))
