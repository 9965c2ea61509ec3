"""The demo stream (no broker): deterministic, valid, realistic, and it drives the engine."""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.intake import CONTRACTS, Invalid, parse_event
from engine.outcome import Emitted
from memberflow.dev.demo.bad_events import BAD_ID_PREFIX
from memberflow.dev.demo.feed import paced
from memberflow.dev.demo.formats import CST, encode
from memberflow.dev.demo.personas import personas
from memberflow.dev.demo.shop import CATEGORIES
from memberflow.dev.demo.signups import FARM_DEVICE
from memberflow.dev.demo.stream import INVITED, generate
from memberflow.tools.replay import replay
from models.badges import snapshot_id

START = datetime(2025, 3, 3, tzinfo=CST)
MAX_BYTES = 65536
LIMIT = Decimal("1000000")
TIER_RANK = {"NORMAL": 0, "SILVER": 1, "GOLD": 2, "DIAMOND": 3, "BLACK_GOLD": 4}

Event = tuple[str, str, dict[str, Any] | str]
#: Produced by the engine itself (gift hand-offs), never by an upstream system.
INTERNAL_INPUTS = {"member-commands"}


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    return list(generate(300, 11, START, days=28))


@pytest.fixture(scope="module")
def outputs(stream: list[Event]) -> list[Emitted]:
    """The stream replayed, member commands fed back in as a worker would."""
    return list(replay_with_commands(stream))


def replay_with_commands(stream: list[Event]) -> Iterator[Emitted]:
    commands: deque[dict[str, Any]] = deque()

    def lines() -> Iterator[dict[str, Any]]:
        for topic, key, value in stream:
            while commands:
                yield commands.popleft()
            yield {"topic": topic, "key": key, "value": value}
        while commands:
            yield commands.popleft()

    for out in replay(lines(), RuleBook.load(SHIPPED_RULES_DIR)):
        if out.topic == "member-commands":
            commands.append({"topic": out.topic, "key": out.key, "value": json.loads(out.value.model_dump_json())})
        yield out


def ident(value: dict[str, Any]) -> str:
    """The engine's dedupe id: ``event_id``, a redemption's ``request_id``, or a snapshot's derived id."""
    return value.get("event_id") or value.get("request_id") or snapshot_id(value)


def when(value: dict[str, Any]) -> datetime:
    """Event time; a snapshot's is its ``dt`` at 00:00 in the tenant's zone (UTC+8)."""
    if "occurred_at" in value:
        return datetime.fromisoformat(value["occurred_at"])
    return datetime.combine(date.fromisoformat(value["dt"]), time(0), tzinfo=CST)


def is_bad(value: dict[str, Any] | str) -> bool:
    return isinstance(value, str) or ident(value).startswith(BAD_ID_PREFIX)


def good(stream: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(t, k, v) for t, k, v in stream if isinstance(v, dict) and not is_bad(v)]


def parse(topic: str, value: dict[str, Any] | str) -> Any:
    return parse_event(topic, encode(value), MAX_BYTES)


def test_deterministic_for_a_seed() -> None:
    first = list(generate(80, 5, START, days=7))
    assert first == list(generate(80, 5, START, days=7))
    assert first != list(generate(80, 6, START, days=7))


def test_covers_every_input_topic(stream: list[Event]) -> None:
    topics = {topic for topic, _, _ in stream}
    assert set(CONTRACTS) - INTERNAL_INPUTS <= topics
    assert not topics & INTERNAL_INPUTS


def test_replay_awards_badges_and_answers_redemptions(outputs: list[Emitted]) -> None:
    badges = [o.value for o in outputs if o.topic == "badge-changes"]
    assert any(b.to_level > b.from_level for b in badges)
    accepted = Counter(o.value.kind for o in outputs if o.topic == "redemption-results"
                       and o.value.status == "accepted")
    assert accepted["coupon"] >= 1
    assert accepted["gift_respond"] >= 1  # the gift reached the receiver before the answer
    assert any(o.topic == "points-ledger" and o.value.rule == "gift" for o in outputs)  # and its points arrived


def test_business_scores_in_the_data_api_shape(stream: list[Event]) -> None:
    lines = RuleBook.load(SHIPPED_RULES_DIR).default.business_lines
    snapshots = [v for t, _, v in good(stream) if t == "business-scores"]
    assert snapshots
    per_member: dict[str, list[dict[str, Any]]] = {}
    for v in snapshots:
        assert {"user_pin", "dt"} <= set(v) and not {"event_id", "occurred_at", "member_id"} & set(v)
        assert all(isinstance(x, str) for x in v.values())
        assert any(set(line.fields) <= set(v) for line in lines.values())
        per_member.setdefault(v["user_pin"], []).append(v)
    dates = [sorted(date.fromisoformat(v["dt"]) for v in vs) for vs in per_member.values()]
    assert all(b - a == timedelta(days=7) for ds in dates for a, b in zip(ds, ds[1:], strict=False))
    assert any(int(vs[-1]["lc_score"]) > int(vs[0]["lc_score"]) + 50 for vs in per_member.values())


def test_redemptions_use_the_shipped_offers(stream: list[Event]) -> None:
    offers = RuleBook.load(SHIPPED_RULES_DIR).default.redemptions
    requests = [v for t, _, v in good(stream) if t == "redemptions"]
    kinds = Counter(v["kind"] for v in requests)
    assert kinds["coupon"] > kinds["merchandise"] + kinds["gift"]
    assert kinds["merchandise"] and kinds["gift"] and kinds["gift_respond"]
    for v in requests:
        if v["kind"] == "coupon":
            assert Decimal(v["denomination"]) in offers.coupons.denominations
        elif v["kind"] == "merchandise":
            assert v["item_id"] in offers.merchandise.items
        elif v["kind"] == "gift":
            assert v["to_member_id"] != v["member_id"]


def test_valid_events_meet_the_contracts(stream: list[Event]) -> None:
    for topic, key, value in good(stream):
        parsed = parse(topic, value)
        assert not isinstance(parsed, Invalid), (topic, value, parsed)
        assert key == parsed.member_id
        assert topic == "business-scores" or value["occurred_at"].endswith("+08:00")


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
    times = [when(v) for _, _, v in stream if isinstance(v, dict)]
    assert times == sorted(times)
    assert times[0] == START
    assert times[-1] - times[0] > timedelta(days=27)


def test_event_ids_unique(stream: list[Event]) -> None:
    ids = [ident(v) for _, _, v in stream if isinstance(v, dict)]
    assert len(ids) == len(set(ids))


def test_profiles_and_registrations_come_first_with_invitations(stream: list[Event]) -> None:
    topics = [t for t, _, _ in stream]
    first_other = next(i for i, t in enumerate(topics) if t not in ("profiles", "registrations"))
    assert "profiles" not in topics[first_other:] and "registrations" not in topics[first_other:]
    invited = [v for t, _, v in good(stream) if t == "profiles" and v.get("invited_tier") == "BLACK_GOLD"]
    assert len(invited) == INVITED


def test_orders_are_realistic(stream: list[Event]) -> None:
    paid = [v for t, _, v in good(stream) if t == "orders" and v["type"] == "order_paid"]
    categories = {i["category"] for v in paid for i in v["items"]}
    assert categories == set(CATEGORIES)
    for v in paid:
        total = sum(Decimal(i["unit_price"]) * i["quantity"] for i in v["items"])
        amount = Decimal(v["amount"])
        assert Decimal("0") < amount <= total
        assert amount.as_tuple().exponent == -2
    assert any(Decimal(v["amount"]) < sum(Decimal(i["unit_price"]) * i["quantity"] for i in v["items"]) for v in paid)


def test_refunds_follow_their_orders(stream: list[Event]) -> None:
    paid: dict[str, Decimal] = {}
    kinds = Counter()
    for _, _, v in (e for e in good(stream) if e[0] == "orders"):
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
    heavy = {p.member_id for p in personas(members, seed) if p.heavy}
    assert heavy
    lines = ({"topic": t, "key": k, "value": v} for t, k, v in generate(members, seed, START, days=35))
    reached: dict[str, list[str]] = {}
    for out in replay(lines, RuleBook.load(SHIPPED_RULES_DIR)):
        if out.topic == "tier-changes":
            reached.setdefault(out.key, []).append(out.value.to_tier)
    for member in heavy:
        assert max(TIER_RANK[t] for t in reached.get(member, ["NORMAL"])) >= TIER_RANK["GOLD"], member


def test_paced_stops_at_limit_and_on_stop() -> None:
    events = generate(20, 1, START, days=3)
    assert len(list(paced(events, 0, 7, threading.Event()))) == 7
    stop = threading.Event()
    stop.set()
    assert list(paced(events, 0, None, stop)) == []


def test_every_member_registers_once_some_on_a_device_farm_and_some_information_is_false(
        stream: list[Event]) -> None:
    registrations = [v for t, _, v in good(stream) if t == "registrations"]
    members = [v["member_id"] for v in registrations]
    assert len(members) == len(set(members)) == len({v["member_id"] for _, _, v in good(stream) if "member_id" in v})
    farm = [v for v in registrations if v["device_id"] == FARM_DEVICE]
    limit = RuleBook.load(SHIPPED_RULES_DIR).default.risk.registrations_per_device.max_members
    assert len(farm) > limit
    assert any(v.get("invited_by") for v in registrations)
    results = Counter((v["kind"], v["result"]) for t, _, v in good(stream) if t == "verifications")
    assert results[("real_name", "false_information")] and results[("email", "verified")]
