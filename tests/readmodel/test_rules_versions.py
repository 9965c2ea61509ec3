"""Tenant rules versions in the read model: each valid version read on ``tenant-rules`` is kept once and
members are summarised under the version in force; an invalid one is skipped; each member row carries its
next points expiry (the expiry-warning preview reads it)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from config.topics import Topic
from memberflow.readmodel import schema
from memberflow.readmodel.projection import Projection, Record
from tables.members import decode
from tests.engine.test_published_rules import document, version
from tests.readmodel.fixtures import CHANGELOG, rules, stream

NOW = datetime(2025, 3, 24, tzinfo=UTC)


def rules_record(offset: int, raw: bytes | None) -> Record:
    return Record(Topic.TENANT_RULES, Topic.TENANT_RULES, 0, offset, b"default", raw, 0)


def versions(db: sa.Engine) -> list[tuple[int, str]]:
    v = schema.rules_versions.c
    with db.connect() as conn:
        return [(r.version, r.rules["points"]["earning"]["base"]["points_per_unit"])
                for r in conn.execute(sa.select(v.version, v.rules).order_by(v.version))]


def test_valid_versions_are_kept_once_and_invalid_ones_skipped(db):
    projection = Projection(rules(), now=lambda: NOW)
    doc = document(rules())
    bad = document(rules())
    bad["currency"] = 7
    records = [rules_record(0, version("default", 1, document(rules(), points_per_unit=2))),
               rules_record(1, version("default", 2, bad)), rules_record(2, b"{nope"), rules_record(3, None),
               rules_record(4, version("default", 1, doc))]  # a duplicate number: the first stays
    with db.begin() as conn:
        assert projection.apply(conn, records) == 5
    assert versions(db) == [(1, "2")]
    assert projection.rules.for_tenant("default").version == "v1"
    with db.begin() as conn:  # redelivered
        projection.apply(conn, records)
    assert versions(db) == [(1, "2")]


def test_a_member_row_carries_the_next_points_expiry(db):
    _, records = stream()
    with db.begin() as conn:
        Projection(rules(), now=lambda: NOW).apply(conn, records)
    states = [decode(r.value) for r in records if r.physical == CHANGELOG and r.value is not None]
    m = schema.members.c
    with db.connect() as conn:
        rows = {r.member_id: r for r in conn.execute(sa.select(m.member_id, m.next_expiry_at, m.next_expiry_points))}
    checked = 0
    for state in states:
        row = rows[state.member_id]
        expiring = [lot for lot in state.lots if lot.expires_at is not None]
        if not expiring:
            assert (row.next_expiry_at, row.next_expiry_points) == (None, 0)
            continue
        first = min(lot.expires_at for lot in expiring)
        assert row.next_expiry_at.replace(tzinfo=row.next_expiry_at.tzinfo or UTC) == first
        assert row.next_expiry_points == sum(lot.amount for lot in expiring if lot.expires_at == first) > 0
        checked += 1
    assert checked > 10
