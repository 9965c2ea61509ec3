"""When the periodic evaluation next has work for a member.

Every periodic rule (``engine.evaluation.EVALUATION_HOOKS``) states the
earliest moment from ``since`` on at which it could change the member or emit
anything, assuming no event arrives (an event rewrites the state, and the
stored moment with it).  Each rule reads what it needs from a ``LookAhead``, which
computes what several rules share (the local day, the metrics and the qualification,
when the member may qualify for less, the first expiry of its points) once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from config.rules import TenantRules
from config.tiers import Metric, MetricKind
from engine.clock import local_day, start_moment, window_days
from engine.qualification import Qualification, qualification
from engine.windows import has_days_after, metric_value
from models.state import MemberState


class LookAhead:
    """One member's state and rules, looked at from ``since`` on.  (Plain lazy
    attributes: ``functools.cached_property`` takes a lock on every read in 3.11.)"""

    __slots__ = ("state", "rules", "since", "_day", "_windows_may_grow", "_qualification", "_first_expiry",
                 "_qualifies_until", "_metrics")

    def __init__(self, state: MemberState, rules: TenantRules, since: datetime) -> None:
        self.state = state
        self.rules = rules
        self.since = since
        self._day: date | None = None
        self._windows_may_grow: bool | None = None
        self._qualification: Qualification | None = None
        self._first_expiry: datetime | None | bool = False  # False: not looked for yet
        self._qualifies_until: dict[int, datetime | None] = {}
        self._metrics: dict[tuple[MetricKind, int], Decimal] = {}  # as of ``day``, by (kind, window)

    @property
    def day(self) -> date:
        if self._day is None:
            self._day = local_day(self.since, self.rules.tz)
        return self._day

    @property
    def windows_may_grow(self) -> bool:
        """A day after ``since``'s is in a bucket (never past the latest event's
        day): a window could still gain it, so no value is bounded by today's."""
        if self._windows_may_grow is None:
            self._windows_may_grow = has_days_after(self.state, self.day)
        return self._windows_may_grow

    @property
    def qualification(self) -> Qualification:
        if self._qualification is None:
            self._qualification = qualification(self.state, self.rules.tiers, self.day, self._metrics)
        return self._qualification

    def metric(self, metric: Metric) -> Decimal:
        """``metric``'s value as of ``day`` (summed once, and shared with ``qualification``)."""
        key = (metric.kind, metric.window_days)
        value = self._metrics.get(key)
        if value is None:
            value = self._metrics[key] = metric_value(self.state, metric, self.day)
        return value

    @property
    def first_expiry(self) -> datetime | None:
        """The earliest expiry of a lot of points (None: no lot expires)."""
        first = self._first_expiry
        if first is False:
            first = None
            for lot in self.state.lots:
                expires = lot.expires_at
                if expires is not None and (first is None or expires < first):
                    first = expires
            self._first_expiry = first
        return first  # type: ignore[return-value]

    def qualifies_until(self, rank: int) -> datetime | None:
        """The earliest moment from ``since`` on at which the member may qualify
        for less than ``rank``: ``since`` if it already does, None if never.
        Without events a window only loses days, so qualification can only fall
        when a day leaves a window; growth and invitations stay as they are."""
        known = self._qualifies_until
        if rank not in known:
            known[rank] = self._qualifies_until_rank(rank)
        return known[rank]

    def _qualifies_until_rank(self, rank: int) -> datetime | None:
        if self.windows_may_grow or self.qualification.rank < rank:
            return self.since
        leaves: datetime | None = None
        for kind, days in self.rules.tiers.windows:
            buckets = self.state.spend_days if kind is MetricKind.SPEND else self.state.points_days
            first, _ = window_days(self.day, days)
            oldest = min(filter(first.__le__, buckets), default=None)
            if oldest is not None:
                moment = start_moment(oldest + timedelta(days=days), self.rules.tz)
                leaves = moment if leaves is None else min(leaves, moment)
        return leaves
