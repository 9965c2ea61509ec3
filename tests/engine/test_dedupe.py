"""Idempotence (event ids, order ids, bounded memory) and deterministic output ids."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from engine.apply import _SeenIds, apply_event, is_duplicate
from models.outputs import BenefitGrant, LedgerEntry, Notification, TierChange
from models.state import state_json, state_of_json
from tests.engine.fixtures import login

DAY = "2026-03-01T12:00:00+08:00"


def _output_id(value) -> str:
    for name in ("entry_id", "change_id", "grant_id", "notification_id"):
        if hasattr(value, name):
            return getattr(value, name)
    raise AssertionError(f"no id on {value!r}")


def _script(m) -> list:
    """A sequence touching every output kind; returns the outcomes."""
    return [
        m.complain("malicious", "2026-02-28T12:00:00+08:00"),  # no points: lock + notification
        m.pay("o1", "150", DAY),
        m.review("2026-03-01T13:00:00+08:00"),
        m.pay("o2", "900", "2026-03-02T12:00:00+08:00"),  # NORMAL -> DIAMOND + gift
        m.refund("o2", "300", "2026-03-03T12:00:00+08:00"),
        m.login("2026-03-03T13:00:00+08:00"),
        m.pay("o3", "100", "2026-03-04T12:00:00+08:00"),
        m.complain("malicious", "2026-03-05T12:00:00+08:00"),
        m.refund("o3", "100", "2026-03-05T13:00:00+08:00"),
        m.profile("2026-03-06T12:00:00+08:00", invited_tier="BLACK_GOLD"),
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda ev: ev.paid("x1", "o9", "120", DAY),
        lambda ev: ev.refunded("x1", "o1", "20", DAY),
        lambda ev: ev.review("x1", DAY),
        lambda ev: ev.login("x1", DAY),
        lambda ev: ev.complaint("x1", "malicious", DAY),
        lambda ev: ev.profile("x1", DAY, invited_tier="BLACK_GOLD"),
    ],
    ids=["order_paid", "order_refunded", "review", "login", "complaint", "profile"],
)
def test_same_event_twice_is_a_duplicate(base_rules, member, ev, make):
    m = member(base_rules)
    m.pay("o1", "100", "2026-02-28T12:00:00+08:00")
    event = make(ev)
    first = m.apply(event)
    assert first.result == "applied"
    before = m.snapshot()
    again = m.apply(event)
    assert again.result == "duplicate" and again.outputs == []
    assert m.snapshot() == before


def test_same_event_id_with_other_content_is_a_duplicate(base_rules, member, ev):
    m = member(base_rules)
    m.apply(ev.paid("x1", "o1", "100", DAY))
    before = m.snapshot()
    out = m.apply(ev.review("x1", DAY))
    assert out.result == "duplicate" and m.snapshot() == before


def test_order_paid_again_under_a_new_event_id_is_a_duplicate(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "300", DAY, event_id="p1")
    before = m.snapshot()
    out = m.pay("o1", "300", "2026-03-01T12:05:00+08:00", event_id="p1-retry")
    assert out.result == "duplicate" and out.outputs == []
    assert m.snapshot() == before and m.held == 300 and m.state.growth == 300


def test_duplicate_on_a_fresh_state_is_impossible_but_events_are_per_member(base_rules, member, ev):
    a, b = member(base_rules, "a"), member(base_rules, "b")
    assert a.apply(ev.paid("same", "o1", "10", DAY, member="a")).result == "applied"
    assert b.apply(ev.paid("same", "o1", "10", DAY, member="b")).result == "applied"


def test_recent_event_ids_are_bounded(make_rules, member):
    rules = make_rules({"retention": {"recent_event_ids": 8}})
    m = member(rules)
    for i in range(12):
        m.login(f"2026-03-01T{i:02d}:00:00+08:00", event_id=f"l{i}")
    assert m.state.recent_event_ids == [f"l{i}" for i in range(4, 12)]
    assert m.login(DAY, event_id="l4").result == "duplicate"
    # forgotten ids are applied again (bounded memory); order ids still dedupe payments
    assert m.login(DAY, event_id="l0").result == "applied"
    assert m.state.recent_event_ids[-1] == "l0" and len(m.state.recent_event_ids) == 8
    m.pay("o1", "10", DAY, event_id="p0")
    for i in range(8):
        m.login(DAY, event_id=f"z{i}")
    assert "p0" not in m.state.recent_event_ids
    assert m.pay("o1", "10", DAY, event_id="p0").result == "duplicate"


def test_rejected_events_are_not_remembered(base_rules, member):
    m = member(base_rules)
    out = m.refund("o1", "10", DAY, event_id="r1")
    assert out.result == "rejected"
    m.pay("o1", "10", DAY)
    assert m.refund("o1", "10", DAY, event_id="r1").result == "applied"
    assert m.held == 0


def test_old_orders_are_forgotten_after_order_days(make_rules, member):
    m = member(make_rules({"retention": {"order_days": 30}}))
    m.pay("o1", "10", "2026-03-01T12:00:00+08:00")
    m.login("2026-03-31T12:00:00+08:00")
    assert "o1" in m.state.orders
    m.login("2026-03-31T12:00:01+08:00")
    # past order_days to the second, though it is dropped from the state only when the day turns
    assert m.refund("o1", "10", "2026-03-31T12:00:01+08:00").reason == "refund_without_order"
    assert m.pay("o1", "10", "2026-03-31T12:00:01+08:00", event_id="again").result == "applied"
    assert m.state.orders["o1"].paid_at == datetime.fromisoformat("2026-03-31T12:00:01+08:00")
    m.login("2026-04-01T00:00:00+08:00")
    m.login("2026-05-01T00:00:00+08:00")
    assert "o1" not in m.state.orders
    assert m.refund("o1", "10", "2026-05-01T12:00:00+08:00").reason == "refund_without_order"


def test_max_orders_keeps_the_newest(make_rules, member):
    m = member(make_rules({"retention": {"max_orders": 3}}))
    for i in range(5):
        m.pay(f"o{i}", "1", DAY)
    assert list(m.state.orders) == ["o2", "o3", "o4"]


# -- output ids ----------------------------------------------------------------------------


def test_output_ids_are_deterministic(base_rules, member):
    first, second = member(base_rules), member(base_rules)
    _script(first)
    _script(second)
    assert [o.value.model_dump_json() for o in first.outputs] == [o.value.model_dump_json() for o in second.outputs]
    assert first.snapshot() == second.snapshot()
    kinds = Counter(type(o.value) for o in first.outputs)
    assert kinds[LedgerEntry] >= 6 and kinds[TierChange] == 2 and kinds[BenefitGrant] == 2
    assert kinds[Notification] >= 1


def test_output_ids_are_unique_within_a_run(base_rules, member):
    ids: list[str] = []
    for name in ("m1", "m2"):
        m = member(base_rules, name)
        _script(m)
        ids += [_output_id(o.value) for o in m.outputs]
        lots = [lot.lot_id for lot in m.state.lots]
        assert len(lots) == len(set(lots))
    other_tenant = member(base_rules, "m1", tenant_id="t2")
    _script(other_tenant)
    ids += [_output_id(o.value) for o in other_tenant.outputs]
    assert len(ids) == len(set(ids))


def test_ids_depend_on_the_cause_not_the_wall_clock(base_rules, ev):
    event = ev.paid("e1", "o1", "250", DAY)
    a = apply_event(None, event, base_rules)
    b = apply_event(None, event, base_rules)
    assert [_output_id(o.value) for o in a.outputs] == [_output_id(o.value) for o in b.outputs]
    other = apply_event(None, ev.paid("e2", "o1", "250", DAY), base_rules)
    assert not {_output_id(o.value) for o in a.outputs} & {_output_id(o.value) for o in other.outputs}


def test_every_output_carries_its_cause(base_rules, member):
    m = member(base_rules, "mem-7", tenant_id="acme")
    outcomes = _script(m)
    seen = 0
    for outcome in outcomes:
        assert outcome.result == "applied"
        cause_ids = set(m.state.recent_event_ids)
        for out in outcome.outputs:
            value = out.value
            assert out.key == "mem-7"
            assert value.tenant_id == "acme" and value.member_id == "mem-7"
            assert value.cause_event_id in cause_ids
            seen += 1
        causes = {o.value.cause_event_id for o in outcome.outputs}
        assert len(causes) <= 1
    assert seen == len(m.outputs) > 0
    # occurred_at of each output is its cause's event time
    times = {
        "mem-7-e1": "2026-02-28T12:00:00+08:00",
        "mem-7-e2": DAY,
        "mem-7-e4": "2026-03-02T12:00:00+08:00",
        "mem-7-e8": "2026-03-05T12:00:00+08:00",
        "mem-7-e10": "2026-03-06T12:00:00+08:00",
    }
    for out in m.outputs:
        if out.value.cause_event_id in times:
            assert out.value.occurred_at == datetime.fromisoformat(times[out.value.cause_event_id])
    assert {o.value.cause_event_id for o in m.outputs} >= set(times)


def test_a_late_order_older_than_order_days_is_not_kept(make_rules, member):
    m = member(make_rules({"retention": {"order_days": 30}}))
    m.pay("o1", "10", "2026-03-10T12:00:00+08:00")
    m.pay("o0", "10", "2026-01-01T12:00:00+08:00")
    assert "o0" not in m.state.orders and "o1" in m.state.orders
    assert m.refund("o0", "10", "2026-03-11T12:00:00+08:00").reason == "refund_without_order"


def test_the_index_of_recent_ids_follows_the_bounded_memory(make_rules):
    """The O(1) dedupe check agrees with ``recent_event_ids`` as ids come and go, on a
    state read back (no index yet), and when the list is changed behind its back."""
    rules = make_rules({"retention": {"recent_event_ids": 8}})
    state = None
    for n in range(11):
        state = apply_event(state, login(f"l{n}", f"2026-03-{n + 1:02d}T10:00:00+08:00"), rules).state
        seen = _SeenIds.of(state)
        assert seen is None or Counter(seen.counts) == Counter(state.recent_event_ids)
        assert n == 0 or seen is not None  # built on the second check
    assert state.recent_event_ids == [f"l{n}" for n in range(3, 11)]
    assert is_duplicate(state, login("l5", "2026-03-20T10:00:00+08:00"), rules)
    assert not is_duplicate(state, login("l2", "2026-03-20T10:00:00+08:00"), rules)  # forgotten
    read_back = state_of_json(state_json(state))
    assert "seen_ids" not in read_back.__dict__ and is_duplicate(read_back, login("l4", DAY), rules)
    state.recent_event_ids = ["l0"]  # replaced: the index is rebuilt
    assert is_duplicate(state, login("l0", DAY), rules) and not is_duplicate(state, login("l5", DAY), rules)
