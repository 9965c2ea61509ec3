"""Members per tier and per status at the end of each UTC day of a range, from the rows the read model keeps.

A member counts from the day it joined (``members.joined_at``).  Its tier at a
moment is the ``to_tier`` of its latest tier change before that moment (ties in
event time broken by ``change_id``); before its first change it is that
change's ``from_tier``, and a member without changes has its tier now.  Its
status is read the same way from the ``account_status`` rows of
``account_changes`` (``status``; before the first one its ``previous``, else
``active``).  A day's moment is the next midnight, or the range's end if
sooner (exclusive), as for ``daily``'s outstanding points.

Each member's days are filled as runs (a +1 where a value starts applying, a
-1 where it stops), so the work is one pass over the members and their changes,
whatever the number of days.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.daily import days_between
from memberflow.readmodel.projection import utc

ACTIVE = "active"
STATUS_KIND = "account_status"


@dataclass(frozen=True)
class MembersByDay:
    days: list[str]  # YYYY-MM-DD
    tiers: dict[str, list[int]]  # tier -> members at each day's end
    statuses: dict[str, list[int]]


def day_ends(start: datetime, end: datetime) -> list[datetime]:
    """Each day's moment (exclusive): the next midnight UTC, or ``end`` on the last day."""
    start, end = utc(start), utc(end)
    first = datetime.combine(start.date(), datetime.min.time(), start.tzinfo)
    return [min(first + timedelta(days=n + 1), end) for n in range(len(days_between(start, end)))]


def _changes(conn: sa.Connection, query: sa.Select) -> dict[str, list[tuple[datetime, str, str | None]]]:
    """member -> [(occurred_at, value, value before)], in event time (then id) order: every change, as the
    first one (however late) tells the value before it."""
    by_member: dict[str, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for member_id, occurred_at, value, before in conn.execute(query):
        by_member[member_id].append((utc(occurred_at), value, before))
    return by_member


def _add_runs(counts: dict[str, list[int]], ends: list[datetime], joined: datetime, now: str,
              changes: list[tuple[datetime, str, str | None]], initial_default: str | None) -> None:
    """Add one member's value at each day's end into ``counts`` (difference arrays, summed later)."""
    n = len(ends)
    counted_from = bisect_right(ends, joined)
    if counted_from >= n:
        return
    if changes:
        initial = changes[0][2] or initial_default or changes[0][1]
    else:
        initial = now
    runs = [(0, initial)] + [(bisect_right(ends, at), value) for at, value, _ in changes]
    for (begin, value), (stop, _) in zip(runs, runs[1:] + [(n, "")], strict=True):
        begin, stop = max(begin, counted_from), max(min(stop, n), counted_from)
        if begin < stop:
            diff = counts.setdefault(value, [0] * (n + 1))
            diff[begin] += 1
            diff[stop] -= 1


def _summed(diffs: dict[str, list[int]]) -> dict[str, list[int]]:
    result = {}
    for key in sorted(diffs):
        running, values = 0, []
        for change in diffs[key][:-1]:
            running += change
            values.append(running)
        result[key] = values
    return result


def members_by_day(conn: sa.Connection, tenant_id: str, start: datetime, end: datetime) -> MembersByDay:
    start, end = utc(start), utc(end)
    ends = day_ends(start, end)
    t, a, m = schema.tier_changes.c, schema.account_changes.c, schema.members.c
    tiers = _changes(conn, sa.select(t.member_id, t.occurred_at, t.to_tier, t.from_tier)
                     .where(t.tenant_id == tenant_id)
                     .order_by(t.member_id, t.occurred_at, t.change_id))
    statuses = _changes(conn, sa.select(a.member_id, a.occurred_at, a.status, a.previous)
                        .where(a.tenant_id == tenant_id, a.kind == STATUS_KIND, a.status.is_not(None))
                        .order_by(a.member_id, a.occurred_at, a.notification_id))
    tier_diffs: dict[str, list[int]] = {}
    status_diffs: dict[str, list[int]] = {}
    members = conn.execution_options(yield_per=10_000).execute(
        sa.select(m.member_id, m.joined_at, m.tier, m.status).where(m.tenant_id == tenant_id, m.joined_at < end))
    for member_id, joined_at, tier, status in members:
        joined = utc(joined_at)
        _add_runs(tier_diffs, ends, joined, tier, tiers.get(member_id, []), None)
        _add_runs(status_diffs, ends, joined, status, statuses.get(member_id, []), ACTIVE)
    return MembersByDay(days_between(start, end), _summed(tier_diffs), _summed(status_diffs))
