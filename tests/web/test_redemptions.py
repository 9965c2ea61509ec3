"""The redemption API's request parsing (memberflow.web.redemptions): the member
and time come from the URL and the clock; bad bodies get 400 or 422 with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from memberflow.web.auth import new_token
from memberflow.web.redemptions import parse_request

AT = "2026-03-01T10:00:00+08:00"
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_parse_request_fills_member_and_time():
    body = json.dumps({"kind": "coupon", "request_id": "r1", "denomination": "10"}).encode()
    parsed, error = parse_request(body, "m1", NOW)
    assert error is None and parsed.member_id == "m1" and parsed.occurred_at == NOW
    stamped = json.dumps({"kind": "coupon", "request_id": "r1", "denomination": "10", "occurred_at": AT}).encode()
    assert parse_request(stamped, "m1", NOW)[0].occurred_at == datetime.fromisoformat(AT)


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b"[1, 2]", 400),
    (json.dumps({"kind": "coupon", "request_id": "r", "denomination": "10", "member_id": "m2"}).encode(), 400),
    (json.dumps({"kind": "coupon", "denomination": "10"}).encode(), 422),
    (json.dumps({"kind": "teleport", "request_id": "r"}).encode(), 422),
    (json.dumps({"kind": "gift", "request_id": "r", "to_member_id": "x", "points": 0}).encode(), 422),
])
def test_parse_request_errors(body, status):
    parsed, error = parse_request(body, "m1", NOW)
    assert parsed is None and error[0] == status and error[1]["error"]
    json.dumps(error[1])


def test_the_tenant_is_the_token_s():
    _, acme = new_token("shop", "acme")
    body = {"kind": "coupon", "request_id": "r1", "denomination": "10"}
    parsed, error = parse_request(json.dumps(body).encode(), "m1", NOW, acme)
    assert error is None and parsed.tenant_id == "acme"
    parsed, error = parse_request(json.dumps({**body, "tenant_id": "other"}).encode(), "m1", NOW, acme)
    assert parsed is None and error[0] == 404
    _, platform = new_token("benefits", None)
    assert parse_request(json.dumps({**body, "tenant_id": "other"}).encode(), "m1", NOW, platform)[0].tenant_id \
        == "other"
