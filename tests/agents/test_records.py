"""One input record through the engine (agents.records.process): bad payloads are
dead-lettered with the right reason and change nothing; duplicates emit nothing."""

from __future__ import annotations

import pytest

import agents.records as records
from agents.records import Record, process
from config.rules import RuleBook
from config.topics import Topic
from engine.outcome import Applied
from memberflow.tools.replay import MemoryStore
from models.outputs import DeadLetter, DeadLetterReason
from models.state import state_json
from tables.members import state_key
from tests.engine.intake_fixtures import MAX_BYTES, order, raw

KEY = state_key("default", "m1")


@pytest.fixture
def book(base_rules):
    return RuleBook.single(base_rules)


@pytest.fixture
def store(book):
    """A store holding m1 with one paid order (o1, 100)."""
    s = MemoryStore()
    result = process(Record("orders", raw(order(event_id="e1", order_id="o1",
                                                occurred_at="2026-03-01T10:00:00+08:00"))), s, book, MAX_BYTES)
    assert result.applied is Applied.APPLIED and KEY in s.states
    return s


def _dump(s: MemoryStore) -> dict[bytes, str]:
    return {k: state_json(v).decode() for k, v in s.states.items()}


def _dead(topic: str, payload: bytes, store: MemoryStore, book: RuleBook, max_bytes: int = MAX_BYTES,
          key: bytes | None = b"m1") -> DeadLetter:
    before = _dump(store)
    result = process(Record(topic, payload, key, 3, 42), store, book, max_bytes)
    assert _dump(store) == before, "a dead letter must not change any state"
    assert result.applied in (None, Applied.REJECTED)
    (out,) = result.outputs
    assert out.topic == Topic.DEAD_LETTERS and isinstance(out.value, DeadLetter)
    assert result.reason is out.value.reason
    assert (out.value.source_topic, out.value.partition, out.value.offset) == (topic, 3, 42)
    return out.value


BAD_ORDERS = [
    pytest.param(b"{not json", DeadLetterReason.MALFORMED_JSON, id="malformed"),
    pytest.param(b"", DeadLetterReason.MALFORMED_JSON, id="empty-bytes"),
    pytest.param(b"\xff\xfe\x00", DeadLetterReason.MALFORMED_JSON, id="binary"),
    pytest.param(b'{"type": "order_paid", "amount": 1', DeadLetterReason.MALFORMED_JSON, id="truncated"),
    pytest.param(raw([1, 2]), DeadLetterReason.INVALID_EVENT, id="not-an-object"),
    pytest.param(raw(order(type="order_cancelled")), DeadLetterReason.INVALID_EVENT, id="unknown-type"),
    pytest.param(raw(order(type=...)), DeadLetterReason.INVALID_EVENT, id="missing-type"),
    pytest.param(raw(order(member_id=...)), DeadLetterReason.INVALID_EVENT, id="missing-member"),
    pytest.param(raw(order(event_id=...)), DeadLetterReason.INVALID_EVENT, id="missing-event-id"),
    pytest.param(raw(order(order_id=...)), DeadLetterReason.INVALID_EVENT, id="missing-order-id"),
    pytest.param(raw(order(amount=...)), DeadLetterReason.INVALID_EVENT, id="missing-amount"),
    pytest.param(raw(order(occurred_at=...)), DeadLetterReason.INVALID_EVENT, id="missing-time"),
    pytest.param(raw(order(member_id="")), DeadLetterReason.INVALID_EVENT, id="empty-member"),
    pytest.param(raw(order(member_id=17)), DeadLetterReason.INVALID_EVENT, id="member-not-string"),
    pytest.param(raw(order(amount="abc")), DeadLetterReason.INVALID_EVENT, id="amount-text"),
    pytest.param(raw(order(amount=True)), DeadLetterReason.INVALID_EVENT, id="amount-bool"),
    pytest.param(raw(order(amount=None)), DeadLetterReason.INVALID_EVENT, id="amount-null"),
    pytest.param(raw(order(amount=[100])), DeadLetterReason.INVALID_EVENT, id="amount-list"),
    pytest.param(raw(order(amount="-0.01")), DeadLetterReason.INVALID_EVENT, id="negative"),
    pytest.param(raw(order(amount=-5)), DeadLetterReason.INVALID_EVENT, id="negative-number"),
    pytest.param(raw(order(amount="NaN")), DeadLetterReason.INVALID_EVENT, id="nan-string"),
    pytest.param(raw(order(amount="Infinity")), DeadLetterReason.INVALID_EVENT, id="inf-string"),
    pytest.param(raw(order(amount="-Infinity")), DeadLetterReason.INVALID_EVENT, id="neg-inf-string"),
    pytest.param(raw(order()).replace(b'"100.00"', b"NaN"), DeadLetterReason.INVALID_EVENT, id="nan-literal"),
    pytest.param(raw(order()).replace(b'"100.00"', b"Infinity"), DeadLetterReason.INVALID_EVENT, id="inf-literal"),
    pytest.param(raw(order(amount="100.005")), DeadLetterReason.INVALID_EVENT, id="three-places-string"),
    pytest.param(raw(order()).replace(b'"100.00"', b"100.005"), DeadLetterReason.INVALID_EVENT,
                 id="three-places-number"),
    pytest.param(raw(order(amount="2000000000")), DeadLetterReason.INVALID_EVENT, id="over-contract-max"),
    pytest.param(raw(order(occurred_at="2026-03-02T10:00:00")), DeadLetterReason.INVALID_EVENT, id="naive-time"),
    pytest.param(raw(order(occurred_at="2026-03-02")), DeadLetterReason.INVALID_EVENT, id="date-only"),
    pytest.param(raw(order(occurred_at="yesterday")), DeadLetterReason.INVALID_EVENT, id="time-text"),
    pytest.param(raw(order(items=[{"sku": "s", "category": "c", "unit_price": "1", "quantity": 0}])),
                 DeadLetterReason.INVALID_EVENT, id="zero-quantity"),
    pytest.param(raw(order(items=[{"sku": "s", "category": "c", "unit_price": "1.001", "quantity": 1}])),
                 DeadLetterReason.INVALID_EVENT, id="item-price-three-places"),
    pytest.param(raw(order(items="lots")), DeadLetterReason.INVALID_EVENT, id="items-not-list"),
]


COMPLAINT = {"event_id": "c1", "member_id": "m1", "occurred_at": "2026-03-02T10:00:00Z", "complaint_id": "k1"}


@pytest.mark.parametrize(("payload", "reason"), BAD_ORDERS)
def test_bad_orders_are_dead_lettered(store, book, payload, reason):
    dead = _dead("orders", payload, store, book)
    assert dead.reason is reason
    assert dead.detail
    assert dead.member_id is None and dead.cause_event_id is None
    assert dead.key == "m1"
    assert dead.payload == payload.decode("utf-8", errors="replace")


@pytest.mark.parametrize(
    "payload",
    [
        raw({**COMPLAINT, "verdict": "evil"}),
        raw({**COMPLAINT, "verdict": "MALICIOUS"}),
        raw({**COMPLAINT, "verdict": None}),
        raw(COMPLAINT),
    ],
    ids=["unknown", "wrong-case", "null", "missing"],
)
def test_bad_complaint_verdicts(store, book, payload):
    assert _dead("complaints", payload, store, book).reason is DeadLetterReason.INVALID_EVENT


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("reviews", {"event_id": "r1", "member_id": "m1", "occurred_at": "2026-03-02T10:00:00+08:00"}),
        ("logins", {"event_id": "l1", "member_id": "m1", "occurred_at": "2026-03-02 10:00"}),
        ("profiles", {"event_id": "p1", "member_id": "m1", "occurred_at": "2026-03-02T10:00:00Z",
                      "birthday": "1990-02-30"}),
        ("reviews", {"event_id": "r1", "member_id": "m1", "occurred_at": "2026-03-02T10:00:00Z",
                     "review_id": "x" * 129}),
    ],
    ids=["review-missing-id", "login-naive", "profile-bad-birthday", "review-id-too-long"],
)
def test_other_topics_invalid(store, book, topic, payload):
    assert _dead(topic, raw(payload), store, book).reason is DeadLetterReason.INVALID_EVENT


def test_oversize_payload(store, book):
    payload = raw(order(padding="x" * 5000))
    dead = _dead("orders", payload, store, book, max_bytes=4000)
    assert dead.reason is DeadLetterReason.OVERSIZE_PAYLOAD
    assert str(len(payload)) in dead.detail
    assert len(dead.payload) == 4096 and dead.payload == payload[:4096].decode()
    # the same payload under the limit is applied
    assert process(Record("orders", payload), store, book, 8000).applied is Applied.APPLIED


def test_amount_over_tenant_limit(make_rules):
    book = RuleBook.single(make_rules({"limits": {"max_amount": 5000}}))
    s = MemoryStore()
    process(Record("orders", raw(order(event_id="e1", order_id="o1"))), s, book, MAX_BYTES)
    for payload in (
        raw(order(amount="5000.01")),
        raw(order(amount="100", items=[{"sku": "s", "category": "c", "unit_price": "5000.01", "quantity": 1}])),
        raw({**order(type="order_refunded", order_id="o1", amount="5000.01"), "items": []}),
    ):
        dead = _dead("orders", payload, s, book)
        assert dead.reason is DeadLetterReason.AMOUNT_OVER_LIMIT
        assert (dead.tenant_id, dead.member_id, dead.cause_event_id) == ("default", "m1", "e-bad")
    ok = process(Record("orders", raw(order(amount="5000.00", items=[]))), s, book, MAX_BYTES)
    assert ok.applied is Applied.APPLIED


def test_too_many_items(make_rules):
    book = RuleBook.single(make_rules({"limits": {"max_items": 10}}))
    s = MemoryStore()
    payload = raw(order(items=[{"sku": "s", "category": "c", "unit_price": "1", "quantity": 11}]))
    assert _dead("orders", payload, s, book).reason is DeadLetterReason.INVALID_EVENT
    assert s.states == {}


def test_refund_without_order_is_dead_lettered(store, book):
    payload = raw({**order(type="order_refunded", order_id="o-missing", amount="10"), "items": []})
    dead = _dead("orders", payload, store, book)
    assert dead.reason is DeadLetterReason.REFUND_WITHOUT_ORDER
    assert dead.member_id == "m1" and dead.cause_event_id == "e-bad"
    fresh = MemoryStore()
    _dead("orders", payload, fresh, book)
    assert fresh.states == {}


def test_dead_letter_ids_are_deterministic(store, book):
    a = _dead("orders", b"{not json", store, book)
    b = _dead("orders", b"{not json", store, book)
    c = _dead("orders", b"{not json!", store, book)
    assert a.dead_letter_id == b.dead_letter_id != c.dead_letter_id


def test_engine_failure_is_dead_lettered_and_changes_nothing(store, book, monkeypatch):
    def boom(record, event, arrival, rules):
        record.state.growth += 1000  # a half-done change on the copy the store handed out
        raise RuntimeError("boom")

    monkeypatch.setattr(records, "apply_in_time", boom)
    dead = _dead("orders", raw(order()), store, book)
    assert dead.reason is DeadLetterReason.PROCESSING_ERROR and dead.cause_event_id == "e-bad"


def test_duplicate_record_emits_nothing(store, book):
    again = process(Record("orders", raw(order(event_id="e1", order_id="o1"))), store, book, MAX_BYTES)
    assert again.applied is Applied.DUPLICATE and again.outputs == []
