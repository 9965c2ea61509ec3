"""A tenant's figures by day (UTC days of event time) for the dashboard's charts: points earned,
spent, expired and adjusted, points outstanding at each day's end, upgrades and downgrades.

Every points series is a sum over ``ledger_entries``, so the days add up to the
range's figures in ``statistics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.projection import utc


@dataclass(frozen=True)
class Daily:
    days: list[str]  # YYYY-MM-DD
    series: dict[str, list[int]]


def day_of(conn: sa.Connection, column: sa.ColumnElement) -> sa.ColumnElement:
    """The UTC day of a time column as ``YYYY-MM-DD`` text, on PostgreSQL and SQLite."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", column)


def days_between(start: datetime, end: datetime) -> list[str]:
    first, last = utc(start).date(), (utc(end) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def latest_day(conn: sa.Connection, tenant_id: str) -> date | None:
    """The UTC day of the tenant's latest ledger entry (dashboards default to event time, not the clock)."""
    c = schema.ledger.c
    latest = conn.scalar(sa.select(sa.func.max(c.occurred_at)).where(c.tenant_id == tenant_id))
    return utc(latest).date() if latest is not None else None


def daily(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> Daily:
    """Series over the UTC days of ``[start, end)``: earned, spent, expired, credited, deducted (points, positive),
    outstanding (every delta up to the day's end), upgrades, downgrades (counts)."""
    start, end = utc(start), utc(end)
    days = days_between(start, end)
    index = {d: i for i, d in enumerate(days)}
    names = ("earned", "spent", "expired", "credited", "deducted", "outstanding", "upgrades", "downgrades")
    series = {name: [0] * len(days) for name in names}
    c = schema.ledger.c
    day = day_of(conn, c.occurred_at)
    rows = conn.execute(sa.select(day, c.kind, sa.func.sum(sa.case((c.delta > 0, c.delta), else_=0)),
                                  sa.func.sum(sa.case((c.delta < 0, c.delta), else_=0)))
                        .where(c.tenant_id == tenant_id, c.occurred_at >= start, c.occurred_at < end)
                        .group_by(day, c.kind))
    net = [0] * len(days)
    for d, kind, plus, minus in rows:
        i = index[d]
        plus, minus = int(plus or 0), int(minus or 0)
        net[i] += plus + minus
        if kind == "earn":
            series["earned"][i] += plus + minus
        elif kind == "spend":
            series["spent"][i] -= plus + minus
        elif kind == "expiry":
            series["expired"][i] -= plus + minus
        else:
            series["credited"][i] += plus
            series["deducted"][i] -= minus
    running = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(c.delta), 0))
                              .where(c.tenant_id == tenant_id, c.occurred_at < start)))
    for i, change in enumerate(net):
        running += change
        series["outstanding"][i] = running
    t = schema.tier_changes.c
    tday = day_of(conn, t.occurred_at)
    for d, direction, count in conn.execute(
            sa.select(tday, t.direction, sa.func.count()).where(
                t.tenant_id == tenant_id, t.occurred_at >= start, t.occurred_at < end).group_by(tday, t.direction)):
        series["upgrades" if direction == "up" else "downgrades"][index[d]] += int(count)
    return Daily(days, series)
