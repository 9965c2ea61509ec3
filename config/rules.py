"""Tenant rules: YAML validated by pydantic, compiled once at load.

A rules directory holds ``default.yaml`` and optionally ``<tenant_id>.yaml``
files.  A tenant file is deep-merged over the default (mappings merge, lists
and scalars replace), so it only states what differs.  A tenant without a
file uses the default.  Errors name the file, the path of the bad field and why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from hashlib import blake2b
from pathlib import Path
from string import Formatter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import AwareDatetime, Field, PrivateAttr, ValidationError, field_validator, model_validator

from config.business_lines import BusinessLine
from config.earning.schema import EarningRules
from config.experiments import HOLDOUT, Arm, Experiment, assign, merge_overlay
from config.redemptions import RedemptionRules
from config.risk import RiskRules
from config.strict import Strict
from config.tiers import TierRules
from models.fields import LineId


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


class Channel(StrEnum):
    SMS = "sms"
    IN_APP = "in_app"


#: what an expiry warning's template may name
WARNING_PLACEHOLDERS = frozenset({"member_id", "tenant_id", "points", "expires_on", "first_points", "until"})


class ExpiryWarning(Strict):
    """The expiry-warning campaign: how a warning reads and where it goes (lead time and cadence
    are ``warn_lead_days`` and ``warn_every_days``)."""

    channel: Channel = Channel.IN_APP
    template: str = Field(
        default="{points} points expire by {until} (first {first_points} on {expires_on})", min_length=1,
        max_length=500,
        description="placeholders: {points} expiring within the lead time, {expires_on} the first expiry date, "
                    "{first_points} expiring on it, {until} the last date within the lead time, {member_id}, "
                    "{tenant_id}")

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from None
        unknown = sorted(names - WARNING_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                             f"known: {', '.join(sorted(WARNING_PLACEHOLDERS))}")
        return value

    def render(self, **values: object) -> str:
        return self.template.format_map(values)


class ExpiryRules(Strict):
    mode: ExpiryMode = ExpiryMode.END_OF_NEXT_YEAR
    months: int = Field(default=12, ge=1, le=240)
    warn_lead_days: int = Field(default=30, ge=0, description="warn this many days before points expire (0: never)")
    warn_every_days: int = Field(default=7, ge=1, description="at most one warning per this many days")
    warning: ExpiryWarning = ExpiryWarning()


class ClawbackPolicy(StrEnum):
    """What a refund's clawback does when the order's points were already spent (seed 001 §5: no
    refund loophole).  ``negative_balance`` (the default): the rest becomes debt, repaid first from
    later earnings.  ``cap_and_record``: take what is there, record the rest as a shortfall (the member
    keeps it).  A tenant that would rather not lend can keep order points pending for the return
    window instead (``points.pending_days``), so they cannot be spent before a refund."""

    NEGATIVE_BALANCE = "negative_balance"
    CAP_AND_RECORD = "cap_and_record"


class PointsRules(Strict):
    pending_days: int = Field(default=0, ge=0, le=365, description="return window before order points can be spent")
    expiry: ExpiryRules = ExpiryRules()
    clawback: ClawbackPolicy = ClawbackPolicy.NEGATIVE_BALANCE
    operator_debits_overdraw: bool = Field(
        default=False,
        description="an operator's debit beyond the spendable points becomes debt (true) or is refused (false)")
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
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value


class BenefitRules(Strict):
    """Benefit instances (engine/benefit_instances.py): their expiry reminder and how long settled ones are kept."""

    remind_days_before: int = Field(
        default=3, ge=0, le=365,
        description="one reminder this many days before an unused benefit expires; 0 = none (redeemed points "
                    "coupons have their own reminders: redemptions.coupons)")
    keep_settled_days: int = Field(default=30, ge=1, le=3650,
                                   description="used, expired and voided instances are kept this long")
    max_instances: int = Field(default=200, ge=1, le=10_000,
                               description="instances kept per member; the oldest settled go first")


class Rounding(StrEnum):
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"


class CheckoutRules(Strict):
    """The checkout quote (``engine/quote.py``): how the member price is rounded."""

    rounding: Rounding = Field(default=Rounding.HALF_UP,
                               description="rounding of each line's member price to the cent")


class Limits(Strict):
    max_amount: Decimal = Field(default=Decimal(1_000_000), gt=0)
    max_items: int = Field(default=500, ge=1)
    max_lateness: timedelta = Field(
        default=timedelta(days=7), ge=timedelta(0), le=timedelta(days=35),
        description="how far behind the member's latest event time an event may arrive and still be applied "
                    "in its place in time (ISO 8601, e.g. P7D; at most P35D, how far back daily caps are kept); "
                    "older ones are dead-lettered as too_late")
    programme_start: AwareDatetime = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="events that say they happened before this are dead-lettered as implausible_time")
    max_clock_skew: timedelta = Field(
        default=timedelta(minutes=5), ge=timedelta(0),
        description="an event may say it happened at most this far after the broker received it")


class Retention(Strict):
    recent_event_ids: int = Field(default=256, ge=8, le=100_000)
    order_days: int = Field(default=400, ge=1, description="how long an order can still be refunded")
    max_orders: int = Field(default=1000, ge=1)
    ledger_entries: int = Field(default=1000, ge=1, description="history rows kept per member (tables/ledger.py)")
    journal_entries: int = Field(
        default=16, ge=1, le=10_000,
        description="how many events older than max_lateness a member's journal folds into its base at once by "
                    "replaying them; a journal of half as many events or more keeps checkpoints (its state as stored "
                    "after an event) and folds at them, replaying nothing")


class EventTimeBounds(NamedTuple):
    """A tenant's limits on event times, in microseconds since the epoch, and its journals' bound."""

    lateness: int  # limits.max_lateness
    start: int  # limits.programme_start
    skew: int  # limits.max_clock_skew
    journal_entries: int  # retention.journal_entries


class TenantRules(Strict):
    tenant_id: str = "default"
    time_zone: str = "Asia/Shanghai"
    currency: str = "CNY"
    limits: Limits = Limits()
    points: PointsRules = PointsRules()
    growth: GrowthRules = GrowthRules()
    tiers: TierRules
    complaints: ComplaintRules = ComplaintRules()
    risk: RiskRules = RiskRules()
    retention: Retention = Retention()
    evaluation: EvaluationRules = EvaluationRules()
    redemptions: RedemptionRules = RedemptionRules()
    benefits: BenefitRules = BenefitRules()
    checkout: CheckoutRules = CheckoutRules()
    #: seed 000's business lines (badges), version 1 unless stated; newer versions
    #: published to `business-lines` supersede them per tenant (engine/lines.py)
    business_lines: dict[LineId, BusinessLine] = Field(default_factory=dict)
    #: live experiments (config/experiments.py): rules overlays tried on a share of the members
    experiments: list[Experiment] = Field(default_factory=list)
    #: the published definitions in force (engine.published_lines.Catalog), set by engine.published_lines only
    _published_lines: Any = PrivateAttr(default=None)
    #: a digest of those definitions (0: none), set with them
    _lines_digest: int = PrivateAttr(default=0)
    #: the version published to ``tenant-rules`` these rules are, and its label, set by engine.published_rules only
    _published_version: int | None = PrivateAttr(default=None)
    _version_label: str | None = PrivateAttr(default=None)
    #: the merchant membership plans in force (engine.plans.PlanFacts), set by engine.plans only
    _membership_plans: Any = PrivateAttr(default=None)
    #: each variant's rules as validated at load, by arm (shared by copies: never changed)
    _variants: dict[Arm, TenantRules] = PrivateAttr(default_factory=dict)
    #: (owner, arm -> the rules a member in that arm is judged by), built on first use by ``for_member``
    _arm_rules: Any = PrivateAttr(default=None)
    #: set on an arm's rules only: the arm, and the rules it was derived from
    _arm: Arm | None = PrivateAttr(default=None)
    _base: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile_experiments(self) -> TenantRules:
        """Every variant's overlay merged and validated now, so a bad one is refused at load with its path."""
        if not self.experiments:
            return self
        ladder = [t.id for t in self.tiers.tiers]
        ids = [e.id for e in self.experiments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"experiments: ids repeat: {ids}")
        base = self.model_dump(exclude={"experiments"})
        variants: dict[Arm, TenantRules] = {}
        for i, experiment in enumerate(self.experiments):
            unknown = sorted(set(experiment.population.tiers) - set(ladder))
            if unknown:
                raise ValueError(f"experiments.{i}.population.tiers: unknown tier(s) {unknown}; the ladder is {ladder}")
            for j, variant in enumerate(experiment.variants):
                where = f"experiments.{i}.variants.{j}.overlay"
                merged = merge_overlay(base, variant.overlay)
                try:
                    rules = TenantRules.model_validate(merged)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    path = ".".join(str(p) for p in err["loc"])
                    raise ValueError(f"{where}.{path}: {err['msg']}") from None
                changed = [t.id for t in rules.tiers.tiers]
                if changed != ladder:
                    added = sorted(set(changed) - set(ladder))
                    raise ValueError(f"{where}.tiers.tiers: unknown tier(s) {added}; an overlay keeps the ladder "
                                     f"{ladder}")
                for path, why in unknown_tiers(rules):
                    raise ValueError(f"{where}.{path}: {why}")
                variants[Arm(experiment.id, variant.name)] = rules
        self._variants = variants
        return self

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
    def event_time(self) -> EventTimeBounds:
        """What every event's time is compared with, in microseconds (one attribute read per event)."""
        unit, limits = timedelta(microseconds=1), self.limits
        start = (limits.programme_start - datetime(1970, 1, 1, tzinfo=UTC)) // unit
        return EventTimeBounds(limits.max_lateness // unit, start, limits.max_clock_skew // unit,
                               self.retention.journal_entries)

    @cached_property
    def fingerprint(self) -> int:
        """A digest of these rules: stored due marks hold only under the rules they were computed with."""
        # rules without experiments digest as they did before experiments existed
        dumped = self.model_dump_json(exclude=None if self.experiments else {"experiments"})
        return int.from_bytes(blake2b(dumped.encode(), digest_size=8).digest(), "big")

    @property
    def due_fingerprint(self) -> int:
        """What a stored due mark holds under: these rules and the business-line definitions
        published into them (a badge's due moments depend on its line's definition)."""
        private = self.__pydantic_private__
        return self.fingerprint ^ private["_lines_digest"] if private else self.fingerprint

    @property
    def version(self) -> str:
        """What outputs name as the rules that decided them: ``v<n>`` for a version published to
        ``tenant-rules``, ``file:<fingerprint>`` for rules loaded from the rules directory."""
        private = self.__pydantic_private__
        assert private is not None
        base = private["_base"]
        if base is not None:
            return base.version
        label = private["_version_label"]  # read per output: straight from pydantic's private storage
        if label is None:
            published = private["_published_version"]
            label = private["_version_label"] = f"v{published}" if published is not None else \
                f"file:{self.fingerprint:016x}"
        return label


    @property
    def arm(self) -> Arm | None:
        """The experiment arm these rules are for (None: the tenant's own rules)."""
        private = self.__pydantic_private__
        return private["_arm"] if private else None

    def for_member(self, tenant_id: str, member_id: str, tier: str, at: datetime) -> TenantRules:
        """The rules a member in ``tier`` is judged by for an event at ``at``: these rules, or an
        experiment arm's (the holdout's are these rules naming the arm)."""
        if not self.experiments:
            return self
        arm = assign(self.experiments, tenant_id, member_id, tier, at)
        if arm is None:
            return self
        private = self.__pydantic_private__
        assert private is not None
        cache = private["_arm_rules"]
        if cache is None or cache[0] is not self:  # a copy carries its original's cache: not its own
            cache = private["_arm_rules"] = (self, {})
        rules = cache[1].get(arm)
        if rules is None:
            rules = (self if arm.variant == HOLDOUT else private["_variants"][arm]).model_copy()
            rules._published_lines, rules._lines_digest = private["_published_lines"], private["_lines_digest"]
            rules._membership_plans = private["_membership_plans"]
            rules._arm, rules._base, rules._arm_rules = arm, self, None
            cache[1][arm] = rules
        return rules


def unknown_tiers(rules: TenantRules) -> list[tuple[str, str]]:
    """(path, why) of each tier the earning rules name that is not on the ladder.  A rules file may
    leave such a tier (its rule then never applies: the defaults name the shipped ladder's tiers);
    a candidate published at run time may not (``memberflow.admin.rules``)."""
    ladder = [t.id for t in rules.tiers.tiers]
    earning = rules.points.earning
    named = [
        ("points.earning.tier_multipliers.tiers", earning.tier_multipliers.tiers),
        ("points.earning.tier_threshold_bonus.tiers", earning.tier_threshold_bonus.tiers),
        ("points.earning.daily_caps.tiers", earning.daily_caps.tiers),
        *((f"points.earning.price_range_tiers.ranges.{i}.tiers", r.tiers)
          for i, r in enumerate(earning.price_range_tiers.ranges)),
    ]
    problems = []
    for path, tiers in named:
        unknown = sorted(set(tiers) - set(ladder))
        if unknown:
            problems.append((path, f"unknown tier(s) {unknown}; the ladder is {ladder}"))
    return problems


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
