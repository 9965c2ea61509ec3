"""Business-line versions in the read model: each valid definition read on ``business-lines`` is kept once,
with the offset and broker time of the first record carrying it; an invalid one is skipped; a redelivery
and a rebuild change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from config.topics import Topic
from memberflow.readmodel import schema
from memberflow.readmodel.database import prepare
from memberflow.readmodel.projection import Projection, Record
from tests.readmodel.fixtures import rules

T0 = 1_742_774_400_000  # 2025-03-24T00:00:00Z in milliseconds


def definition(tenant: str, line: str, version: int, name: str = "Baitiao", **changes) -> bytes:
    doc = rules().default.business_lines["baitiao"].model_dump(mode="json")
    return json.dumps({**doc, "tenant_id": tenant, "line_id": line, "version": version, "name": name,
                       **changes}).encode()


def line_record(offset: int, raw: bytes | None, key: bytes = b"default/baitiao") -> Record:
    return Record(Topic.BUSINESS_LINES, "memberflow.business-lines", 0, offset, key, raw, T0 + offset * 1000)


RECORDS = [
    line_record(0, definition("default", "baitiao", 2, "Baitiao II")),
    line_record(1, definition("default", "baitiao", 3, levels=[])),  # invalid: no levels
    line_record(2, b"{nope"),
    line_record(3, None),
    line_record(4, definition("default", "baitiao", 2, "Baitiao again")),  # the same version: the first stays
    line_record(5, definition("acme", "travel", 1, "Travel"), b"acme/travel"),
    line_record(6, definition("default", "baitiao", 4, "Baitiao IV")),
]


def kept(db: sa.Engine) -> list[tuple]:
    v = schema.business_line_versions.c
    with db.connect() as conn:
        return [(r.tenant_id, r.line_id, r.version, r.definition["name"], r.first_offset,
                 r.first_seen_at.replace(tzinfo=r.first_seen_at.tzinfo or UTC))
                for r in conn.execute(sa.select(schema.business_line_versions)
                                      .order_by(v.tenant_id, v.line_id, v.version))]


def at(offset: int) -> datetime:
    return datetime.fromtimestamp((T0 + offset * 1000) / 1000, UTC)


EXPECTED = [("acme", "travel", 1, "Travel", 5, at(5)),
            ("default", "baitiao", 2, "Baitiao II", 0, at(0)),
            ("default", "baitiao", 4, "Baitiao IV", 6, at(6))]


def test_valid_line_versions_are_kept_once_and_invalid_ones_skipped(db):
    with db.begin() as conn:
        assert Projection(rules()).apply(conn, RECORDS) == len(RECORDS)
    assert kept(db) == EXPECTED
    with db.begin() as conn:  # redelivered one by one, by a fresh projector
        projection = Projection(rules())
        for record in RECORDS:
            projection.apply(conn, [record])
    assert kept(db) == EXPECTED


def test_a_rebuild_gives_the_same_rows(db):
    with db.begin() as conn:
        Projection(rules()).apply(conn, RECORDS[:3])
    prepare(db, fresh=True)
    assert kept(db) == []
    with db.begin() as conn:
        Projection(rules()).apply(conn, RECORDS)
    assert kept(db) == EXPECTED
