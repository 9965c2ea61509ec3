"""Benefit instances in the read model: projected from the member changelog, and their usage
rate per benefit and tier in the statistics (the demo stream reports half its redeemed coupons used)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.statistics import statistics
from models.benefits import BenefitChange
from models.outputs import BenefitGrant
from tests.readmodel.fixtures import stream
from tests.readmodel.test_projection import project

START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)


def test_every_kept_instance_is_a_row_with_its_status_and_uses(db):
    outputs, records = stream()
    project(db, records)
    grants = {o.value.grant_id: o.value for o in outputs if isinstance(o.value, BenefitGrant)}
    used = Counter(o.value.benefit_id for o in outputs if isinstance(o.value, BenefitChange)
                   and o.value.action == "used")
    with db.connect() as conn:
        rows = {r.benefit_id: r for r in conn.execute(sa.select(schema.benefit_instances))}
    assert rows and set(rows) <= set(grants)
    assert {bid for bid in used} <= set(rows)
    for benefit_id, row in rows.items():
        grant = grants[benefit_id]
        assert (row.member_id, row.benefit, row.tier, row.quantity) == (
            grant.member_id, grant.benefit, grant.tier, grant.quantity)
        assert row.uses == used.get(benefit_id, 0)
        assert row.status == "used" if row.uses == row.quantity else row.status in ("issued", "expired", "voided")
        assert (row.amount_saved is not None) == (row.uses > 0)


def test_the_statistics_give_the_usage_rate_per_benefit_and_tier(db):
    _, records = stream()
    project(db, records)
    with db.connect() as conn:
        figures = statistics(conn, "default", START, END)
        b = schema.benefit_instances.c
        expected = conn.execute(sa.select(b.benefit, sa.func.sum(b.uses)).group_by(b.benefit)).all()
    by_benefit = Counter()
    for f in figures.benefit_usage:
        assert f.used <= f.issued and f.usage_rate == (Decimal(f.used) / f.issued).quantize(Decimal("0.0001"))
        by_benefit[f.benefit] += f.used
    assert by_benefit == Counter({benefit: int(uses) for benefit, uses in expected})
    coupons = next(f for f in figures.benefit_usage if f.benefit == "points_coupon")
    assert 0 < coupons.used < coupons.issued
    assert figures.coupons.used == coupons.used
