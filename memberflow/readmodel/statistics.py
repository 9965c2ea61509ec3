"""A tenant's statistics for a time range, computed in the database from the read model's rows.

Ranges are ``[start, end)`` in event time (``occurred_at``).  Every points
figure is a sum over ``ledger_entries`` (so it agrees with the ledger to the
point); ``outstanding_at_end`` is every delta before ``end``.  Members per
tier and status are as the read model holds them now, and at the end of each
day of the range (``members_by_day``).  Memberships of merchants' plans: the
active ones per plan and level now (``memberships``), and sales, revenue,
renewals and churn from the ``membership_changes`` in the range.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import sqlalchemy as sa

from engine.redemptions.coupons import BENEFIT as POINTS_COUPON
from memberflow.readmodel import schema
from memberflow.readmodel.members_by_day import members_by_day
from memberflow.readmodel.projection import utc
from models.admin import (
    BenefitUsageFigures,
    Count,
    CouponFigures,
    DailyCount,
    MembersByDay,
    MembershipFigures,
    PlanLevelMembers,
    PointsByRule,
    PointsFigures,
    ProductSales,
    RiskFigures,
    Statistics,
)

CENT = Decimal("0.01")
RATE = Decimal("0.0001")


def _average(total: int, count: int) -> Decimal:
    return (Decimal(total) / count).quantize(CENT, ROUND_HALF_EVEN) if count else Decimal("0.00")


def _counts(conn: sa.Connection, query: sa.Select) -> list[Count]:
    return [Count(key=str(key), count=int(count or 0)) for key, count in conn.execute(query) if key is not None]


def points(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> PointsFigures:
    c = schema.ledger.c
    in_range = (c.tenant_id == tenant_id, c.occurred_at >= start, c.occurred_at < end)
    rows = conn.execute(sa.select(c.kind, c.rule, sa.func.sum(c.delta), sa.func.count())
                        .where(*in_range).group_by(c.kind, c.rule).order_by(c.kind, c.rule)).all()
    signed = conn.execute(sa.select(c.kind, sa.func.sum(sa.case((c.delta > 0, c.delta), else_=0)),
                                    sa.func.sum(sa.case((c.delta < 0, c.delta), else_=0)))
                          .where(*in_range).group_by(c.kind)).all()
    plus = {kind: int(p or 0) for kind, p, _ in signed}
    minus = {kind: int(m or 0) for kind, _, m in signed}
    before_end = (c.tenant_id == tenant_id, c.occurred_at < end)
    outstanding = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(c.delta), 0)).where(*before_end)))
    members = int(conn.scalar(sa.select(sa.func.count(sa.distinct(c.member_id))).where(*before_end)))
    by_rule = [PointsByRule(kind=k, rule=r, points=int(p), entries=int(n)) for k, r, p, n in rows]
    total = {kind: plus.get(kind, 0) + minus.get(kind, 0) for kind in ("earn", "spend", "expiry")}
    return PointsFigures(earned=total["earn"], spent=-total["spend"], expired=-total["expiry"],
                         deducted=-minus.get("adjustment", 0), credited=plus.get("adjustment", 0),
                         net=sum(p.points for p in by_rule), by_rule=by_rule, outstanding_at_end=outstanding,
                         members=members, average_per_member=_average(outstanding, members))


def coupons(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime, members: int) -> CouponFigures:
    r = schema.redemptions.c
    issued = valid = expired = 0
    query = sa.select(r.occurred_at, r.granted).where(r.tenant_id == tenant_id, r.kind == "coupon",
                                                      r.status == "accepted", r.occurred_at < end)
    for occurred_at, granted in conn.execute(query):
        quantity = int((granted or {}).get("quantity", 0))
        if utc(occurred_at) >= start:
            issued += quantity
        if utc(granted["valid_until"]) > end:
            valid += quantity
        else:
            expired += quantity
    b = schema.benefit_instances.c
    used = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(b.uses), 0)).where(
        b.tenant_id == tenant_id, b.benefit == POINTS_COUPON, b.issued_at >= start, b.issued_at < end)))
    return CouponFigures(issued=issued, valid_at_end=valid, expired_at_end=expired, used=used,
                         average_held=_average(valid, members))


def risk(figures: PointsFigures) -> RiskFigures:
    """Held lots released and confirmed in the range: the ledger entries of those rules (engine/holds.py)."""
    entries = {r.rule: r for r in figures.by_rule if r.kind == "adjustment"}
    released = entries["risk_release"].entries if "risk_release" in entries else 0
    confirm = entries.get("risk_confirm")
    confirmed, cancelled = (confirm.entries, -confirm.points) if confirm is not None else (0, 0)
    decided = released + confirmed
    rate = (Decimal(released) / decided).quantize(RATE, ROUND_HALF_EVEN) if decided else Decimal("0.0000")
    return RiskFigures(released=released, confirmed=confirmed, points_cancelled=cancelled, release_rate=rate)


def by_day(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> MembersByDay:
    counted = members_by_day(conn, tenant_id, start, end)
    return MembersByDay(days=counted.days,
                        members_per_tier=[DailyCount(key=k, counts=v) for k, v in counted.tiers.items()],
                        members_per_status=[DailyCount(key=k, counts=v) for k, v in counted.statuses.items()])


def benefit_usage(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> list[BenefitUsageFigures]:
    """Per benefit and tier, the instances issued in the range and what became of them."""
    b = schema.benefit_instances.c
    counted = [sa.func.coalesce(sa.func.sum(sa.case((b.status == status, b.quantity), else_=0)), 0)
               for status in ("expired", "voided")]
    rows = conn.execute(sa.select(b.benefit, b.tier, sa.func.sum(b.quantity), sa.func.sum(b.uses), *counted)
                        .where(b.tenant_id == tenant_id, b.issued_at >= start, b.issued_at < end)
                        .group_by(b.benefit, b.tier).order_by(b.benefit, b.tier)).all()
    return [BenefitUsageFigures(benefit=benefit, tier=tier, issued=int(issued), used=int(used),
                                expired=int(expired), voided=int(voided),
                                usage_rate=(Decimal(int(used)) / int(issued)).quantize(RATE, ROUND_HALF_EVEN))
            for benefit, tier, issued, used, expired, voided in rows]


#: the changes that sell a card (a purchase joins, extends or upgrades)
SALES = ("joined", "extended", "upgraded")


def memberships(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> MembershipFigures:
    ms, mc = schema.memberships.c, schema.membership_changes.c
    active = conn.execute(sa.select(ms.merchant_id, ms.plan_id, ms.level_id, sa.func.count())
                          .where(ms.tenant_id == tenant_id, ms.status == "active")
                          .group_by(ms.merchant_id, ms.plan_id, ms.level_id)
                          .order_by(ms.merchant_id, ms.plan_id, ms.level_id)).all()
    in_range = (mc.tenant_id == tenant_id, mc.occurred_at >= start, mc.occurred_at < end)
    sales = conn.execute(sa.select(mc.merchant_id, mc.product_id, sa.func.count(),
                                   sa.func.coalesce(sa.func.sum(mc.amount), 0))
                         .where(*in_range, mc.kind.in_(SALES), mc.order_id.is_not(None), mc.product_id.is_not(None))
                         .group_by(mc.merchant_id, mc.product_id).order_by(mc.merchant_id, mc.product_id)).all()
    kinds = dict(conn.execute(sa.select(mc.kind, sa.func.count()).where(*in_range).group_by(mc.kind)).all())
    renewals = conn.scalar(sa.select(sa.func.count()).where(*in_range, mc.kind == "extended",
                                                            mc.order_id.is_not(None)))  # a card bought again
    return MembershipFigures(
        active_per_plan_level=[PlanLevelMembers(merchant_id=m, plan_id=p, level_id=lv, members=int(n))
                               for m, p, lv, n in active],
        sales_by_product=[ProductSales(merchant_id=m, product_id=p, sales=int(n),
                                       revenue=Decimal(revenue).quantize(CENT))
                          for m, p, n, revenue in sales],
        joined=int(kinds.get("joined", 0)), renewals=int(renewals or 0),
        upgrades=int(kinds.get("upgraded", 0)), expired=int(kinds.get("expired", 0)),
        revoked=int(kinds.get("revoked", 0)))


def statistics(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> Statistics:
    start, end = utc(start), utc(end)
    figures = points(conn, tenant_id, start, end)
    m, g, gi, t = schema.members.c, schema.grants.c, schema.gifts.c, schema.tier_changes.c
    per = [(m.tier, "tier"), (m.status, "status")]
    tiers, statuses = (_counts(conn, sa.select(col, sa.func.count()).where(m.tenant_id == tenant_id)
                               .group_by(col).order_by(col)) for col, _ in per)
    grants = _counts(conn, sa.select(g.benefit, sa.func.sum(g.quantity)).where(
        g.tenant_id == tenant_id, g.occurred_at >= start, g.occurred_at < end).group_by(g.benefit).order_by(g.benefit))
    gifts = _counts(conn, sa.select(gi.status, sa.func.count()).where(
        gi.tenant_id == tenant_id, gi.offered_at >= start, gi.offered_at < end).group_by(gi.status)
        .order_by(gi.status))
    changes = conn.execute(sa.select(t.direction, t.to_tier, sa.func.count()).where(
        t.tenant_id == tenant_id, t.occurred_at >= start, t.occurred_at < end)
        .group_by(t.direction, t.to_tier).order_by(t.direction, t.to_tier)).all()
    return Statistics(
        tenant_id=tenant_id, start=start, end=end, points=figures, members_per_tier=tiers,
        members_per_status=statuses, coupons=coupons(conn, tenant_id, start, end, figures.members),
        grants_by_benefit=grants, benefit_usage=benefit_usage(conn, tenant_id, start, end), gifts_by_status=gifts,
        upgrades=sum(n for d, _, n in changes if d == "up"), downgrades=sum(n for d, _, n in changes if d == "down"),
        tier_changes=[Count(key=f"{d}:{to}", count=n) for d, to, n in changes], risk=risk(figures),
        by_day=by_day(conn, tenant_id, start, end), memberships=memberships(conn, tenant_id, start, end))
