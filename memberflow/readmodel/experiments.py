"""Live experiments in the read model: their members per variant, a member's experiments, and the
per-variant sums the statistics are computed from.

Every figure is summed in the database, one ``GROUP BY variant`` over ``experiment_members`` (its key
starts with tenant and experiment): count, the sums of spend and of its square (for the variance), and
the sums of the counts -- a few rows whatever the number of members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.projection import EXPOSURE_COUNTS


@dataclass(frozen=True)
class VariantSums:
    """One arm's members and their figures summed."""

    variant: str
    members: int
    spend: Decimal
    spend_squares: Decimal
    orders: int = 0
    points_issued: int = 0
    upgrades: int = 0
    downgrades: int = 0
    grants: int = 0
    benefits_used: int = 0


def members_per_variant(conn: sa.Connection, tenant_id: str) -> dict[str, dict[str, int]]:
    """Experiment -> variant -> its members, for every experiment of the tenant the read model holds."""
    e = schema.experiment_members.c
    rows = conn.execute(sa.select(e.experiment, e.variant, sa.func.count()).where(e.tenant_id == tenant_id)
                        .group_by(e.experiment, e.variant))
    out: dict[str, dict[str, int]] = {}
    for experiment, variant, count in rows:
        out.setdefault(experiment, {})[variant] = int(count)
    return out


def variant_sums(conn: sa.Connection, tenant_id: str, experiment: str, enrolled_from: datetime | None = None,
                 enrolled_until: datetime | None = None) -> dict[str, VariantSums]:
    """Variant -> its sums, for the variants with members (those enrolled from ``enrolled_from`` on and
    before ``enrolled_until``, when given: a cohort)."""
    e = schema.experiment_members.c
    cohort = [e.enrolled_at >= enrolled_from] if enrolled_from is not None else []
    if enrolled_until is not None:
        cohort.append(e.enrolled_at < enrolled_until)
    zero = sa.literal(0)
    query = sa.select(e.variant, sa.func.count(), sa.func.coalesce(sa.func.sum(e.spend), zero),
                      sa.func.coalesce(sa.func.sum(e.spend * e.spend), zero),
                      *(sa.func.coalesce(sa.func.sum(e[name]), zero) for name in EXPOSURE_COUNTS)) \
        .where(e.tenant_id == tenant_id, e.experiment == experiment, *cohort).group_by(e.variant)
    out = {}
    for variant, members, spend, squares, *counts in conn.execute(query):
        out[variant] = VariantSums(variant, int(members), _decimal(spend), _decimal(squares),
                                   *(int(c) for c in counts))
    return out


def member_experiments(conn: sa.Connection, tenant_id: str, member_id: str) -> list[sa.Row]:
    """The member's rows of experiments, the first it entered first."""
    e = schema.experiment_members.c
    return conn.execute(sa.select(schema.experiment_members)
                        .where(e.tenant_id == tenant_id, e.member_id == member_id)
                        .order_by(e.enrolled_at, e.experiment)).all()


def _decimal(value: object) -> Decimal:
    """A sum as the database gives it (SQLite: maybe a float) as a decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
