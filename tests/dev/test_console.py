"""``make run``'s console: one readable line per output, for every output topic."""

from __future__ import annotations

import json

from config.topics import OUTPUTS
from memberflow.dev.console import FORMATS, SHORT, describe


def test_every_output_topic_has_a_label_and_a_line() -> None:
    assert set(SHORT) == set(FORMATS) == set(OUTPUTS)


def test_console_lines() -> None:
    tier = {"member_id": "m0042", "from_tier": "NORMAL", "to_tier": "SILVER", "reason": "qualified",
            "metric": "spend_30d", "metric_value": "230.00"}
    ledger = {"member_id": "m0042", "delta": 230, "rule": "base", "balance": 244}
    dead = {"source_topic": "orders", "reason": "malformed_json", "detail": "EOF"}
    assert describe("tier-changes", json.dumps(tier).encode()) == "TIER     m0042  NORMAL → SILVER (spend_30d 230.00)"
    assert describe("points-ledger", json.dumps(ledger).encode()) == "LEDGER   m0042  +230 base  → 244 pts"
    assert describe("dead-letters", json.dumps(dead).encode()) == "DEAD     orders malformed_json: EOF"
    assert describe("notifications", b"{not json").startswith("NOTIFY   (unreadable")
    badge = {"member_id": "m0042", "line_id": "wealth", "from_level": 0, "to_level": 2, "rule_version": 1}
    assert describe("badge-changes", json.dumps(badge).encode()) == "BADGE    m0042  wealth L0 → L2 (v1)"
    card = {"member_id": "m0042", "kind": "joined", "merchant_id": "coffee", "plan_id": "vip", "level_id": "gold",
            "until": "2027-03-05T10:00:00+08:00"}
    assert describe("membership-changes", json.dumps(card).encode()) == (
        "CARD     m0042  joined coffee/vip gold until 2027-03-05T10:00:00+08:00")
    coupon = {"member_id": "m0042", "kind": "coupon", "status": "accepted", "points_spent": 200,
              "granted": {"kind": "coupon", "denomination": "20", "quantity": 1}}
    refused = {"member_id": "m0042", "kind": "merchandise", "status": "rejected", "reason": "insufficient_points"}
    assert describe("redemption-results", json.dumps(coupon).encode()) == (
        "REDEEM   m0042  coupon accepted -200 pts (1×20 yuan)")
    assert describe("redemption-results", json.dumps(refused).encode()) == (
        "REDEEM   m0042  merchandise rejected insufficient_points")


def test_a_contact_change_says_what_was_given_not_the_details() -> None:
    contact = {"member_id": "m0042", "name": "Ann Lee", "email": "ann@example.com", "phone": None}
    assert describe("member-contacts", json.dumps(contact).encode()) == "CONTACT  m0042  name, email given"
