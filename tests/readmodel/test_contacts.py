"""Contact details in the read model, on SQLite and PostgreSQL: merged field by field with the
latest event time winning whatever order they are read in, and searched by name (prefix or
contains, case-insensitive), phone and email."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from config.topics import Topic
from engine.ids import derive_id
from memberflow.readmodel import queries, schema
from memberflow.readmodel.projection import Projection, Record
from models.outputs import ContactChange
from tests.readmodel.fixtures import rules, stream

T0 = datetime(2025, 3, 1, tzinfo=UTC)
_offsets = itertools.count()


def contact(member: str, hours: int, **fields) -> ContactChange:
    return ContactChange(contact_id=derive_id("ct", member, hours), tenant_id="default", member_id=member,
                         occurred_at=T0 + timedelta(hours=hours), cause_event_id=f"p-{member}-{hours}", **fields)


def record(value: ContactChange) -> Record:
    offset = next(_offsets)
    return Record(Topic.MEMBER_CONTACTS, Topic.MEMBER_CONTACTS, 0, offset, value.member_id.encode(),
                  value.model_dump_json().encode(), 0)


def project(db: sa.Engine, values, batch: bool = True) -> None:
    groups = [list(values)] if batch else [[v] for v in values]
    for group in groups:
        with db.begin() as conn:
            Projection(rules()).apply(conn, [record(v) for v in group])


def stored(db: sa.Engine, member: str) -> tuple:
    c = schema.member_contacts.c
    with db.connect() as conn:
        row = conn.execute(sa.select(c.name, c.phone, c.email, c.name_folded).where(c.member_id == member)).one()
    return tuple(row)


HISTORY = [
    contact("c1", 1, name="Ann Old", phone="+111111"),
    contact("c1", 3, email="ann@example.com"),
    contact("c1", 5, name="Ann Lee"),
    contact("c1", 2, name="Ann Between", phone="+222222"),  # late: its phone is the newest phone, its name not
]


@pytest.mark.parametrize("order", [HISTORY, HISTORY[::-1], [HISTORY[2], HISTORY[0], HISTORY[3], HISTORY[1]]])
@pytest.mark.parametrize("batch", [True, False])
def test_each_field_keeps_its_latest_value_whatever_the_order(db, order, batch):
    project(db, order, batch)
    assert stored(db, "c1") == ("Ann Lee", "+222222", "ann@example.com", "ann lee")
    project(db, order, batch)  # redelivered
    assert stored(db, "c1") == ("Ann Lee", "+222222", "ann@example.com", "ann lee")


def search(db: sa.Engine, **filters) -> list[str]:
    with db.connect() as conn:
        rows, _ = queries.search_members(conn, queries.MemberSearch("default", **filters), None, 500)
    return [r.member_id for r in rows]


@pytest.fixture
def members(db):
    _, records = stream()
    with db.begin() as conn:
        Projection(rules()).apply(conn, records)
    with db.connect() as conn:
        ids = sorted(conn.scalars(sa.select(schema.members.c.member_id)))[:4]
    names = ["Zoë Ångström", "zoe anders", "Li_Wei 100%", "Bo Zoeller"]
    project(db, [contact(m, 1, name=n, phone=f"+86 138-0000-000{i}", email=f"M{i}@Example.com")
                 for i, (m, n) in enumerate(zip(ids, names, strict=True))])
    return ids


def test_a_name_is_found_by_its_start_or_a_part_whatever_the_case(db, members):
    assert search(db, name="zoe") == [members[1]]
    assert search(db, name="ZOË") == [members[0]]
    assert search(db, name="zoe", name_match="contains") == sorted([members[1], members[3]])
    assert search(db, name="ÅNGSTR", name_match="contains") == [members[0]]
    assert search(db, name="li_w") == [members[2]] and search(db, name="li%") == []  # no wildcards
    assert search(db, name="100%", name_match="contains") == [members[2]]
    assert search(db, name="nobody") == []


def test_phone_and_email_match_however_they_are_written(db, members):
    assert search(db, phone="+8613800000002") == [members[2]]
    assert search(db, phone="+86 (138) 0000.0002") == [members[2]]
    assert search(db, phone="8613800000002") == []  # the + is part of the number
    assert search(db, email="m3@EXAMPLE.com") == [members[3]]


def test_the_contact_details_come_with_every_member_row(db, members):
    with db.connect() as conn:
        rows, _ = queries.search_members(conn, queries.MemberSearch("default"), None, 500)
        page = queries.member(conn, "default", members[0])
    by_id = {r.member_id: r for r in rows}
    assert (by_id[members[0]].name, by_id[members[0]].email) == ("Zoë Ångström", "m0@example.com")
    assert len(by_id) > len(members) and all(by_id[m].name is None for m in by_id if m not in members)
    assert page.phone == "+8613800000000"
