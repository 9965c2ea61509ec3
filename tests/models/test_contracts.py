"""The contracts of the two member-keyed input topics that are not events:
redemption requests (one model per ``kind``) and member commands (per ``type``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from models.commands import MemberCommand
from models.fields import EventTime, fixed_offset, shared_zone
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


@pytest.mark.parametrize("text", ["2026-03-01T10:00:00+08:00", "2026-03-01T02:00:00Z", "2026-03-01T02:00:00.5-05:30"])
def test_event_times_are_read_with_a_standard_fixed_offset_zone(text):
    """What the member state keeps gets a ``datetime.timezone`` (fast for its codec): the same
    moment, the same offset, written back the same."""
    at = TypeAdapter(EventTime).validate_python(text)
    assert type(at.tzinfo) is timezone
    assert at == datetime.fromisoformat(text) and at.utcoffset() == datetime.fromisoformat(text).utcoffset()
    assert TypeAdapter(EventTime).dump_json(at) == TypeAdapter(AwareDatetime).dump_json(
        TypeAdapter(AwareDatetime).validate_python(text))
    zoned = datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/Paris"))
    assert fixed_offset(zoned) == zoned and type(fixed_offset(zoned).tzinfo) is timezone
    assert fixed_offset(zoned).isoformat() == zoned.isoformat()
    own_zone = datetime.fromisoformat(text)  # a zone object of its own, of the same offset
    assert fixed_offset(own_zone).tzinfo is at.tzinfo is shared_zone(own_zone.utcoffset())
    assert fixed_offset(at) is at
