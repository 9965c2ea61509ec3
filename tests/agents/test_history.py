"""The ledger history table (written per batch, paged newest first), the HTTP
request parsing and answer waiting of the redemption API, and the contracts
of the two new input topics."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from agents.answers import RedemptionAnswers
from agents.history import KnownHeads, record_history
from config.rules import RuleBook
from config.topics import Topic
from engine.intake import CONTRACTS, Invalid, parse_event
from engine.outcome import Emitted
from memberflow.web.redemptions import parse_request
from models.outputs import DeadLetter, DeadLetterReason, LedgerEntry, LedgerKind
from models.redemptions import RedemptionResult
from tables import ledger
from tables.members import state_key
from tests.engine.redemption_fixtures import request, result_of

AT = "2026-03-01T10:00:00+08:00"


class FakeTable(dict):
    """A dict with the shape of a Faust table on the memory store."""

    @property
    def data(self) -> SimpleNamespace:
        return SimpleNamespace(data=self)


class FakeEvent:
    """Something table writes can be bound to."""


def entry(member: str, n: int, kind: LedgerKind = LedgerKind.EARN, tenant: str = "default") -> Emitted:
    value = LedgerEntry(entry_id=f"le-{member}-{n}", kind=kind, rule="r", delta=n, balance=n, tenant_id=tenant,
                        member_id=member, occurred_at=AT, cause_event_id=f"e{n}")
    return Emitted("points-ledger", member, value)


def write(table, rulebook, outputs, **kw) -> dict:
    members = {(o.value.tenant_id, o.value.member_id) for o in outputs if isinstance(o.value, LedgerEntry)}
    return record_history(table, rulebook, outputs, {state_key(*m): FakeEvent() for m in members}, **kw)


def page(table, member: str = "m1", **kw):
    return ledger.read_page(table, 0, "default", member, **kw)


@pytest.fixture
def rulebook(make_rules) -> RuleBook:
    return RuleBook.single(make_rules({"retention": {"ledger_entries": 5}}))


def test_rows_get_per_member_sequence_numbers_across_batches(rulebook):
    table = FakeTable()
    assert write(table, rulebook, [entry("m1", 1), entry("m2", 1), entry("m1", 2)]) == {
        ("default", "m1"): 2, ("default", "m2"): 1}
    assert write(table, rulebook, [entry("m1", 3)]) == {("default", "m1"): 3}
    assert table[ledger.head_key("default", "m1")] == b"3" and table[ledger.head_key("default", "m2")] == b"1"
    entries, cursor = page(table)
    assert [(e["seq"], e["entry_id"]) for e in entries] == [(2, "le-m1-3"), (1, "le-m1-2"), (0, "le-m1-1")]
    assert cursor is None
    assert [e["entry_id"] for e in page(table, "m2")[0]] == ["le-m2-1"]


def test_paging_newest_first_with_a_cursor(rulebook):
    table = FakeTable()
    write(table, rulebook, [entry("m1", n) for n in range(1, 5)])
    first, cursor = page(table, limit=2)
    assert [e["seq"] for e in first] == [3, 2] and cursor == 2
    second, cursor = page(table, limit=2, before=cursor)
    assert [e["seq"] for e in second] == [1, 0] and cursor is None
    assert page(table, limit=2, before=0) == ([], None)


def test_kind_filter(rulebook):
    table = FakeTable()
    kinds = [LedgerKind.EARN, LedgerKind.SPEND, LedgerKind.EARN, LedgerKind.ADJUSTMENT]
    write(table, rulebook, [entry("m1", n, kind) for n, kind in enumerate(kinds, 1)])
    earn, _ = page(table, kind="earn")
    assert [e["seq"] for e in earn] == [2, 0]
    assert [e["seq"] for e in page(table, kind="spend")[0]] == [1]
    assert page(table, kind="expiry") == ([], None)


def test_retention_keeps_the_newest_rows(rulebook):
    table = FakeTable()
    for n in range(8):
        write(table, rulebook, [entry("m1", n)])
    rows = [k for k in table if k.startswith(ledger.prefix("default", "m1"))]
    assert len(rows) == 5
    assert [e["seq"] for e in page(table, limit=50)[0]] == [7, 6, 5, 4, 3]


def test_members_with_a_common_prefix_do_not_mix(rulebook):
    table = FakeTable()
    write(table, rulebook, [entry("m1", 1), entry("m10", 1), entry("m1", 2, tenant="other")])
    assert [e["member_id"] for e in page(table)[0]] == ["m1"]
    assert len(page(table, "m10")[0]) == 1


def test_outputs_without_a_written_state_are_skipped(rulebook):
    table = FakeTable()
    assert record_history(table, rulebook, [entry("m1", 1)], {}) == {} and not table


class CountingTable(FakeTable):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)


def test_known_heads_save_the_head_read_and_rows_take_the_payloads_as_sent(rulebook):
    table, known = CountingTable(), KnownHeads(10)
    known.check(1)
    known.keep(write(table, rulebook, [entry("m1", 1), entry("m1", 2)], known=known).items())
    assert table.reads == 1  # m1's head, once per batch
    outputs = [entry("m1", 3), entry("m1", 4)]
    sent = [b'{"as": "sent 3"}', b'{"as": "sent 4"}']
    known.keep(write(table, rulebook, outputs, payloads=sent, known=known).items())
    assert table.reads == 1  # the head came from ``known``
    assert table[ledger.row_key("default", "m1", 2)] == sent[0] and table[ledger.row_key("default", "m1", 3)] == sent[1]
    assert table[ledger.head_key("default", "m1")] == b"4"  # still written: a restarted worker reads it
    known.check(2)  # the partitions moved: read the head again
    write(table, rulebook, [entry("m1", 5)], known=known)
    assert table.reads == 2 and table[ledger.head_key("default", "m1")] == b"5"


def test_known_heads_are_bounded_and_a_failed_batch_leaves_them_as_they_were(rulebook):
    known = KnownHeads(2)
    known.check(1)
    known.keep({("t", "a"): 1, ("t", "b"): 1}.items())
    known.keep({("t", "a"): 2, ("t", "c"): 1}.items())  # b is the least recently stored
    assert (known.get(("t", "a")), known.get(("t", "b")), known.get(("t", "c"))) == (2, None, 1)
    table = CountingTable()
    write(table, rulebook, [entry("a", 1)], known=known)  # built, never stored
    assert known.get(("default", "a")) is None


# -- HTTP helpers -------------------------------------------------------------------


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


def test_waiters_resolve_on_the_answer_or_a_dead_letter(base_rules, member):
    m = member(base_rules)
    answer = result_of(m.apply(request("coupon", "r1", AT, denomination="10")))
    letter = DeadLetter(dead_letter_id="dl", source_topic="redemptions", partition=0, offset=1, key="m1",
                        payload="{}", reason=DeadLetterReason.INVALID_EVENT, detail="x", tenant_id="default",
                        member_id="m1", cause_event_id="r2")

    async def scenario():
        waiters = RedemptionAnswers()
        first, same, other = waiters.wait("default", "r1"), waiters.wait("default", "r1"), waiters.wait("default", "r2")
        elsewhere = waiters.wait("t2", "r1")
        waiters.resolve([Emitted("redemption-results", "m1", answer), Emitted("dead-letters", "m1", letter)])
        assert first.result() is answer and same.result() is answer and other.result() is letter
        assert not elsewhere.done()
        waiters.forget("t2", "r1", elsewhere)
        assert waiters.pending == {}

    asyncio.run(scenario())


# -- contracts ------------------------------------------------------------------------


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
    parsed = parse_event("redemptions", raw, 65536)
    assert not isinstance(parsed, Invalid) and parsed.kind == value["kind"] and parsed.event_id == "r1"


def test_bad_requests_and_commands_are_invalid():
    bad = json.dumps({"request_id": "r1", "member_id": "m1", "occurred_at": AT, "kind": "coupon",
                      "denomination": "-1"}).encode()
    assert parse_event("redemptions", bad, 65536).reason == DeadLetterReason.INVALID_EVENT
    command = json.dumps({"command_id": "c", "member_id": "m1", "occurred_at": AT, "type": "gift_beamed"}).encode()
    assert parse_event("member-commands", command, 65536).reason == DeadLetterReason.INVALID_EVENT


def test_contracts_are_registered_and_exported():
    assert {"redemptions", "member-commands"} <= set(CONTRACTS)
    assert Topic.REDEMPTION_RESULTS.adapter.json_schema()["title"] == RedemptionResult.__name__
