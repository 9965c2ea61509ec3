"""The member search's contact filters through the admin API: name (prefix or contains, any
case), phone and email; the rows carry the contact details; a bad phone or email is 422 with
the parameter's path."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.projection import Projection
from tests.admin.fixtures import TENANT, auth
from tests.readmodel.fixtures import rules
from tests.readmodel.test_contacts import contact, record


@pytest.fixture(scope="module")
def named(filled):
    with filled.connect() as conn:
        ids = sorted(conn.scalars(sa.select(schema.members.c.member_id)))[:3]
    with filled.begin() as conn:
        Projection(rules()).apply(conn, [record(contact(m, 1, name=n, phone=p, email=e)) for m, n, p, e in zip(
            ids, ["Maria Garcia", "MARIO Rossi", "Anna Maria Weber"], ["+4930123456", "+3906123456", "+4930999999"],
            ["maria@example.com", "mario@example.com", "anna@example.com"], strict=True)])
    return ids


def search(client, token, **params):
    response = client.get(f"/tenants/{TENANT}/members", params=params, headers=auth(token["viewer"]))
    return response.status_code, response.json()


def test_search_by_name_phone_and_email(client, token, named):
    status, page = search(client, token, name="mari")
    assert status == 200 and [i["member_id"] for i in page["items"]] == named[:2]
    assert page["items"][0]["name"] == "Maria Garcia" and page["items"][0]["email"] == "maria@example.com"
    _, page = search(client, token, name="MARIA", name_match="contains")
    assert [i["member_id"] for i in page["items"]] == [named[0], named[2]]
    _, page = search(client, token, phone="+49 30 999-999")
    assert [i["member_id"] for i in page["items"]] == [named[2]]
    _, page = search(client, token, email="MARIO@example.com", name="mario")
    assert [i["member_id"] for i in page["items"]] == [named[1]]


@pytest.mark.parametrize(("param", "value"), [("phone", "call me"), ("email", "nobody"), ("name", ""),
                                              ("name_match", "fuzzy")])
def test_a_bad_contact_filter_is_422_with_its_path(client, token, param, value):
    status, body = search(client, token, **{param: value})
    assert status == 422 and body["detail"][0]["loc"] == ["query", param]
