"""The members agent's warm states: what a batch may reuse from earlier batches."""

from __future__ import annotations

from agents.members import BatchStore, WarmStates
from models.state import MemberState
from tables.binding import Owner


class Table:
    """Stands in for the members table: counts reads."""

    def __init__(self, states: dict[bytes, MemberState]) -> None:
        self.raw = {k: v.model_dump_json().encode() for k, v in states.items()}
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return self.raw.get(key)


def state(member: str, growth: int = 0) -> MemberState:
    return MemberState(tenant_id="t", member_id=member, growth=growth)


def batch(table: Table, warm: WarmStates) -> BatchStore:
    store = BatchStore(table, warm)
    store.current = Owner(object())  # type: ignore[arg-type]
    return store


def test_a_stored_state_is_reused_by_the_next_batch_without_a_read() -> None:
    table, warm = Table({b"a": state("a")}), WarmStates(10)
    warm.check(1)
    first = batch(table, warm)
    a = first.get(b"a")
    assert a is not None and table.reads == 1
    a.growth = 5
    first.put(b"a", a)
    warm.give_back(first.cache)  # after the batch was stored
    second = batch(table, warm)
    again = second.get(b"a")
    assert again is a and again.growth == 5 and table.reads == 1


def test_a_batch_that_fails_leaves_no_half_changed_state_behind() -> None:
    table, warm = Table({b"a": state("a", growth=1)}), WarmStates(10)
    warm.check(1)
    warm.give_back({b"a": state("a", growth=1)})
    failed = batch(table, warm)
    failed.get(b"a").growth = 999  # changed, then the batch fails: never given back
    retry = batch(table, warm)
    assert retry.get(b"a").growth == 1 and table.reads == 1  # read again from the table


def test_a_new_generation_forgets_everything_and_the_size_is_bounded() -> None:
    warm = WarmStates(2)
    warm.check(1)
    warm.give_back({b"a": state("a"), b"b": state("b"), b"c": state("c")})
    assert list(warm.states) == [b"b", b"c"]  # least recently stored dropped first
    warm.check(2)  # partitions may have moved: another worker may have written them
    assert warm.take(b"c") is None
    none = WarmStates(0)
    none.give_back({b"a": state("a")})
    assert none.take(b"a") is None
