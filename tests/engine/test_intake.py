"""Intake (engine.intake.parse_event): a raw payload of a topic becomes the event its
contract describes, or an ``Invalid`` with the dead-letter reason and what is wrong.
(The dead letters themselves, and that they change nothing: tests/agents/test_records.py.)"""

from __future__ import annotations

from config.topics import Topic
from engine.intake import CONTRACTS, Invalid, parse_event
from models.commands import GiftAccepted
from models.events import Complaint, OrderPaid, OrderRefunded
from models.outputs import DeadLetterReason
from models.redemptions import CouponRequest
from tests.engine.intake_fixtures import MAX_BYTES, order, raw

AT = "2026-03-01T10:00:00+08:00"


def test_parse_event_reasons_directly():
    assert parse_event("orders", None, MAX_BYTES) == Invalid(DeadLetterReason.MALFORMED_JSON, "empty message")
    assert isinstance(parse_event("orders", raw(order()), MAX_BYTES), OrderPaid)
    refund = parse_event("orders", raw({**order(type="order_refunded"), "items": []}), MAX_BYTES)
    assert isinstance(refund, OrderRefunded)
    naive = parse_event("orders", raw(order(occurred_at="2026-03-02T10:00:00")), MAX_BYTES)
    assert isinstance(naive, Invalid) and "occurred_at" in naive.detail and "timezone" in naive.detail
    three = parse_event("orders", raw(order(amount="1.005")), MAX_BYTES)
    assert isinstance(three, Invalid) and "amount" in three.detail and "2 decimal places" in three.detail


def test_accepted_money_forms():
    for text in (b'"1.10"', b"1.1", b"100", b"1.000", b"1e2"):
        event = parse_event("orders", raw(order()).replace(b'"100.00"', text), MAX_BYTES)
        assert isinstance(event, OrderPaid), text


COMPLAINT = {"event_id": "c1", "member_id": "m1", "occurred_at": "2026-03-02T10:00:00Z", "complaint_id": "k1"}


def test_good_complaint_parses():
    event = parse_event("complaints", raw({**COMPLAINT, "verdict": "malicious"}), MAX_BYTES)
    assert isinstance(event, Complaint) and event.verdict == "malicious"


def test_redemptions_and_member_commands_are_read_with_their_contracts():
    assert {Topic.REDEMPTIONS, Topic.MEMBER_COMMANDS} <= set(CONTRACTS)
    request = {"request_id": "r1", "member_id": "m1", "occurred_at": AT, "kind": "coupon", "denomination": "10"}
    parsed = parse_event("redemptions", raw(request), MAX_BYTES)
    assert isinstance(parsed, CouponRequest) and parsed.event_id == "r1"
    bad = parse_event("redemptions", raw({**request, "denomination": "-1"}), MAX_BYTES)
    assert isinstance(bad, Invalid) and bad.reason is DeadLetterReason.INVALID_EVENT
    command = {"command_id": "c1", "member_id": "m1", "occurred_at": AT, "type": "gift_accepted", "gift_id": "g1",
               "by_member_id": "m2"}
    accepted = parse_event("member-commands", raw(command), MAX_BYTES)
    assert isinstance(accepted, GiftAccepted) and accepted.event_id == "c1"
    unknown = parse_event("member-commands", raw({**command, "type": "gift_beamed"}), MAX_BYTES)
    assert isinstance(unknown, Invalid) and unknown.reason is DeadLetterReason.INVALID_EVENT
