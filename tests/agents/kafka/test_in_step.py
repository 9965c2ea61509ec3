"""The member topics of a partition go out in step, by record timestamp."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Fetches:
    """The consumer's knowledge of its fetches: which topic partitions have more to read, and when
    the broker last answered a fetch of each (the test's clock; absent: not yet)."""

    more: tuple[TP, ...] = ()
    answered: dict[TP, float] = field(default_factory=dict)
    now: float = 0.0
    in_client: tuple[TP, ...] = ()  # fetched, not handed over yet

    def more_to_read(self, tp: TP, last: int | None) -> bool:
        return tp in self.more

    def answered_ago(self, tp: TP) -> float | None:
        return self.now - self.answered[tp] if tp in self.answered else None

    def pending(self, tp: TP) -> bool:
        return tp in self.in_client


nothing_more = Fetches()


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

    orders_have_more = Fetches(more=(ORDERS,))
    out = step.release(GROUPS, orders_have_more, now=0)
    assert stamps(out) == {"logins": [1], "orders": [2, 3]}  # orders stand at 3: logins after 3 wait
    assert step.count == 3
    step.add(ORDERS, recs(10, first=2), now=1)
    assert stamps(step.release(GROUPS, orders_have_more, now=1)) == {"logins": [5, 9], "orders": [10]}
    # the orders have nothing more to read: the rest goes
    assert stamps(step.release(GROUPS, nothing_more, now=1)) == {"logins": [12]}


def test_a_topic_the_broker_answers_without_records_for_the_idle_time_no_longer_holds_back() -> None:
    step = InStep(batch=10, idle_s=5)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(LOGINS, recs(1, 2), now=1)
    orders = Fetches(more=(ORDERS,))
    for now in (2, 4, 6.5):  # the broker answers the orders every two seconds, with nothing
        orders.answered[ORDERS] = orders.now = now
        assert step.release(GROUPS, orders, now=now) == {}  # answered without records since 2: 4.5 s
    orders.answered[ORDERS] = orders.now = 7.5
    assert stamps(step.release(GROUPS, orders, now=7.5)) == {"logins": [1, 2]}


def test_a_topic_whose_fetched_records_the_client_still_holds_is_not_idle() -> None:
    """aiokafka hands out its buffered fetches a batch at a time, in the order they came: a
    lagging topic's records may wait behind a deep one's for longer than the idle time."""
    step = InStep(batch=10, idle_s=5)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(LOGINS, recs(1, 2), now=1)
    orders = Fetches(more=(ORDERS,), answered={ORDERS: 1, LOGINS: 1}, in_client=(ORDERS,), now=30)
    assert step.release(GROUPS, orders, now=30) == {}


def test_a_topic_the_broker_has_not_answered_holds_back_however_long_it_takes() -> None:
    """A worker's first fetches can take longer than the idle time (a busy broker, a long
    start-up); the topics answered first must not run ahead of those not answered yet."""
    step = InStep(batch=10, idle_s=5)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(LOGINS, recs(1, 2), now=1)
    orders = Fetches(more=(ORDERS,), answered={LOGINS: 1})
    orders.now = 60
    assert step.release(GROUPS, orders, now=60) == {}
    step.add(ORDERS, recs(0, 3), now=61)  # the first answer brings the orders: in step
    orders.answered[ORDERS] = 61
    assert stamps(step.release(GROUPS, orders, now=61)) == {"orders": [0, 3], "logins": [1, 2]}


def test_a_silence_of_the_whole_broker_is_not_idleness() -> None:
    """Answered again after a long pause in which no topic was answered, a topic that brings
    nothing this time still holds the others back: idle means answered without records for the idle time."""
    step = InStep(batch=10, idle_s=5)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(ORDERS, recs(0), now=0)
    step.release(GROUPS, Fetches(), now=0)  # the orders handed up to 0
    step.add(LOGINS, recs(1, 2), now=30)  # thirty seconds later the broker answers again
    orders = Fetches(more=(ORDERS,), answered={ORDERS: 30, LOGINS: 30}, now=30)
    assert step.release(GROUPS, orders, now=30) == {}


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
    assert stamps(step.release(GROUPS, Fetches(more=(ORDERS,)), now=0)) == {"logins": [1, 5, 9, 12]}


def test_dropping_gives_the_offsets_to_read_again_and_forgets_revoked_partitions() -> None:
    step = InStep(batch=1)
    step.add(LOGINS, recs(1, 5, first=40), now=0)
    step.add(ORDERS, recs(2, first=7), now=0)
    step.release(GROUPS, nothing_more, now=0)  # hands over logins@40
    assert step.drop([LOGINS]) == {LOGINS: 41}
    assert LOGINS not in step.handed
    assert step.drop() == {ORDERS: 7}
    assert step.count == 0


def test_a_topic_partition_with_its_fill_waiting_is_not_fetched_until_fewer_wait() -> None:
    step = InStep(batch=10, full_at=3)
    step.add(LOGINS, recs(1, 5, 9), now=0)
    step.add(ORDERS, recs(2, 3), now=0)
    assert step.held() == {LOGINS}  # the orders stand at 3 and have more: the logins wait, and are not fetched
    step.release(GROUPS, Fetches(more=(ORDERS,)), now=0)
    assert step.held() == set()  # the login at 1 went out: fetch them again


def test_a_topic_the_broker_has_not_answered_for_a_minute_no_longer_holds_back() -> None:
    """Its fetches fail: the others go on, counted from when it first held them back."""
    step = InStep(batch=10, idle_s=5, unanswered_s=60)
    step.assigned([ORDERS, LOGINS], now=0)
    step.add(LOGINS, recs(1, 2), now=100)  # a long recovery: the first records come after 100 s
    orders = Fetches(more=(ORDERS,), answered={LOGINS: 100}, now=100)
    assert step.release(GROUPS, orders, now=100) == {}
    orders.now = 159
    assert step.release(GROUPS, orders, now=159) == {}
    orders.now = 161
    assert stamps(step.release(GROUPS, orders, now=161)) == {"logins": [1, 2]}
