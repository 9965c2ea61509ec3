"""Exact trailing windows over per-local-day buckets (event time).

Late and out-of-order events land in their own day; a window sums the days
from ``as_of - window + 1`` to ``as_of``.  Buckets older than the longest
window any rule can ask for (366 days) before the oldest day a late event may
still have (``limits.max_lateness`` behind the latest) are dropped.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from config.tiers import Metric, MetricKind
from engine.clock import window_days
from models.state import MemberState

HORIZON_DAYS = 366
#: daily caps are enforced this far back (more than any max_lateness); older events earn no capped rewards
COUNTER_DAYS = 35


def add_spend(state: MemberState, day: date, amount: Decimal) -> None:
    state.spend_days[day] = state.spend_days.get(day, Decimal(0)) + amount
    if state.spend_days[day] <= 0:
        del state.spend_days[day]


def add_points(state: MemberState, day: date, points: int) -> None:
    state.points_days[day] = state.points_days.get(day, 0) + points
    if state.points_days[day] <= 0:
        del state.points_days[day]


_GROWTH, _SPEND = MetricKind.GROWTH, MetricKind.SPEND  # an enum's member costs a class lookup each time
_ZERO = Decimal(0)


def metric_value(state: MemberState, metric: Metric, as_of: date) -> Decimal:
    kind = metric.kind
    if kind is _GROWTH:
        return Decimal(state.growth)
    buckets = state.spend_days if kind is _SPEND else state.points_days
    if not buckets:
        return _ZERO
    first = window_days(as_of, metric.window_days)[0]
    if first <= min(buckets) and max(buckets) <= as_of:  # every day in the window (the scans in C)
        return sum(buckets.values(), _ZERO)
    return sum(map(buckets.__getitem__, filter(as_of.__ge__, filter(first.__le__, buckets))), _ZERO)


def has_days_after(state: MemberState, day: date) -> bool:
    """Whether a bucket lies after ``day``: a window could still gain it, so its
    value is not bounded by today's (never after the latest event's day)."""
    spend, points = state.spend_days, state.points_days  # the latest day of each, found in C
    return bool(spend and max(spend) > day or points and max(points) > day)


def prune(state: MemberState, as_of: date, lateness_days: int) -> None:
    """Forget buckets no window can reach, even for an event ``lateness_days`` older
    than ``as_of``, and the counters of days no such event can have (an older one is
    refused as too late: it could never read them)."""
    oldest = as_of - timedelta(days=HORIZON_DAYS + lateness_days)
    oldest_counter = as_of - timedelta(days=min(COUNTER_DAYS, lateness_days))
    for buckets, cutoff in ((state.spend_days, oldest), (state.points_days, oldest), (state.counters, oldest_counter)):
        if buckets and min(buckets) < cutoff:  # something can leave: the scan in C, the removal only then
            for d in [d for d in buckets if d < cutoff]:
                del buckets[d]
