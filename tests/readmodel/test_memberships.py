"""Memberships of merchants' plans in the read model (seed 002): each member's memberships from the
changelog, membership changes by change id, and the statistics' active members per plan and level,
sales and revenue by product, renewals and churn in a range -- on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import sqlalchemy as sa

from config.rules import RuleBook
from config.topics import Topic
from engine.evaluation import evaluate_member
from engine.plans import fold_all, with_facts
from memberflow.readmodel import schema
from memberflow.readmodel.projection import Projection, Record
from memberflow.readmodel.statistics import statistics
from models.admin import PlanLevelMembers, ProductSales
from models.commands import MembershipGrant
from models.events import OrderItem
from models.state import state_json
from tables.members import state_key
from tests.engine.fixtures import Member, make_rules
from tests.engine.plan_fixtures import card_item, club_steps, merchant_steps, parsed
from tests.readmodel.fixtures import changelog, dump

BOOK = with_facts(RuleBook.single(make_rules()),
                  fold_all(parsed([*merchant_steps("coffee"), *merchant_steps("fruit", price="30.00", days=30)])))
NOW = datetime(2024, 9, 1, tzinfo=UTC)
JUNE, JULY, AUGUST = (datetime(2024, month, 1, tzinfo=UTC) for month in (6, 7, 8))


def card(merchant: str = "coffee", product: str = "vip-year", price: str = "88.00") -> OrderItem:
    return OrderItem.model_validate(card_item(merchant, product, price))


@cache
def members() -> tuple[Member, ...]:
    """Four members' cards over June to August 2024 (Shanghai time)."""
    rules = BOOK.default
    renews, upgrades, churns, refunds = (Member(rules, member_id=f"c{i}") for i in range(1, 5))
    renews.pay("o1", "88.00", "2024-06-10T10:00:00+08:00", items=[card()])
    renews.pay("o2", "88.00", "2024-07-10T10:00:00+08:00", items=[card()])  # extends
    upgrades.pay("o3", "88.00", "2024-06-11T10:00:00+08:00", items=[card()])
    upgrades.pay("o4", "188.00", "2024-07-11T10:00:00+08:00", items=[card(product="vip-black", price="188.00")])
    churns.pay("o5", "30.00", "2024-07-02T10:00:00+08:00", items=[card("fruit", price="30.00")])
    _, expired = evaluate_member(churns.state, rules, datetime.fromisoformat("2024-08-05T00:00:00+08:00"), "ev-1")
    churns.outputs.extend(expired)  # the fruit card ends at its until, 2024-08-01 10:00
    refunds.pay("o6", "118.00", "2024-07-20T10:00:00+08:00", items=[card(), card("fruit", price="30.00")])
    refunds.refund("o6", "118.00", "2024-07-21T10:00:00+08:00")  # both cards revoked
    return renews, upgrades, churns, refunds


def records() -> list[Record]:
    found: list[Record] = []
    for m in members():
        for out in m.outputs:
            if out.topic == Topic.MEMBERSHIP_CHANGES:
                found.append(Record(out.topic, out.topic, 0, len(found), out.key.encode(),
                                    out.value.model_dump_json().encode(), 1_700_000_000_000))
    return found + [changelog(i, state_key(m.tenant_id, m.member_id), state_json(m.state))
                    for i, m in enumerate(members())]


def project(db: sa.Engine, batch: list[Record]) -> None:
    with db.begin() as conn:
        Projection(BOOK, now=lambda: NOW).apply(conn, batch)


def test_each_members_memberships_are_rows_as_their_state_holds_them(db):
    project(db, records())
    with db.connect() as conn:
        rows = {(r.member_id, r.merchant_id): (r.plan_id, r.level_id, r.status, r.channel, r.card_id, r.until)
                for r in conn.execute(sa.select(schema.memberships))}
    expected = {(m.member_id, held.merchant_id): (held.plan_id, held.level_id, held.status.value, "purchase",
                                                  held.card_id, held.until)
                for m in members() for held in m.state.memberships.values()}
    assert {k: v[:5] for k, v in rows.items()} == {k: v[:5] for k, v in expected.items()}
    assert {k: v[5].astimezone(UTC) for k, v in rows.items()} == {k: v[5].astimezone(UTC) for k, v in expected.items()}
    assert rows[("c3", "fruit")][2] == "expired" and rows[("c4", "coffee")][2] == "revoked"


def test_a_redelivery_or_a_second_projection_changes_nothing(db):
    batch = records()
    project(db, batch)
    once = dump(db)
    project(db, batch)
    project(db, batch[:3])  # read again after a restart (the positions go back; the rows stay)
    again = dump(db)
    assert {t: rows for t, rows in again.items() if t != "positions"} == {
        t: rows for t, rows in once.items() if t != "positions"}
    assert once["memberships"] and once["membership_changes"]
    assert len(once["membership_changes"]) == len({r.value for r in batch if r.topic == Topic.MEMBERSHIP_CHANGES})


def test_the_statistics_count_members_per_plan_and_level_sales_renewals_and_churn(db):
    project(db, records())
    with db.connect() as conn:
        whole = statistics(conn, "default", JUNE, NOW).memberships
        june = statistics(conn, "default", JUNE, JULY).memberships
        august = statistics(conn, "default", AUGUST, NOW).memberships
    assert whole.active_per_plan_level == [  # now, whatever the range
        PlanLevelMembers(merchant_id="coffee", plan_id="vip", level_id="black", members=1),
        PlanLevelMembers(merchant_id="coffee", plan_id="vip", level_id="gold", members=1)]
    assert june.active_per_plan_level == whole.active_per_plan_level
    assert whole.sales_by_product == [
        ProductSales(merchant_id="coffee", product_id="vip-black", sales=1, revenue=Decimal("188.00")),
        ProductSales(merchant_id="coffee", product_id="vip-year", sales=4, revenue=Decimal("352.00")),
        ProductSales(merchant_id="fruit", product_id="vip-year", sales=2, revenue=Decimal("60.00"))]
    assert (whole.joined, whole.renewals, whole.upgrades, whole.expired, whole.revoked) == (5, 1, 1, 1, 2)
    assert june.sales_by_product == [
        ProductSales(merchant_id="coffee", product_id="vip-year", sales=2, revenue=Decimal("176.00"))]
    assert (june.joined, june.renewals, june.upgrades, june.expired, june.revoked) == (2, 0, 0, 0, 0)
    assert august.sales_by_product == [] and (august.expired, august.revoked) == (1, 0)


def test_joins_by_other_channels_are_joined_but_neither_sales_nor_renewals(db):
    rules = with_facts(RuleBook.single(make_rules()), fold_all(parsed(club_steps()))).default
    m = Member(rules, member_id="g1")
    for command_id, until in (("oc-1", "2024-09-01T00:00:00+08:00"), ("oc-2", "2024-12-01T00:00:00+08:00")):
        m.apply(MembershipGrant(type="membership_grant", command_id=command_id, member_id="g1",
                                occurred_at=datetime.fromisoformat("2024-07-01T10:00:00+08:00"), actor="t1:ops",
                                reason="goodwill", request_id=command_id, merchant_id="coffee", plan_id="club",
                                level_id="gold", until=datetime.fromisoformat(until)))
    m.pay("o1", "100.00", "2024-07-02T10:00:00+08:00",
          items=[OrderItem(sku="beans", category="grocery", unit_price=Decimal("100.00"), quantity=1,
                           merchant_id="coffee")])  # the spend threshold of a level held already: nothing
    batch = [Record(o.topic, o.topic, 0, i, o.key.encode(), o.value.model_dump_json().encode(), 1_700_000_000_000)
             for i, o in enumerate(m.outputs) if o.topic == Topic.MEMBERSHIP_CHANGES]
    project(db, [*batch, changelog(len(batch), state_key("default", "g1"), state_json(m.state))])
    with db.connect() as conn:
        held = statistics(conn, "default", JUNE, NOW).memberships
        channel = conn.scalar(sa.select(schema.memberships.c.channel))
    assert (held.joined, held.renewals, held.sales_by_product, channel) == (1, 0, [], "operator_grant")
