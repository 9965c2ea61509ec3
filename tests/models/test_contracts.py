"""The contracts of the two member-keyed input topics that are not events:
redemption requests (one model per ``kind``) and member commands (per ``type``)."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from models.commands import MemberCommand
from models.redemptions import REQUEST_TYPES, RedemptionRequest

AT = "2026-03-01T10:00:00+08:00"
REQUESTS = TypeAdapter(RedemptionRequest)
COMMANDS = TypeAdapter(MemberCommand)


@pytest.mark.parametrize("value", [
    {"kind": "coupon", "denomination": "20", "quantity": 3},
    {"kind": "points_cash", "order_id": "o1", "order_amount": "99.90", "mode": "cash_first", "cash_limit": "50"},
    {"kind": "points_cash_cancel", "original_request_id": "r0"},
    {"kind": "merchandise", "item_id": "mug"},
    {"kind": "gift", "to_member_id": "m2", "points": 10},
    {"kind": "gift_respond", "gift_id": "g1", "accept": False},
])
def test_every_request_kind_meets_the_redemptions_contract(value):
    raw = json.dumps({"request_id": "r1", "member_id": "m1", "occurred_at": AT, **value}).encode()
    parsed = REQUESTS.validate_json(raw)
    assert isinstance(parsed, REQUEST_TYPES) and parsed.kind == value["kind"]
    assert parsed.event_id == "r1" and parsed.tenant_id == "default"  # the request id is the dedupe id


def test_bad_requests_and_commands_are_refused():
    bad = {"request_id": "r1", "member_id": "m1", "occurred_at": AT, "kind": "coupon", "denomination": "-1"}
    with pytest.raises(ValidationError, match="denomination"):
        REQUESTS.validate_json(json.dumps(bad))
    with pytest.raises(ValidationError):
        REQUESTS.validate_json(json.dumps({**bad, "denomination": "10", "occurred_at": "2026-03-01T10:00:00"}))
    command = {"command_id": "c", "member_id": "m1", "occurred_at": AT, "type": "gift_beamed"}
    with pytest.raises(ValidationError, match="gift_beamed"):
        COMMANDS.validate_json(json.dumps(command))
