"""Members per tier and status by day agree exactly with a brute-force reading of the rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.members_by_day import day_ends, members_by_day

TENANT = "t1"
BASE = datetime(2025, 3, 1, tzinfo=UTC)
TIERS = ("base", "silver", "gold")
STATUSES = ("active", "locked", "frozen")


def _member(member_id: str, joined: datetime, tier: str, status: str, tenant: str = TENANT) -> dict:
    return {"tenant_id": tenant, "member_id": member_id, "tier": tier, "qualified_tier": tier, "status": status,
            "balance": 0, "spendable": 0, "pending": 0, "debt": 0, "lifetime_earned": 0, "growth": 0,
            "spend_30d": 0, "spend_365d": 0, "joined_at": joined, "last_event_at": joined, "badges": [],
            "page": {}, "summarised_at": joined}


def _fill(engine: sa.Engine, seed: int) -> None:
    """Members joined over three weeks with tier and status changes in any order -- some at the same instant,
    some before the member joined, some that do not chain (a late event's change) -- and a foreign tenant."""
    rnd = random.Random(seed)
    members, tiers, statuses = [], [], []
    for n in range(60):
        member_id = f"m{n}"
        joined = BASE + timedelta(hours=rnd.randrange(0, 21 * 24))
        tier, status = rnd.choice(TIERS), rnd.choice(STATUSES)
        members.append(_member(member_id, joined, tier, status, TENANT if n % 10 else "other"))
        moments = [joined + timedelta(hours=rnd.randrange(-30, 25 * 24)) for _ in range(rnd.randrange(0, 5))]
        if moments and rnd.random() < 0.3:
            moments.append(moments[0])  # two changes at the same instant
        for k, at in enumerate(moments):
            common = {"tenant_id": members[-1]["tenant_id"], "member_id": member_id, "occurred_at": at,
                      "cause_event_id": f"e{n}-{k}"}
            tiers.append({**common, "change_id": f"tc{n}-{k}", "from_tier": rnd.choice(TIERS),
                          "to_tier": rnd.choice(TIERS), "direction": "up", "reason": "r"})
            statuses.append({**common, "notification_id": f"nt{n}-{k}", "kind": "account_status",
                             "status": rnd.choice(STATUSES), "previous": rnd.choice((*STATUSES, None)),
                             "tier": None, "reason": "r"})
            statuses.append({**common, "notification_id": f"nx{n}-{k}", "kind": "tier_override",
                             "status": None, "previous": "base", "tier": "gold", "reason": "not a status"})
    with engine.begin() as conn:
        conn.execute(schema.members.insert(), members)
        if tiers:
            conn.execute(schema.tier_changes.insert(), tiers)
            conn.execute(schema.account_changes.insert(), statuses)


def brute_force(engine: sa.Engine, start: datetime, end: datetime, tenant: str = TENANT) -> tuple[dict, dict]:
    """For every day's end and every member, the definition read off the rows one by one."""
    with engine.connect() as conn:
        members = conn.execute(sa.select(schema.members).where(schema.members.c.tenant_id == tenant)).all()
        tier_rows = conn.execute(sa.select(schema.tier_changes)
                                 .where(schema.tier_changes.c.tenant_id == tenant)).all()
        status_rows = conn.execute(sa.select(schema.account_changes).where(
            schema.account_changes.c.tenant_id == tenant, schema.account_changes.c.kind == "account_status")).all()

    def at(moment, member, rows, order_id, value, before, default, now):
        mine = sorted((r for r in rows if r.member_id == member.member_id),
                      key=lambda r: (_utc(r.occurred_at), getattr(r, order_id)))
        earlier = [r for r in mine if _utc(r.occurred_at) < moment]
        if earlier:
            return getattr(earlier[-1], value)
        if mine:
            return getattr(mine[0], before) or default or getattr(mine[0], value)
        return now

    tiers: dict[str, list[int]] = {}
    statuses: dict[str, list[int]] = {}
    ends = day_ends(start, end)
    for i, moment in enumerate(ends):
        for member in members:
            if _utc(member.joined_at) >= moment:
                continue
            tier = at(moment, member, tier_rows, "change_id", "to_tier", "from_tier", None, member.tier)
            status = at(moment, member, status_rows, "notification_id", "status", "previous", "active",
                        member.status)
            tiers.setdefault(tier, [0] * len(ends))[i] += 1
            statuses.setdefault(status, [0] * len(ends))[i] += 1
    return tiers, statuses


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_members_per_tier_and_status_by_day_agree_with_brute_force(db):
    _fill(db, seed=18)
    for start, end in ((BASE - timedelta(days=2), BASE + timedelta(days=28)),
                       (BASE + timedelta(days=5, hours=7), BASE + timedelta(days=12, hours=3))):
        with db.connect() as conn:
            result = members_by_day(conn, TENANT, start, end)
        tiers, statuses = brute_force(db, start, end)
        assert len(result.days) == len(day_ends(start, end))
        assert {k: v for k, v in result.tiers.items() if any(v)} == tiers
        assert {k: v for k, v in result.statuses.items() if any(v)} == statuses
    assert sum(v[-1] for v in result.tiers.values()) == sum(v[-1] for v in result.statuses.values()) > 0


def test_each_days_moment_is_the_next_midnight_or_the_end_of_the_range():
    start = BASE
    ends = day_ends(start, start + timedelta(days=3, hours=12))
    assert ends[0] == BASE + timedelta(days=1) and ends[-1] == BASE + timedelta(days=3, hours=12)


def test_a_member_without_changes_has_its_tier_now_from_its_joining_day(db):
    with db.begin() as conn:
        conn.execute(schema.members.insert(), [_member("a", BASE + timedelta(hours=30), "gold", "frozen")])
        conn.execute(schema.tier_changes.insert(), [{
            "tenant_id": TENANT, "member_id": "b", "occurred_at": BASE, "cause_event_id": "x", "change_id": "c",
            "from_tier": "base", "to_tier": "gold", "direction": "up", "reason": "r"}])  # no member row: not counted
    with db.connect() as conn:
        result = members_by_day(conn, TENANT, BASE, BASE + timedelta(days=3))
    assert result.days == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert result.tiers == {"gold": [0, 1, 1]} and result.statuses == {"frozen": [0, 1, 1]}
