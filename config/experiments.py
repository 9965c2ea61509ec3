"""Live experiments (seed 003 §5, A/B tests): rules overlays tried on a share of a tenant's members.

An experiment names a population (tiers, a share of members, a window in event
time), a holdout share kept on the base rules, and variants, each a rules
overlay deep-merged over the tenant's rules.  A member's arm is a pure
function of (tenant, experiment, member) -- a hash, no state -- so it is the
same on every worker, after a restart and in a replay.  Experiments are
mutually exclusive: a member is in the first experiment of the list whose
population holds it at the event's time.

Overlays merge like tenant files (mappings merge, scalars replace), except
that a list of mappings with ``id`` keys (the tier ladder) merges entry by
entry, so ``tiers: {tiers: [{id: GOLD, qualify: [...]}]}`` changes GOLD only.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from hashlib import blake2b
from typing import Any, NamedTuple, Self

from pydantic import AwareDatetime, Field, model_validator

from config.strict import Strict
from models.fields import LineId

#: the arm of the members an experiment keeps on the base rules
HOLDOUT = "holdout"
#: rules sections an overlay may not change (they say whose rules these are, or are experiments themselves)
FIXED_SECTIONS = frozenset({"tenant_id", "experiments", "time_zone", "currency"})


class Population(Strict):
    """Who is in an experiment: members whose tier (before the event) is listed, a share of them, in a window."""

    tiers: list[str] = Field(default_factory=list, description="tier ids; empty = every tier")
    share: Decimal = Field(default=Decimal(1), gt=0, le=1, description="share of eligible members in the experiment")
    starts_at: AwareDatetime = Field(description="events from this moment (event time) are in the experiment")
    ends_at: AwareDatetime | None = Field(default=None, description="events from this moment are not; none = open")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Variant(Strict):
    name: LineId = Field(description=f"unique within the experiment; {HOLDOUT!r} is reserved")
    weight: Decimal = Field(default=Decimal(1), gt=0, description="relative share among the variants")
    overlay: dict[str, Any] = Field(default_factory=dict, description="rules merged over the tenant's; {} = control")
    description: str = Field(default="", max_length=500)


class Experiment(Strict):
    id: LineId
    description: str = Field(default="", max_length=500)
    population: Population
    holdout: Decimal = Field(default=Decimal(0), ge=0, lt=1,
                             description="share of the population kept on the base rules (arm 'holdout')")
    variants: list[Variant] = Field(min_length=1)
    stopped_at: AwareDatetime | None = Field(
        default=None, description="stopped: from this moment (event time) every member is on the base rules")
    rolled_out: str | None = Field(default=None, description="the variant made the base rules when it was stopped")

    @model_validator(mode="after")
    def _names(self) -> Self:
        names = [v.name for v in self.variants]
        if HOLDOUT in names:
            raise ValueError(f"variant name {HOLDOUT!r} is reserved for the holdout")
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {names}")
        if self.rolled_out is not None and self.rolled_out not in names:
            raise ValueError(f"rolled_out {self.rolled_out!r} is not a variant: {names}")
        for variant in self.variants:
            fixed = sorted(FIXED_SECTIONS & variant.overlay.keys())
            if fixed:
                raise ValueError(f"variant {variant.name!r}: an overlay cannot change {fixed}")
        return self

    def until(self) -> datetime | None:
        """The end of the experiment in event time: its stop or its end, whichever is first."""
        ends = [t for t in (self.population.ends_at, self.stopped_at) if t is not None]
        return min(ends) if ends else None

    def running_at(self, at: datetime) -> bool:
        until = self.until()
        return self.population.starts_at <= at and (until is None or at < until)


class Arm(NamedTuple):
    experiment: str
    variant: str


_SCALE = float(1 << 64)


def position(tenant_id: str, experiment_id: str, member_id: str) -> float:
    """The member's place in [0, 1) for this experiment: uniform, stable, independent across experiments."""
    digest = blake2b(f"{tenant_id}\x1f{experiment_id}\x1f{member_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_of(experiment: Experiment, tenant_id: str, member_id: str) -> Arm | None:
    """The member's arm in ``experiment`` ignoring time and tier: None outside its share."""
    share = float(experiment.population.share)
    u = position(tenant_id, experiment.id, member_id)
    if u >= share:
        return None
    u /= share  # uniform again within the population
    holdout = float(experiment.holdout)
    if u < holdout:
        return Arm(experiment.id, HOLDOUT)
    u = (u - holdout) / (1 - holdout)
    total = float(sum(v.weight for v in experiment.variants))
    bound = 0.0
    for variant in experiment.variants:
        bound += float(variant.weight) / total
        if u < bound:
            return Arm(experiment.id, variant.name)
    return Arm(experiment.id, experiment.variants[-1].name)


def assign(experiments: list[Experiment], tenant_id: str, member_id: str, tier: str, at: datetime) -> Arm | None:
    """The member's arm for an event at ``at`` while in ``tier``: the first running experiment that holds it."""
    for experiment in experiments:
        if not experiment.running_at(at):
            continue
        tiers = experiment.population.tiers
        if tiers and tier not in tiers:
            continue
        arm = arm_of(experiment, tenant_id, member_id)
        if arm is not None:
            return arm
    return None


def merge_overlay(base: Any, over: Any) -> Any:
    """``over`` merged into ``base``: mappings merge, lists of mappings with ids merge by id (an id the
    base does not have is appended), anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge_overlay(base[key], value) if key in base else value
        return out
    if _by_id(base) and _by_id(over):
        merged = list(base)
        index = {entry["id"]: i for i, entry in enumerate(merged)}
        for entry in over:
            i = index.get(entry["id"])
            if i is None:
                merged.append(entry)
            else:
                merged[i] = merge_overlay(merged[i], entry)
        return merged
    return over


def _by_id(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(e, dict) and "id" in e for e in value)
