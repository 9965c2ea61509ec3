"""An experiment's figures per variant, and each variant's spend per member against the control's.

The read model sums each arm in the database (``experiments.variant_sums``: count, sum and sum of
squares of spend, sums of the counts); the means, variances and Welch's t-test are computed here from
those sums, in decimals wide enough that the sum of squares loses nothing.  The control is the holdout
when the experiment has one, else its first variant.  Welch's test does not assume equal variances:
``t = (mean_v - mean_c) / se`` with ``se = sqrt(var_v/n_v + var_c/n_c)`` and the Welch-Satterthwaite
degrees of freedom; the interval is ``difference ± t_0.975(df) · se``, the p-value two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import sqlalchemy as sa
from scipy.stats import t as student_t

from config.experiments import HOLDOUT, Experiment
from config.rules import TenantRules
from memberflow.readmodel.experiments import VariantSums, variant_sums
from models.admin_experiments import ExperimentStatistics, ExperimentStatus, SpendDifference, VariantFigures

CENT = Decimal("0.01")
CONFIDENCE = Decimal("0.95")


def status(experiment: Experiment, now: datetime, removed: bool = False) -> ExperimentStatus:
    """``removed``: the rules in force no longer name it (``experiment`` is its last definition)."""
    if removed:
        return ExperimentStatus.REMOVED
    if experiment.stopped_at is not None and experiment.stopped_at <= now:
        return ExperimentStatus.STOPPED
    if now < experiment.population.starts_at:
        return ExperimentStatus.SCHEDULED
    if experiment.population.ends_at is not None and experiment.population.ends_at <= now:
        return ExperimentStatus.ENDED
    return ExperimentStatus.RUNNING


def arms(experiment: Experiment) -> list[str]:
    """The experiment's arms: the holdout first when it has one, then the variants in order."""
    return ([HOLDOUT] if experiment.holdout > 0 else []) + [v.name for v in experiment.variants]


def control(experiment: Experiment) -> str:
    return arms(experiment)[0]


def point_value(rules: TenantRules) -> Decimal | None:
    """Money per point: what a point pays in points + cash at the first band's rate."""
    bands = rules.redemptions.points_cash.bands
    return Decimal(1) / bands[0].points_per_yuan if bands else None


@dataclass(frozen=True)
class Moments:
    """One arm's spend: members, mean and (sample) variance."""

    n: int
    mean: Decimal
    variance: Decimal | None  # None: fewer than 2 members

    @classmethod
    def of(cls, sums: VariantSums) -> Moments:
        n = sums.members
        if n == 0:
            return cls(0, Decimal(0), None)
        with localcontext() as ctx:
            ctx.prec = 60
            mean = sums.spend / n
            variance = max(Decimal(0), (sums.spend_squares - sums.spend * mean) / (n - 1)) if n > 1 else None
        return cls(n, mean, variance)


def welch(variant: Moments, base: Moments, confidence: Decimal = CONFIDENCE) -> tuple[
        Decimal | None, Decimal | None, Decimal | None, float | None, float | None]:
    """(difference of means, interval low, high, two-sided p-value, degrees of freedom) of ``variant``
    against ``base``; None where it cannot be computed."""
    if variant.n == 0 or base.n == 0:
        return None, None, None, None, None
    difference = variant.mean - base.mean
    if variant.variance is None or base.variance is None:
        return difference, None, None, None, None
    a, b = float(variant.variance) / variant.n, float(base.variance) / base.n
    se = math.sqrt(a + b)
    if se == 0:
        return difference, None, None, None, None
    df = (a + b) ** 2 / (a * a / (variant.n - 1) + b * b / (base.n - 1))
    t = float(difference) / se
    half = float(student_t.ppf((1 + float(confidence)) / 2, df)) * se
    p = float(2 * student_t.sf(abs(t), df))
    low, high = (Decimal(repr(float(difference) + sign * half)) for sign in (-1, 1))
    return difference, low, high, p, df


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(CENT, ROUND_HALF_EVEN) if value is not None else None


def _per_member(total: int, members: int) -> Decimal:
    return (Decimal(total) / members).quantize(CENT, ROUND_HALF_EVEN) if members else Decimal("0.00")


def experiment_statistics(conn: sa.Connection, tenant_id: str, experiment: Experiment, rules: TenantRules,
                          now: datetime | None = None, removed: bool = False, enrolled_from: datetime | None = None,
                          enrolled_until: datetime | None = None) -> ExperimentStatistics:
    """The figures per arm; ``rules``: those that define ``experiment`` (``removed``: no longer in force).
    ``enrolled_from`` / ``enrolled_until``: of the members enrolled in that span only (a cohort; assignment
    does not depend on the moment, so the arms of a cohort compare as the whole experiment's do)."""
    now = now or datetime.now(UTC)
    summed = variant_sums(conn, tenant_id, experiment.id, enrolled_from, enrolled_until)
    names = arms(experiment)
    names += sorted(set(summed) - set(names))  # an arm the rules no longer name (a variant renamed)
    value = point_value(rules)
    figures, moments = [], {}
    for name in names:
        sums = summed.get(name) or VariantSums(name, 0, Decimal(0), Decimal(0))
        m = moments[name] = Moments.of(sums)
        sd = m.variance.sqrt() if m.variance is not None else None
        figures.append(VariantFigures(
            variant=name, control=name == names[0], members=sums.members, spend=_money(sums.spend),
            spend_per_member=_money(m.mean), spend_sd=_money(sd), orders=sums.orders,
            orders_per_member=_per_member(sums.orders, sums.members), upgrades=sums.upgrades,
            downgrades=sums.downgrades, points_issued=sums.points_issued,
            points_cost=_money(sums.points_issued * value) if value is not None else None,
            benefits_granted=sums.grants, benefits_used=sums.benefits_used))
    base = names[0]
    differences = []
    for name in names[1:]:
        difference, low, high, p, df = welch(moments[name], moments[base])
        differences.append(SpendDifference(variant=name, control=base, difference=_money(difference),
                                           ci_low=_money(low), ci_high=_money(high), p_value=p,
                                           degrees_of_freedom=df))
    return ExperimentStatistics(tenant_id=tenant_id, experiment=experiment.id,
                                status=status(experiment, now, removed),
                                control=base, currency=rules.currency, point_value=value, variants=figures,
                                differences=differences, as_of=now, enrolled_from=enrolled_from,
                                enrolled_until=enrolled_until)
