"""The member topics of a partition go out in step, by record timestamp."""

from __future__ import annotations

from dataclasses import dataclass

from faust.types import TP

from agents.kafka.in_step import InStep

ORDERS, LOGINS = TP("orders", 0), TP("logins", 0)
GROUPS = {0: [ORDERS, LOGINS]}


@dataclass
class Rec:
    offset: int
    timestamp: int


def recs(*timestamps: int, first: int = 0) -> list[Rec]:
    return [Rec(first + i, ts) for i, ts in enumerate(timestamps)]


def nothing_more(tp: TP, last: int | None) -> bool:
    return False


def stamps(out: dict[TP, list[Rec]]) -> dict[str, list[int]]:
    return {tp.topic: [r.timestamp for r in records] for tp, records in out.items()}


def test_records_go_out_earliest_first_across_topics() -> None:
    step = InStep(batch=10)
    step.add(LOGINS, recs(1, 5, 9), now=0)
    step.add(ORDERS, recs(2, 3, 8), now=0)
    assert stamps(step.release(GROUPS, nothing_more, now=0)) == {"logins": [1, 5, 9], "orders": [2, 3, 8]}
    assert step.count == 0


def test_a_topic_with_more_to_read_holds_back_what_is_later_than_where_it_stands() -> None:
    step = InStep(batch=10)
    step.add(LOGINS, recs(1, 5, 9, 12), now=0)
    step.add(ORDERS, recs(2, 3), now=0)

    def orders_have_more(tp: TP, last: int | None) -> bool:
        return tp == ORDERS

    out = step.release(GROUPS, orders_have_more, now=0)
    assert stamps(out) == {"logins": [1], "orders": [2, 3]}  # orders stand at 3: logins after 3 wait
    assert step.count == 3
    step.add(ORDERS, recs(10, first=2), now=1)
    assert stamps(step.release(GROUPS, orders_have_more, now=1)) == {"logins": [5, 9], "orders": [10]}
    # the orders have nothing more to read: the rest goes
    assert stamps(step.release(GROUPS, nothing_more, now=1)) == {"logins": [12]}


def test_a_topic_that_has_brought_nothing_for_the_idle_time_no_longer_holds_back() -> None:
    step = InStep(batch=10, idle_s=5)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(LOGINS, recs(1, 2), now=1)

    def orders_have_more(tp: TP, last: int | None) -> bool:
        return tp == ORDERS

    assert step.release(GROUPS, orders_have_more, now=4) == {}
    assert stamps(step.release(GROUPS, orders_have_more, now=6)) == {"logins": [1, 2]}


def test_at_most_a_batch_goes_out_and_the_rest_is_ready_next() -> None:
    step = InStep(batch=2)
    step.add(LOGINS, recs(1, 4, 5), now=0)
    step.add(ORDERS, recs(2, 3), now=0)
    assert stamps(step.release(GROUPS, nothing_more, now=0)) == {"logins": [1], "orders": [2]}
    assert step.more_ready
    assert stamps(step.release(GROUPS, nothing_more, now=0)) == {"orders": [3], "logins": [4]}
    assert stamps(step.release(GROUPS, nothing_more, now=0)) == {"logins": [5]}
    assert not step.more_ready


def test_beyond_the_most_waiting_everything_goes_out() -> None:
    step = InStep(batch=100, max_waiting=3)
    step.add(LOGINS, recs(1, 5, 9, 12), now=0)

    def orders_have_more(tp: TP, last: int | None) -> bool:
        return tp == ORDERS

    assert stamps(step.release(GROUPS, orders_have_more, now=0)) == {"logins": [1, 5, 9, 12]}


def test_dropping_gives_the_offsets_to_read_again_and_forgets_revoked_partitions() -> None:
    step = InStep(batch=1)
    step.add(LOGINS, recs(1, 5, first=40), now=0)
    step.add(ORDERS, recs(2, first=7), now=0)
    step.release(GROUPS, nothing_more, now=0)  # hands over logins@40
    assert step.drop([LOGINS]) == {LOGINS: 41}
    assert LOGINS not in step.handed
    assert step.drop() == {ORDERS: 7}
    assert step.count == 0
