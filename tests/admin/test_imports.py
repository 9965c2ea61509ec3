"""The import endpoint: good rows sent as import commands with their deterministic ids, bad rows
reported by line, audited; a retry gets the first answer, another body under the same request id
is 409; a body that breaks the contract is 422 with the field's path."""

from __future__ import annotations

from models.imports import ImportRow, import_command_id
from tests.admin.fixtures import TENANT, auth

CSV = """member_id,name,phone,tier,tier_since,growth,lots
imp-a,Ann Lee,+86 138 0000 0001,GOLD,2025-07-01T00:00:00+08:00,1500,120 2025-04-01T10:00:00+08:00
imp-b,Bo,,,,,5 2025-04-01T10:00:00+08:00 2020-01-01T00:00:00+08:00
imp-c,Cy,,SILVER,,20,
"""


def post(client, token, body, who="admin"):
    return client.post(f"/tenants/{TENANT}/imports", json=body, headers=auth(token[who]))


def test_good_rows_are_sent_bad_ones_reported_by_line(client, token, published, audit):
    before = len(published.commands)
    body = {"format": "csv", "content": CSV, "reason": "migration", "request_id": "imp-1"}
    response = post(client, token, body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["sent"], report["bad_count"]) == (3, 2, 1)
    assert report["bad"][0]["line"] == 3 and "lots" in report["bad"][0]["reason"]
    sent = published.commands[before:]
    assert [c.member_id for c in sent] == ["imp-a", "imp-c"] and {c.tenant_id for c in sent} == {TENANT}
    assert sent[0].command_id == import_command_id(ImportRow.model_validate(sent[0].row.model_dump()))
    assert sent[0].row.phone == "+8613800000001" and sent[0].row.lots[0].points == 120
    record = audit.records[-1]
    assert (record.action, record.tenant_id, record.reason) == ("member.import", TENANT, "migration")

    again = post(client, token, body)  # a retry: the first answer, nothing sent again
    assert again.json() == report and len(published.commands) == before + 2
    assert post(client, token, {**body, "content": CSV + "imp-d,Di,,,,,\n"}).status_code == 409


def test_the_same_file_twice_sends_the_same_commands(client, token, published):
    body = {"format": "jsonl", "content": '{"member_id": "imp-x", "growth": 3}\n\n{"member_id": "imp-y"}\n',
            "reason": "migration"}
    first = post(client, token, {**body, "request_id": "imp-2"}).json()
    ids = [c.command_id for c in published.commands[-2:]]
    second = post(client, token, {**body, "request_id": "imp-3"}).json()
    assert first == second and [c.command_id for c in published.commands[-2:]] == ids


def test_a_line_that_is_not_json_is_reported(client, token):
    body = {"format": "jsonl", "content": '{"member_id": "imp-z"}\n{oops\n[1]\n', "reason": "r", "request_id": "i4"}
    report = post(client, token, body).json()
    assert [(b["line"], b["reason"][:8]) for b in report["bad"]] == [(2, "not JSON"), (3, "not a JS")]


def test_a_row_of_another_tenant_is_bad(client, token):
    body = {"format": "jsonl", "content": '{"member_id": "imp-t", "tenant_id": "acme"}\n', "reason": "r",
            "request_id": "i5"}
    assert post(client, token, body).json()["bad"][0]["reason"].startswith("tenant_id")


def test_a_bad_body_is_422_with_its_path(client, token):
    for field, value in (("format", "xml"), ("content", ""), ("reason", "")):
        body = {"format": "csv", "content": CSV, "reason": "r", "request_id": "i6", field: value}
        response = post(client, token, body)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", field]


def test_a_second_row_for_a_member_and_a_byte_order_mark(client, token, published):
    content = "\ufeffmember_id,growth\nimp-d,1\nimp-e,2\nimp-d,3\n"
    report = post(client, token, {"format": "csv", "content": content, "reason": "r", "request_id": "i7"}).json()
    assert (report["sent"], report["bad_count"]) == (2, 1)
    assert report["bad"][0]["line"] == 4 and "line 2 already" in report["bad"][0]["reason"]
    assert [c.row.growth for c in published.commands[-2:]] == [1, 2]
