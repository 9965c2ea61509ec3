"""The console's Import screen through FastAPI's test client: admin only, CSRF on every post, a
checked file's bad rows by line (nothing sent), confirm with a mandatory reason (422 at the field),
the same report as the API's and audited, a refresh that sends nothing again, and the progress once
the commands are applied and projected."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from tests.admin.command_worker import Worker
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import LIMITS, TENANT

PAGE = f"/console/{TENANT}/import"
CSV = """member_id,name,tier,growth,lots
ci-a,Ann Lee,GOLD,1500,120 2025-03-01T10:00:00+08:00
ci-b,Bo,,,5 2025-03-01T10:00:00+08:00 2020-01-01T00:00:00+08:00
ci-c,Cy,SILVER,20,
"""


@pytest.fixture(scope="module")
def app(filled, audit, published):
    return create_app(filled, audit, published, LIMITS)


@pytest.fixture(scope="module")
def admin(app, token) -> TestClient:
    return signed_in(app, token["admin"])


def upload(client: TestClient, content: str, name: str = "members.csv", fmt: str = ""):
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(f"{PAGE}/check", data={"csrf": csrf, "format": fmt},
                       files={"file": (name, content.encode(), "text/csv")})


def hidden(page: str, name: str) -> str:
    form = re.search(r'<form method="post" action="[^"]*/import" aria-label="confirm the import".*?</form>', page, re.S)
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', form.group(0)).group(1))


def figure(page: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">([^<]*)<', page).group(1)


def test_only_an_admin_imports(app, token):
    for role in ("viewer", "operator", "approver"):
        client = signed_in(app, token[role])
        assert "/import" not in fields(client.get(f"/console/{TENANT}/members").text).links
        assert client.get(PAGE).status_code == 403
        csrf = csrf_of(client.get(f"/console/{TENANT}/members").text)
        assert client.post(f"{PAGE}/check", data={"csrf": csrf},
                           files={"file": ("m.csv", CSV.encode(), "text/csv")}).status_code == 403


def test_a_forged_post_is_403(admin, published):
    before = len(published.commands)
    assert admin.post(f"{PAGE}/check", files={"file": ("m.csv", CSV.encode(), "text/csv")}).status_code == 403
    assert admin.post(PAGE, data={"csrf": "forged", "format": "csv", "content": CSV, "reason": "r",
                                  "request_id": "x"}).status_code == 403
    assert len(published.commands) == before


def test_a_checked_file_shows_its_bad_rows_by_line_and_sends_nothing(admin, published):
    before = len(published.commands)
    page = upload(admin, CSV)
    assert page.status_code == 200, page.text[-2000:]
    assert (figure(page.text, "rows"), figure(page.text, "to-send"), figure(page.text, "bad-count")) == ("3", "2", "1")
    bad = re.search(r'data-testid="bad-rows">.*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
    assert re.search(r'<td class="num">3</td><td class="text">lots', bad), bad
    assert "Import 2 members" in page.text and hidden(page.text, "content") == CSV
    assert len(published.commands) == before
    parsed = fields(page.text)
    assert all(f.get("id") in parsed.labelled for f in parsed.fields)


@pytest.mark.parametrize(("name", "content", "fmt", "field", "message"), [
    ("members.txt", "member_id\nx\n", "", "format", "CSV or JSONL"),
    ("members.csv", "\udcff", "", "file", "UTF-8"),
])
def test_an_unreadable_upload_is_422_at_its_field(admin, name, content, fmt, field, message):
    data = content.encode("utf-8", "surrogateescape")
    csrf = csrf_of(admin.get(PAGE).text)
    answer = admin.post(f"{PAGE}/check", data={"csrf": csrf, "format": fmt}, files={"file": (name, data, "text/csv")})
    assert answer.status_code == 422
    assert re.search(rf'id="upload-{field}-error">[^<]*{message}', answer.text)


def test_confirming_sends_the_good_rows_once_audited_and_shows_the_progress(admin, published, audit, worker):
    page = upload(admin, CSV).text
    request_id = hidden(page, "request_id")
    confirm = {"csrf": csrf_of(page), "request_id": request_id, "format": "csv", "content": CSV,
               "filename": "members.csv"}
    before = len(published.commands)
    blank = admin.post(PAGE, data={**confirm, "reason": " "})
    assert blank.status_code == 422 and re.search(r'id="import-reason-error">required<', blank.text)
    assert hidden(blank.text, "request_id") == request_id and len(published.commands) == before

    sent = admin.post(PAGE, data={**confirm, "reason": "migration from the old system"})
    assert sent.status_code == 200, sent.text[-2000:]
    assert [c.member_id for c in published.commands[before:]] == ["ci-a", "ci-c"]
    assert {c.type for c in published.commands[before:]} == {"import_member"}
    record = audit.records[-1]
    assert (record.action, record.reason, record.request_id) == ("member.import", "migration from the old system",
                                                                 request_id)
    assert figure(sent.text, "to-send") == "2" and figure(sent.text, "bad-count") == "1"
    assert figure(sent.text, "progress").startswith("0 of 2 members in the read model")

    worker.run()
    again = admin.post(PAGE, data={**confirm, "reason": "migration from the old system"})  # "Refresh progress"
    assert again.status_code == 200 and len(published.commands) == before + 2  # nothing sent again
    assert figure(again.text, "progress").startswith("2 of 2 members in the read model")
    other = admin.post(PAGE, data={**confirm, "content": CSV + "ci-d,Di,,,\n", "reason": "migration"})
    assert other.status_code == 409


@pytest.fixture(scope="module")
def worker(filled, published) -> Worker:
    return Worker(filled, published)
