"""Contracts of the admin service's experiment endpoints: live experiments (config/experiments.py) as the
rules in force define them, their figures per variant from the read model, and stopping or rolling one out.

Money is a decimal string in the tenant's currency; ``spend`` is paid money net of refunds while in the
experiment.  The difference in spend per member of a variant against the control comes with its 95%
confidence interval and p-value from Welch's t-test (unequal variances).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, Field

from models.admin import Contract, Signed


class ExperimentStatus(StrEnum):
    SCHEDULED = "scheduled"  # its population's window has not started
    RUNNING = "running"
    ENDED = "ended"  # its window is over
    STOPPED = "stopped"  # stopped by an operator (``stopped_at`` passed), maybe rolled out
    REMOVED = "removed"  # the rules in force no longer name it: as the last version that did defined it


class VariantInfo(Contract):
    name: str = Field(description="a variant's name, or `holdout`")
    weight: Decimal | None = Field(description="its relative share among the variants (null: the holdout)")
    description: str = ""
    overlay: dict = Field(default_factory=dict, description="the rules it merges over the tenant's ({}: none)")
    members: int = Field(description="members in this arm so far (the read model's)")


class ExperimentInfo(Contract):
    experiment: str
    description: str
    status: ExperimentStatus
    tiers: list[str] = Field(description="the tiers in its population (empty: every tier)")
    share: Decimal = Field(description="the share of eligible members in it")
    holdout: Decimal = Field(description="the share of its population kept on the base rules")
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None
    stopped_at: AwareDatetime | None
    rolled_out: str | None = Field(description="the variant made the base rules when it was stopped")
    control: str = Field(description="what variants are compared with: the holdout, else the first variant")
    members: int
    variants: list[VariantInfo] = Field(description="the holdout first (when it has one), then the variants")


class VariantFigures(Contract):
    variant: str
    control: bool
    members: int
    spend: Decimal = Field(description="total spend of its members in the experiment")
    spend_per_member: Decimal = Field(description="the mean")
    spend_sd: Decimal | None = Field(description="the standard deviation of spend per member (null: < 2 members)")
    orders: int
    orders_per_member: Decimal
    upgrades: int
    downgrades: int
    points_issued: int
    points_cost: Decimal | None = Field(description="points issued x `point_value` (null: the rules value none)")
    benefits_granted: int
    benefits_used: int


class SpendDifference(Contract):
    """A variant's spend per member minus the control's, with Welch's t-test."""

    variant: str
    control: str
    difference: Decimal | None = Field(description="null: an arm has no members")
    ci_low: Decimal | None = Field(description="the 95% confidence interval (null: an arm has < 2 members, or "
                                               "no variance)")
    ci_high: Decimal | None
    p_value: float | None = Field(description="two-sided: that the means are equal")
    degrees_of_freedom: float | None = Field(description="Welch-Satterthwaite")


class ExperimentStatistics(Contract):
    tenant_id: str
    experiment: str
    status: ExperimentStatus
    control: str
    currency: str
    point_value: Decimal | None = Field(description="money per point: one over the points + cash rate's first "
                                                    "band (`redemptions.points_cash.bands[0].points_per_yuan`)")
    confidence: Decimal = Decimal("0.95")
    variants: list[VariantFigures]
    differences: list[SpendDifference] = Field(description="each variant against the control")
    as_of: datetime
    enrolled_from: datetime | None = Field(default=None, description="of the members enrolled at or after this "
                                                                     "moment only (none: from the start)")
    enrolled_until: datetime | None = Field(default=None, description="of the members enrolled before this moment "
                                                                      "only (none: until now)")


class ExperimentStop(Signed):
    """Stop an experiment now: every member is on the base rules from this moment."""


class ExperimentRollout(Signed):
    """Stop an experiment now, making a variant's overlay the base rules."""

    variant: str = Field(min_length=1, max_length=64, description="the variant whose overlay becomes the base rules")
