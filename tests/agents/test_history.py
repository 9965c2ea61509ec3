"""The ledger history written per batch (agents.history): per-member sequence
numbers, retention, and the heads a worker keeps between batches."""

from __future__ import annotations

import pytest

from agents.history import KnownHeads, record_history
from config.rules import RuleBook
from engine.outcome import Emitted
from models.outputs import LedgerEntry, LedgerKind
from tables import ledger
from tables.members import state_key
from tests.tables.fixtures import CountingTable, FakeTable

AT = "2026-03-01T10:00:00+08:00"


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


def test_rows_keep_the_entry_kind_and_the_tenant(rulebook):
    table = FakeTable()
    write(table, rulebook, [entry("m1", 1), entry("m1", 2, LedgerKind.SPEND), entry("m1", 3, tenant="other")])
    assert [e["kind"] for e in page(table)[0]] == ["spend", "earn"]
    assert [e["entry_id"] for e in ledger.read_page(table, 0, "other", "m1")[0]] == ["le-m1-3"]


def test_retention_keeps_the_newest_rows(rulebook):
    table = FakeTable()
    for n in range(8):
        write(table, rulebook, [entry("m1", n)])
    rows = [k for k in table if k.startswith(ledger.prefix("default", "m1"))]
    assert len(rows) == 5
    assert [e["seq"] for e in page(table, limit=50)[0]] == [7, 6, 5, 4, 3]


def test_outputs_without_a_written_state_are_skipped(rulebook):
    table = FakeTable()
    assert record_history(table, rulebook, [entry("m1", 1)], {}) == {} and not table


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
