"""The demo stream (no broker): deterministic, valid, realistic, and it drives the engine."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.intake import INPUT_CONTRACTS, Invalid, parse_event
from memberflow import demo
from memberflow.replay import replay
from memberflow.run import describe

START = datetime(2025, 3, 3, tzinfo=demo.CST)
MAX_BYTES = 65536
LIMIT = Decimal("1000000")
TIER_RANK = {"NORMAL": 0, "SILVER": 1, "GOLD": 2, "DIAMOND": 3, "BLACK_GOLD": 4}

Event = tuple[str, str, dict[str, Any] | str]


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    return list(demo.generate(300, 11, START, days=28))


def is_bad(value: dict[str, Any] | str) -> bool:
    return isinstance(value, str) or value["event_id"].startswith(demo.BAD_ID_PREFIX)


def good(stream: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(t, k, v) for t, k, v in stream if isinstance(v, dict) and not is_bad(v)]


def parse(topic: str, value: dict[str, Any] | str) -> Any:
    return parse_event(topic, demo.encode(value), MAX_BYTES)


def test_deterministic_for_a_seed() -> None:
    first = list(demo.generate(80, 5, START, days=7))
    assert first == list(demo.generate(80, 5, START, days=7))
    assert first != list(demo.generate(80, 6, START, days=7))


def test_covers_every_input_topic(stream: list[Event]) -> None:
    assert set(INPUT_CONTRACTS) <= {topic for topic, _, _ in stream}


def test_valid_events_meet_the_contracts(stream: list[Event]) -> None:
    for topic, key, value in good(stream):
        parsed = parse(topic, value)
        assert not isinstance(parsed, Invalid), (topic, value, parsed)
        assert key == parsed.member_id
        assert value["occurred_at"].endswith("+08:00")


def test_bad_events_are_dead_letters(stream: list[Event]) -> None:
    bad = [(t, v) for t, _, v in stream if is_bad(v)]
    reasons = Counter()
    for topic, value in bad:
        parsed = parse(topic, value)
        if isinstance(parsed, Invalid):
            reasons[parsed.reason.value] += 1
        else:  # valid by contract, over the rules' limit
            assert parsed.amount > LIMIT, value
            reasons["amount_over_limit"] += 1
    assert set(reasons) == {"malformed_json", "invalid_event", "amount_over_limit"}


def test_about_one_percent_bad(stream: list[Event]) -> None:
    share = sum(is_bad(v) for _, _, v in stream) / len(stream)
    assert 0.005 <= share <= 0.02


def test_event_time_never_goes_back(stream: list[Event]) -> None:
    times = [datetime.fromisoformat(v["occurred_at"]) for _, _, v in stream if isinstance(v, dict)]
    assert times == sorted(times)
    assert times[0] == START
    assert times[-1] - times[0] > timedelta(days=27)


def test_event_ids_unique(stream: list[Event]) -> None:
    ids = [v["event_id"] for _, _, v in stream if isinstance(v, dict)]
    assert len(ids) == len(set(ids))


def test_profiles_come_first_with_invitations(stream: list[Event]) -> None:
    topics = [t for t, _, _ in stream]
    first_other = next(i for i, t in enumerate(topics) if t != "profiles")
    assert "profiles" not in topics[first_other:]
    invited = [v for t, _, v in good(stream) if t == "profiles" and v.get("invited_tier") == "BLACK_GOLD"]
    assert len(invited) == demo.INVITED


def test_orders_are_realistic(stream: list[Event]) -> None:
    paid = [v for t, _, v in good(stream) if v["type"] == "order_paid"]
    categories = {i["category"] for v in paid for i in v["items"]}
    assert categories == set(demo.CATEGORIES)
    for v in paid:
        total = sum(Decimal(i["unit_price"]) * i["quantity"] for i in v["items"])
        amount = Decimal(v["amount"])
        assert Decimal("0") < amount <= total
        assert amount.as_tuple().exponent == -2
    assert any(Decimal(v["amount"]) < sum(Decimal(i["unit_price"]) * i["quantity"] for i in v["items"]) for v in paid)


def test_refunds_follow_their_orders(stream: list[Event]) -> None:
    paid: dict[str, Decimal] = {}
    kinds = Counter()
    for _, _, v in good(stream):
        if v["type"] == "order_paid":
            paid[v["order_id"]] = Decimal(v["amount"])
        elif v["type"] == "order_refunded":
            assert v["order_id"] in paid, "refund before its order"
            kinds["full" if Decimal(v["amount"]) == paid[v["order_id"]] else "partial"] += 1
    assert kinds["full"] and kinds["partial"]


def test_complaint_verdicts(stream: list[Event]) -> None:
    verdicts = Counter(v["verdict"] for t, _, v in good(stream) if t == "complaints")
    assert set(verdicts) <= {"malicious", "upheld", "dismissed"}
    assert verdicts["dismissed"] > verdicts["malicious"]


def test_heavy_spenders_climb() -> None:
    members, seed = 120, 3
    heavy = {p.member_id for p in demo.personas(members, seed) if p.heavy}
    assert heavy
    lines = ({"topic": t, "key": k, "value": v} for t, k, v in demo.generate(members, seed, START, days=35))
    reached: dict[str, list[str]] = {}
    for out in replay(lines, RuleBook.load(SHIPPED_RULES_DIR)):
        if out.topic == "tier-changes":
            reached.setdefault(out.key, []).append(out.value.to_tier)
    for member in heavy:
        assert max(TIER_RANK[t] for t in reached.get(member, ["NORMAL"])) >= TIER_RANK["GOLD"], member


def test_paced_stops_at_limit_and_on_stop() -> None:
    events = demo.generate(20, 1, START, days=3)
    assert len(list(demo.paced(events, 0, 7, threading.Event()))) == 7
    stop = threading.Event()
    stop.set()
    assert list(demo.paced(events, 0, None, stop)) == []


def test_console_lines() -> None:
    tier = {"member_id": "m0042", "from_tier": "NORMAL", "to_tier": "SILVER", "reason": "qualified",
            "metric": "spend_30d", "metric_value": "230.00"}
    ledger = {"member_id": "m0042", "delta": 230, "rule": "base", "balance": 244}
    dead = {"source_topic": "orders", "reason": "malformed_json", "detail": "EOF"}
    assert describe("tier-changes", json.dumps(tier).encode()) == "TIER     m0042  NORMAL → SILVER (spend_30d 230.00)"
    assert describe("points-ledger", json.dumps(ledger).encode()) == "LEDGER   m0042  +230 base  → 244 pts"
    assert describe("dead-letters", json.dumps(dead).encode()) == "DEAD     orders malformed_json: EOF"
    assert describe("notifications", b"{not json").startswith("NOTIFY   (unreadable")
