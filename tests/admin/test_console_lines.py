"""The console's Rules screen lists the tenant's business lines: the shipped ones with version 1, a published
version in force over its shipped one, a line only published, another tenant's lines not at all; every
role reads it, nothing on it is a form."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from memberflow.readmodel.projection import Projection
from tests.admin.console_client import fields, signed_in
from tests.admin.fixtures import FOREIGN, LIMITS, TENANT, auth
from tests.readmodel.fixtures import rules
from tests.readmodel.test_line_versions import definition, line_record

PAGE = f"/console/{TENANT}/rules"


@pytest.fixture(scope="module")
def app(filled, audit, published, rules_published):
    records = [line_record(100, definition(TENANT, "baitiao", 2, "Baitiao Plus")),
               line_record(101, definition(TENANT, "baitiao", 3, "Baitiao Max")),
               line_record(102, definition(TENANT, "travel", 1, "Travel"), f"{TENANT}/travel".encode()),
               line_record(103, definition(FOREIGN, "wealth", 5, "Foreign wealth"), f"{FOREIGN}/wealth".encode())]
    with filled.begin() as conn:
        Projection(rules()).apply(conn, records)
    return create_app(filled, audit, published, LIMITS, rules(), rules_published)


def line_rows(page: str) -> dict[str, tuple[str, str, list[str]]]:
    table = re.search(r'<table class="rows" data-testid="lines">.*?</table>', page, re.S).group(0)
    rows = {}
    for line_id, name, version, history in re.findall(
            r'<tr data-line="([^"]+)"><td><code>[^<]*</code></td><td>([^<]*)</td>\s*'
            r'<td class="num" data-testid="line-version">([^<]*)</td>.*?<ul class="plain">(.*?)</ul>', table, re.S):
        rows[line_id] = (name, version, re.findall(r'<li data-version="\d+">([^<]*)</li>', history))
    return rows


def test_every_role_sees_the_lines_with_their_version_in_force_and_history(app, token):
    shipped = rules().default.business_lines
    for role in ("viewer", "admin"):
        page = signed_in(app, token[role]).get(PAGE)
        assert page.status_code == 200
        rows = line_rows(page.text)
        assert set(rows) == {*shipped, "travel"}  # not the other tenant's wealth v5
        assert rows["baitiao"][:2] == ("Baitiao Max", "v3 (published)")
        history = rows["baitiao"][2]
        assert [h.split(":")[0].split(" ")[:2] for h in history] == [
            ["v3", "published"], ["v2", "published"], ["v1", "shipped"]]
        assert "Baitiao Plus, 3 levels" in history[1] and "2025-03-24" in history[1]
        assert rows["travel"][:2] == ("Travel", "v1 (published)")
        assert rows["wealth"][:2] == (shipped["wealth"].name, "v1 (shipped)")
        assert rows["wealth"][2] == [f"v1 shipped: {shipped['wealth'].name}, {len(shipped['wealth'].levels)} levels"]
    viewer_page = signed_in(app, token["viewer"]).get(PAGE).text
    assert set(fields(viewer_page).buttons) == {"Compare", "Sign out"}  # read-only: no new button
    parsed = fields(viewer_page)
    assert all(f.get("id") in parsed.labelled for f in parsed.fields)


def test_the_api_returns_the_same_lines_to_a_viewer(app, token):
    client = TestClient(app)
    answer = client.get(f"/tenants/{TENANT}/business-lines", headers=auth(token["viewer"]))
    assert answer.status_code == 200
    lines = {line["line_id"]: line for line in answer.json()}
    assert set(lines) == {*rules().default.business_lines, "travel"}
    baitiao = lines["baitiao"]
    assert (baitiao["in_force"]["version"], baitiao["in_force"]["source"]) == (3, "published")
    assert [(v["version"], v["source"]) for v in baitiao["versions"]] == [(3, "published"), (2, "published"),
                                                                        (1, "rules")]
    assert baitiao["versions"][1]["seen_at"] == "2025-03-24T00:01:40Z"  # v2 at offset 100: T0 + 100 s
    assert lines["wealth"]["in_force"] == {"version": 1, "name": rules().default.business_lines["wealth"].name,
                                           "levels": len(rules().default.business_lines["wealth"].levels),
                                           "source": "rules", "seen_at": None}
