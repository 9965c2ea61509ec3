"""The members table's codec: a record survives being stored and read back, journal and all."""

from __future__ import annotations

import json

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.event_time import Arrival, apply_in_time
from engine.intake import parse_event
from models.journal import MemberRecord
from tables.members import DueMark, decode, decode_record, due_by_mark, encode, not_due

RULES = RuleBook.load(SHIPPED_RULES_DIR).for_tenant("default")


def feed(record: MemberRecord | None, *events: tuple[str, dict]) -> MemberRecord:
    for topic, value in events:
        raw = json.dumps(value).encode()
        record, _ = apply_in_time(record, parse_event(topic, raw, 1 << 20), Arrival(topic, raw), RULES)
    assert record is not None
    return record


def order(n: int, day: int, amount: str = "120.00") -> tuple[str, dict]:
    return "orders", {"event_id": f"e{n}", "member_id": "m1", "occurred_at": f"2026-03-{day:02d}T10:00:00+08:00",
                      "type": "order_paid", "order_id": f"o{n}", "amount": amount,
                      "items": [{"sku": "s", "category": "fresh", "unit_price": amount, "quantity": 1}]}


def login(n: int, day: int) -> tuple[str, dict]:
    return "logins", {"event_id": f"l{n}", "member_id": "m1", "occurred_at": f"2026-03-{day:02d}T09:00:00+08:00"}


def test_a_record_with_a_journal_reads_back_as_it_was_stored_and_stores_again_the_same() -> None:
    stored = feed(None, order(1, 1), login(2, 2), order(3, 3, "7.50"))
    raw = encode(stored)
    again = decode_record(raw)
    assert again.state == stored.state
    assert (again.journal.base, again.journal.keys, again.journal.frames) == (
        stored.journal.base, stored.journal.keys, stored.journal.frames)
    assert encode(again) == raw
    # a record read back, changed and stored again reads back too (the base survives every round)
    changed = feed(again, login(4, 4))
    assert decode_record(encode(changed)).journal.frames == changed.journal.frames


def test_a_late_event_applied_to_a_record_read_back_gives_what_it_gives_to_the_record_kept() -> None:
    kept = feed(None, order(1, 1), order(2, 5), login(3, 6))
    read_back = decode_record(encode(kept))
    late = order(4, 3, "300.00")
    assert feed(read_back, late).state == feed(kept, late).state


def test_the_due_mark_is_read_without_decoding_and_left_aside_by_decode() -> None:
    record = feed(None, order(1, 1))
    raw = encode(record, DueMark(since=10, due=20, rules=7))
    assert not_due(raw, 15, 7) and not not_due(raw, 20, 7) and not not_due(raw, 15, 8)
    assert due_by_mark(raw, 20, 7) and not due_by_mark(raw, 19, 7) and not due_by_mark(raw, 20, 8)
    assert not due_by_mark(encode(record), 20, 7)  # no mark: nothing known
    mark = DueMark(since=10, due=20, rules=7)  # the offline engine asks the mark itself: the same answers
    for as_of, rules in [(15, 7), (20, 7), (19, 7), (15, 8), (20, 8), (9, 7)]:
        assert mark.passes_over(as_of, rules) == not_due(raw, as_of, rules)
        assert mark.says_due(as_of, rules) == due_by_mark(raw, as_of, rules)
    assert decode(raw) == record.state
    assert decode_record(raw).journal.keys == record.journal.keys
