"""Member search, the member page, ledgers, gifts and redemptions against the read model:
every filter agrees with the rows, paging walks every row once in order, bad input is 422
with the field's path."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from memberflow.readmodel import schema
from tests.admin.fixtures import TENANT, auth

BASE = f"/tenants/{TENANT}"


@pytest.fixture(scope="module")
def rows(filled):
    with filled.connect() as conn:
        return {r.member_id: r for r in conn.execute(sa.select(schema.members))}


@pytest.fixture(scope="module")
def get(client, token):
    def get(path: str, **params):
        response = client.get(BASE + path, params=params, headers=auth(token["viewer"]))
        return response

    return get


def walk(get, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = get(path, **params, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize(("sort", "order"), [("member_id", "asc"), ("balance", "desc"), ("spend_365d", "asc"),
                                             ("last_event_at", "desc"), ("growth", "asc"), ("joined_at", "asc")])
def test_paging_walks_every_member_once_in_order(get, rows, sort, order):
    items = walk(get, "/members", sort=sort, order=order, limit=7)
    assert sorted(i["member_id"] for i in items) == sorted(rows)
    keys = [(Decimal(i[sort]) if sort.startswith("spend") else i[sort], i["member_id"]) for i in items]
    assert keys == sorted(keys, reverse=order == "desc")


def test_filters_select_exactly_the_matching_members(get, rows):
    some = sorted(rows.values(), key=lambda r: r.balance)
    low, high = some[len(some) // 4].balance, some[3 * len(some) // 4].balance
    got = {i["member_id"] for i in walk(get, "/members", points_min=low, points_max=high, limit=50)}
    assert got == {m for m, r in rows.items() if low <= r.balance <= high} and got != set(rows)
    tier = some[-1].tier
    assert {i["member_id"] for i in walk(get, "/members", tier=tier)} == {m for m, r in rows.items() if r.tier == tier}
    assert {i["member_id"] for i in walk(get, "/members", id_prefix="m001")} == {m for m in rows if
                                                                                  m.startswith("m001")}
    assert walk(get, "/members", id_prefix="m%") == []  # a wildcard is a character like any other
    spend = sorted(Decimal(str(r.spend_365d)) for r in rows.values())[len(rows) // 2]
    got = {i["member_id"] for i in walk(get, "/members", spend_min=str(spend))}
    assert got == {m for m, r in rows.items() if Decimal(str(r.spend_365d)) >= spend}


def test_the_member_page_has_the_summary_and_the_newest_ledger(get, rows, filled):
    member_id = max(rows.values(), key=lambda r: r.balance).member_id
    page = get(f"/members/{member_id}").json()
    assert page["member"]["member_id"] == member_id
    assert page["summary"]["points"]["balance"] == page["member"]["balance"]
    with filled.connect() as conn:
        newest = conn.execute(sa.select(schema.ledger.c.entry_id).where(schema.ledger.c.member_id == member_id)
                              .order_by(schema.ledger.c.occurred_at.desc(), schema.ledger.c.entry_id.desc())
                              .limit(1)).scalar()
    assert page["recent_ledger"][0]["entry_id"] == newest
    assert get("/members/nobody").status_code == 404
    assert get("/members/nobody/ledger").status_code == 404


def test_the_ledger_filters_by_member_kind_rule_and_time(get, filled):
    with filled.connect() as conn:
        entries = conn.execute(sa.select(schema.ledger)).all()
    rule = entries[0].rule
    got = walk(get, "/ledger", rule=rule, kind="earn", limit=100)
    assert {e["entry_id"] for e in got} == {e.entry_id for e in entries if e.rule == rule and e.kind == "earn"}
    times = sorted(e.occurred_at for e in entries)
    start, end = times[len(times) // 3], times[2 * len(times) // 3]
    got = walk(get, "/ledger", **{"from": f"{start.isoformat()}Z" if start.tzinfo is None else start.isoformat(),
                                  "to": f"{end.isoformat()}Z" if end.tzinfo is None else end.isoformat()}, limit=200)
    assert {e["entry_id"] for e in got} == {e.entry_id for e in entries if start <= e.occurred_at < end}
    member = entries[0].member_id
    assert {e["entry_id"] for e in walk(get, f"/members/{member}/ledger")} == {
        e.entry_id for e in entries if e.member_id == member}


def test_redemptions_and_gifts_are_listed(get, filled):
    with filled.connect() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(schema.redemptions))
    assert count and len(walk(get, "/redemptions", limit=5)) == count
    assert len(walk(get, "/redemptions", status="accepted")) <= count
    assert get("/gifts", status="offered").status_code == 200


@pytest.mark.parametrize(("path", "params", "loc"), [
    ("/members", {"points_min": "many"}, ["query", "points_min"]),
    ("/members", {"limit": 0}, ["query", "limit"]),
    ("/members", {"sort": "shoe_size"}, ["query", "sort"]),
    ("/members", {"status": "asleep"}, ["query", "status"]),
    ("/members", {"active_from": "yesterday"}, ["query", "active_from"]),
    ("/members", {"cursor": "not-a-cursor"}, ["query", "cursor"]),
    ("/ledger", {"kind": "gift"}, ["query", "kind"]),
    ("/ledger", {"from": "2025-13-01"}, ["query", "from"]),
    ("/gifts", {"status": "lost"}, ["query", "status"]),
])
def test_bad_input_is_422_with_the_field_path(get, path, params, loc):
    response = get(path, **params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]


def test_a_bad_token_body_is_422_with_the_field_path(client, token):
    response = client.post("/tokens", json={"name": "", "role": "king", "reason": "x", "request_id": "b1"},
                           headers=auth(token["admin"]))
    assert response.status_code == 422
    assert sorted(tuple(e["loc"]) for e in response.json()["detail"]) == [("body", "name"), ("body", "role")]
