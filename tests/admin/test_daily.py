"""The dashboard's figures by day agree with the ledger and with the range's statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.daily import daily, days_between, latest_day
from memberflow.readmodel.statistics import statistics
from tests.admin.fixtures import TENANT


def test_the_days_add_up_to_the_statistics_and_outstanding_to_the_ledger(filled):
    with filled.connect() as conn:
        last = latest_day(conn, TENANT)
        start = datetime.combine(last - timedelta(days=13), datetime.min.time(), UTC)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        by_day = daily(conn, TENANT, start, end)
        figures = statistics(conn, TENANT, start, end)
        c = schema.ledger.c
        outstanding = {}
        for n, d in enumerate(by_day.days):
            day_end = start + timedelta(days=n + 1)
            outstanding[d] = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(c.delta), 0))
                                             .where(c.tenant_id == TENANT, c.occurred_at < day_end)))
    s = by_day.series
    assert len(by_day.days) == 14 and by_day.days[-1] == last.isoformat()
    assert sum(s["earned"]) == figures.points.earned > 0
    assert sum(s["spent"]) == figures.points.spent and sum(s["expired"]) == figures.points.expired
    assert sum(s["credited"]) == figures.points.credited and sum(s["deducted"]) == figures.points.deducted
    assert (sum(s["upgrades"]), sum(s["downgrades"])) == (figures.upgrades, figures.downgrades)
    assert sum(s["upgrades"]) > 0
    assert s["outstanding"] == [outstanding[d] for d in by_day.days]
    assert s["outstanding"][-1] == figures.points.outstanding_at_end


def test_days_between_counts_whole_utc_days():
    start = datetime(2025, 3, 1, tzinfo=UTC)
    assert days_between(start, start + timedelta(days=3)) == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert days_between(start, start + timedelta(hours=1)) == ["2025-03-01"]
