"""Statistics agree with sums over the ledger's rows to the point; exports (CSV and XLSX, read
back) hold exactly what the searches return; bad ranges and formats are 422 with the path."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.daily import days_between
from tests.admin.fixtures import TENANT, auth
from tests.readmodel.test_members_by_day import brute_force

BASE = f"/tenants/{TENANT}"
RANGES = [("2025-03-01T00:00:00+08:00", "2025-04-01T00:00:00+08:00"),
          ("2025-03-08T00:00:00+08:00", "2025-03-15T12:30:00+08:00"),
          ("2025-03-10T00:00:00Z", "2025-03-10T00:00:01Z")]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def get(client, token):
    return lambda path, **params: client.get(BASE + path, params=params, headers=auth(token["viewer"]))


@pytest.fixture(scope="module")
def table(filled):
    def rows(t: sa.Table) -> list[sa.Row]:
        with filled.connect() as conn:
            return conn.execute(sa.select(t)).all()

    return rows


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_statistics_agree_with_the_ledger_to_the_point(get, table, filled, start, end):
    got = get("/statistics", **{"from": start, "to": end}).json()
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
    entries = table(schema.ledger)
    inside = [e for e in entries if lo <= aware(e.occurred_at) < hi]

    def total(kind: str, sign: int = 0) -> int:
        return sum(e.delta for e in inside if e.kind == kind and (sign == 0 or e.delta * sign > 0))

    points = got["points"]
    assert points["earned"] == total("earn")
    assert points["spent"] == -total("spend")
    assert points["expired"] == -total("expiry")
    assert points["deducted"] == -total("adjustment", -1)
    assert points["credited"] == total("adjustment", +1)
    assert points["net"] == sum(e.delta for e in inside)
    by_rule = Counter()
    for e in inside:
        by_rule[(e.kind, e.rule)] += e.delta
    assert {(r["kind"], r["rule"]): r["points"] for r in points["by_rule"]} == dict(by_rule)
    before = [e for e in entries if aware(e.occurred_at) < hi]
    assert points["outstanding_at_end"] == sum(e.delta for e in before)
    assert points["members"] == len({e.member_id for e in before})
    changes = [c for c in table(schema.tier_changes) if lo <= aware(c.occurred_at) < hi]
    assert got["upgrades"] == sum(c.direction == "up" for c in changes)
    assert got["downgrades"] == sum(c.direction == "down" for c in changes)
    members = table(schema.members)
    assert {c["key"]: c["count"] for c in got["members_per_tier"]} == Counter(m.tier for m in members)
    tiers, statuses = brute_force(filled, lo, hi, TENANT)
    assert got["by_day"]["days"] == days_between(lo, hi)
    assert {c["key"]: c["counts"] for c in got["by_day"]["members_per_tier"] if any(c["counts"])} == tiers
    assert {c["key"]: c["counts"] for c in got["by_day"]["members_per_status"] if any(c["counts"])} == statuses
    coupons = [r for r in table(schema.redemptions) if r.kind == "coupon" and r.status == "accepted"]
    assert got["coupons"]["issued"] == sum(r.granted["quantity"] for r in coupons
                                           if lo <= aware(r.occurred_at) < hi)


def test_the_whole_range_has_figures_to_check(get):
    got = get("/statistics", **{"from": RANGES[0][0], "to": RANGES[0][1]}).json()
    assert got["points"]["earned"] > 0 and got["points"]["spent"] > 0 and got["points"]["deducted"] > 0
    assert got["upgrades"] > 0 and got["coupons"]["issued"] > 0
    assert got["points"]["outstanding_at_end"] == got["points"]["net"]  # the stream starts inside the range


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def xlsx_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and "spreadsheetml" in response.headers["content-type"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    return [row + [""] * (len(rows[0]) - len(row)) for row in rows]  # a row's empty end cells are left out


def walk(get, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = get(path, **params, **({"cursor": cursor} if cursor else {})).json()
        items, cursor = items + page["items"], page["next_cursor"]
        if cursor is None:
            return items


def test_a_ledger_export_holds_the_search_s_entries_in_both_formats(get):
    params = {"kind": "earn", "from": "2025-03-05T00:00:00+08:00"}
    want = [e["entry_id"] for e in walk(get, "/ledger", **params, limit=100)]
    for rows in (csv_rows(get("/exports/ledger", **params, format="csv")),
                 xlsx_rows(get("/exports/ledger", **params, format="xlsx"))):
        header, body = rows[0], rows[1:]
        assert [r[header.index("entry_id")] for r in body] == want and want
        assert {r[header.index("kind")] for r in body} == {"earn"}


def test_a_member_export_holds_the_search_s_members_with_their_figures(get):
    params = {"points_min": 100, "sort": "balance", "order": "desc"}
    want = walk(get, "/members", **params)
    for rows in (csv_rows(get("/exports/members", **params, format="csv")),
                 xlsx_rows(get("/exports/members", **params, format="xlsx"))):
        header, body = rows[0], rows[1:]
        assert [(r[header.index("member_id")], int(r[header.index("balance")])) for r in body] == [
            (m["member_id"], m["balance"]) for m in want]


def test_a_statistics_export_holds_the_figures(get):
    params = {"from": RANGES[0][0], "to": RANGES[0][1]}
    figures = get("/statistics", **params).json()
    for rows in (csv_rows(get("/exports/statistics", **params, format="csv")),
                 xlsx_rows(get("/exports/statistics", **params, format="xlsx"))):
        found = {(r[0], r[1]): r[2] for r in rows[1:]}
        assert found[("points", "earned")] == str(figures["points"]["earned"])
        assert found[("points", "outstanding_at_end")] == str(figures["points"]["outstanding_at_end"])
        assert found[("tiers", "upgrades")] == str(figures["upgrades"])
        last = figures["by_day"]["days"][-1]
        by_tier = {c["key"]: c["counts"][-1] for c in figures["by_day"]["members_per_tier"]}
        assert {k.split(":")[1]: int(v) for (section, k), v in found.items()
                if section == "members_per_tier_by_day" and k.startswith(last)} == by_tier
        assert sum(by_tier.values()) > 0


@pytest.mark.parametrize(("path", "params", "loc"), [
    ("/statistics", {"from": "2025-03-01T00:00:00", "to": "2025-04-01T00:00:00+08:00"}, ["query", "from"]),
    ("/statistics", {"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, ["query", "to"]),
    ("/statistics", {"to": "2025-03-01T00:00:00Z"}, ["query", "from"]),
    ("/exports/statistics", {"from": "2005-03-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, ["query", "to"]),
    ("/exports/ledger", {"format": "pdf"}, ["query", "format"]),
    ("/exports/members", {"points_max": "lots"}, ["query", "points_max"]),
])
def test_bad_report_input_is_422_with_the_field_path(get, path, params, loc):
    response = get(path, **params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]
