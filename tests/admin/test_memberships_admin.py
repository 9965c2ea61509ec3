"""Memberships of merchants' plans in the admin service: the statistics and their export give active
members per plan and level, sales and revenue by product, renewals and churn; the console's member page
lists the member's memberships (tests/readmodel/test_memberships.py has the members and their cards)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from memberflow.readmodel import schema
from tests.admin.console_client import signed_in
from tests.admin.fixtures import TENANT, admin_app, auth
from tests.admin.test_reports import csv_rows
from tests.readmodel.fixtures import empty_read_model
from tests.readmodel.test_memberships import project, records


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = empty_read_model(request, request.param, tmp_path_factory.mktemp("admin-memberships"))
    project(engine, records())
    yield engine
    engine.dispose()


def test_the_statistics_and_their_export_give_the_memberships(client, token):
    params = {"from": "2024-07-01T00:00:00+08:00", "to": "2024-09-01T00:00:00+08:00"}
    got = client.get(f"/tenants/{TENANT}/statistics", params=params, headers=auth(token["viewer"]))
    assert got.status_code == 200
    held = got.json()["memberships"]
    assert held["active_per_plan_level"] == [
        {"merchant_id": "coffee", "plan_id": "vip", "level_id": "black", "members": 1},
        {"merchant_id": "coffee", "plan_id": "vip", "level_id": "gold", "members": 1}]
    assert held["sales_by_product"] == [  # July and August: o2, o4, o5 and o6's two cards
        {"merchant_id": "coffee", "product_id": "vip-black", "sales": 1, "revenue": "188.00"},
        {"merchant_id": "coffee", "product_id": "vip-year", "sales": 2, "revenue": "176.00"},
        {"merchant_id": "fruit", "product_id": "vip-year", "sales": 2, "revenue": "60.00"}]
    assert {k: held[k] for k in ("joined", "renewals", "upgrades", "expired", "revoked")} == {
        "joined": 3, "renewals": 1, "upgrades": 1, "expired": 1, "revoked": 2}
    exported = csv_rows(client.get(f"/tenants/{TENANT}/exports/statistics", params={**params, "format": "csv"},
                                   headers=auth(token["viewer"])))
    found = {(r[0], r[1]): r[2] for r in exported[1:] if r[0].startswith("memberships")}
    assert found == {
        ("memberships.active", "coffee/vip/black"): "1", ("memberships.active", "coffee/vip/gold"): "1",
        ("memberships.sales", "coffee/vip-black"): "1", ("memberships.revenue", "coffee/vip-black"): "188.00",
        ("memberships.sales", "coffee/vip-year"): "2", ("memberships.revenue", "coffee/vip-year"): "176.00",
        ("memberships.sales", "fruit/vip-year"): "2", ("memberships.revenue", "fruit/vip-year"): "60.00",
        ("memberships", "joined"): "3", ("memberships", "renewals"): "1", ("memberships", "upgrades"): "1",
        ("memberships", "expired"): "1", ("memberships", "revoked"): "2"}


def test_the_console_member_page_lists_the_members_memberships(filled, audit, token):
    client = signed_in(admin_app(filled, audit), token["viewer"])
    table = lambda member: client.get(f"/console/{TENANT}/members/{member}").text.split(  # noqa: E731
        'data-testid="memberships"')[1].split("</table>")[0]
    shown = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>(\w+)</td><td>(\w+)</td>\s*<td>([^<]*)</td>"
                       r"<td>([^<]*)</td><td>(\w+)</td><td>([^<]+)</td></tr>", table("c4"))
    with filled.connect() as conn:
        cards = dict(conn.execute(sa.select(schema.memberships.c.merchant_id, schema.memberships.c.card_id)
                                  .where(schema.memberships.c.member_id == "c4")).all())
    assert shown == [  # both cards of the refunded order, revoked; times in UTC
        ("coffee", "vip", "gold", "revoked", "2024-07-20 02:00", "2025-07-20 02:00", "purchase", cards["coffee"]),
        ("fruit", "vip", "gold", "revoked", "2024-07-20 02:00", "2024-08-19 02:00", "purchase", cards["fruit"])]
    assert re.findall(r"<td>(\w+)</td><td>vip</td><td>(\w+)</td><td>(\w+)</td>", table("c2")) == [
        ("coffee", "black", "active")]
