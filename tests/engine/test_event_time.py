"""Event time, exactly: a member's outcome does not depend on how its topics interleave.

Worked examples through ``engine.event_time.apply_in_time`` (the engine's entry
point for every event), and a property: any interleaving of the time-ordered
topics that keeps each topic's own order gives the same effective outputs and
the same final state as the events in time order.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.rules import TenantRules
from config.topics import Topic
from engine.corrections import comparable, effective
from engine.event_time import Arrival, apply_in_time
from engine.intake import Invalid, parse_event
from engine.outcome import Applied, Emitted, Outcome
from engine.wallet import held
from models.journal import MemberRecord
from models.outputs import DeadLetterReason, LedgerEntry, TierChange
from models.state import state_json
from tests.engine.fixtures import make_rules

#: the shipped ladder, 1 point per yuan, behaviour points; events may arrive up to 35 days late
RULES = make_rules({"limits": {"max_lateness": "P35D"}})
#: every shipped earning rule, tier multipliers included
SHIPPED = make_rules({"limits": {"max_lateness": "P35D"}}, base_only=False)
#: the shipped lateness: 7 days
DEFAULT_LATENESS = make_rules()
DAY0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def at(days: float, hours: float = 0) -> str:
    return (DAY0 + timedelta(days=days, hours=hours)).isoformat()


def order(eid: str, amount: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.ORDERS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "type": "order_paid",
                          "order_id": f"o-{eid}", "amount": amount,
                          "items": [{"sku": "s", "category": "general", "unit_price": amount, "quantity": 1}]}


def refund(eid: str, of: str, amount: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.ORDERS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "type": "order_refunded",
                          "order_id": f"o-{of}", "amount": amount}


def login(eid: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.LOGINS, {"event_id": eid, "member_id": "m1", "occurred_at": when}


def review(eid: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.REVIEWS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "review_id": f"r-{eid}"}


def profile(eid: str, when: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return Topic.PROFILES, {"event_id": eid, "member_id": "m1", "occurred_at": when, **fields}


def complaint(eid: str, when: str, verdict: str) -> tuple[str, dict[str, Any]]:
    return Topic.COMPLAINTS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "complaint_id": f"c-{eid}",
                              "verdict": verdict}


def coupon(eid: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.REDEMPTIONS, {"request_id": eid, "member_id": "m1", "occurred_at": when, "kind": "coupon",
                               "denomination": "10", "quantity": 1}


class Member:
    """One member's record, fed events as they arrive; keeps everything it published."""

    def __init__(self, rules: TenantRules = RULES) -> None:
        self.rules = rules
        self.record: MemberRecord | None = None
        self.published: list[Emitted] = []

    def arrive(self, topic: str, value: dict[str, Any], received_at: datetime | None = None) -> Outcome:
        raw = json.dumps(value).encode()
        event = parse_event(topic, raw, 65536)
        assert not isinstance(event, Invalid), event
        received_ms = None if received_at is None else round(received_at.timestamp() * 1000)
        self.record, outcome = apply_in_time(self.record, event, Arrival(topic, raw, received_ms), self.rules)
        self.published += outcome.outputs
        return outcome

    def feed(self, *events: tuple[str, dict[str, Any]]) -> Member:
        for topic, value in events:
            self.arrive(topic, value)
        return self

    @property
    def state(self) -> Any:
        assert self.record is not None
        return self.record.state

    def effective(self) -> dict[str, dict[str, Any]]:
        return {key: comparable(out.value) for key, out in effective(self.published).items()}

    def ledger(self) -> list[LedgerEntry]:
        return [o.value for o in self.published if isinstance(o.value, LedgerEntry)]

    def tier_changes(self) -> list[TierChange]:
        return [v.value for v in effective(self.published).values() if isinstance(v.value, TierChange)]


def in_time_order(*events: tuple[str, dict[str, Any]], rules: TenantRules = RULES) -> Member:
    return Member(rules).feed(*sorted(events, key=lambda e: e[1]["occurred_at"]))


def assert_same_outcome(late: Member, timely: Member) -> None:
    assert late.effective() == timely.effective()
    assert state_json(late.state).decode() == state_json(timely.state).decode()
    # the ledger's balances are the running balance as published, whatever the order
    running = 0
    for entry in late.ledger():
        running += entry.delta
        assert entry.balance == running
    assert running == held(late.state)


# -- the three-event case -----------------------------------------------------------


THREE = (order("a", "600", at(0)), order("b", "500", at(5)), login("c", at(32)))


def test_in_time_order_the_member_goes_gold_then_diamond() -> None:
    m = in_time_order(*THREE)
    assert [(c.to_tier, c.cause_event_id) for c in m.tier_changes()] == [("GOLD", "a"), ("DIAMOND", "b")]
    assert m.state.tier == "DIAMOND"


def test_a_login_fetched_first_changes_nothing() -> None:
    login_first = Member().feed(THREE[2], THREE[0], THREE[1])
    assert [(c.to_tier, c.cause_event_id) for c in login_first.tier_changes()] == [("GOLD", "a"), ("DIAMOND", "b")]
    assert_same_outcome(login_first, in_time_order(*THREE))


def test_under_the_shipped_lateness_the_day_0_order_after_the_day_32_login_is_too_late() -> None:
    m = Member(DEFAULT_LATENESS).feed(THREE[2])
    outcome = m.arrive(*THREE[0])
    assert outcome.result is Applied.REJECTED and outcome.reason is DeadLetterReason.TOO_LATE


def test_every_later_order_keeps_its_diamond_multiplier_whatever_came_first() -> None:
    events = (*THREE, order("d", "100", at(8)), order("e", "200", at(9)))
    shuffled = Member(SHIPPED).feed(events[2], events[4], events[3], events[0], events[1])
    timely = in_time_order(*events, rules=SHIPPED)
    assert_same_outcome(shuffled, timely)
    multiplied = {e.cause_event_id for e in effective_ledger(shuffled) if e.rule == "tier_multiplier"}
    assert multiplied == {"d", "e"}


def effective_ledger(m: Member) -> list[LedgerEntry]:
    return [o.value for o in effective(m.published).values() if isinstance(o.value, LedgerEntry)]


# -- a late order after later events --------------------------------------------------


def test_a_late_order_after_a_later_login_review_and_profile_change() -> None:
    events = (order("a", "150", at(0)), login("l", at(3)), review("r", at(4)),
              profile("p", at(4, 1), birthday="1990-05-20"), order("late", "100", at(2)))
    late = Member().feed(*events)
    outcome_of_late = late.published[-1]
    assert late.state.tier == "SILVER"  # 250 in 30 days, from the day-2 order on
    (change,) = late.tier_changes()
    assert (change.to_tier, change.cause_event_id, change.metric_value) == ("SILVER", "late", Decimal("250"))
    assert outcome_of_late is not None
    assert_same_outcome(late, in_time_order(*events))


def test_a_late_event_that_makes_an_upgrade_happen_sooner_retracts_the_later_one() -> None:
    first = (order("a", "150", at(0)), order("b", "300", at(5)))
    m = Member().feed(*first)
    (upgrade,) = m.tier_changes()
    assert (upgrade.to_tier, upgrade.cause_event_id) == ("SILVER", "b")  # 450 in the window at b
    outcome = m.arrive(*order("early", "250", at(1)))
    assert outcome.result is Applied.REWOUND
    changes = [o.value for o in outcome.outputs if isinstance(o.value, TierChange)]
    retracted = [c for c in changes if c.retracts is not None]
    assert [c.retracts for c in retracted] == [upgrade.change_id]
    assert [(c.from_tier, c.to_tier, c.cause_event_id) for c in m.tier_changes()] == [
        ("NORMAL", "SILVER", "early"), ("SILVER", "GOLD", "b")]
    assert_same_outcome(m, in_time_order(*first, order("early", "250", at(1))))


def test_corrections_are_the_same_when_the_batch_is_processed_again() -> None:
    first = (order("a", "150", at(0)), order("b", "300", at(5)))
    one, two = Member().feed(*first), Member().feed(*first)
    late = order("early", "250", at(1))
    assert [o.value for o in one.arrive(*late).outputs] == [o.value for o in two.arrive(*late).outputs]


# -- lateness -------------------------------------------------------------------------


def test_exactly_at_the_allowed_lateness_the_event_is_put_in_its_place() -> None:
    m = Member(DEFAULT_LATENESS).feed(order("a", "150", at(10)))
    outcome = m.arrive(*order("late", "100", at(3)))  # exactly 7 days before the latest event
    assert outcome.result is Applied.REWOUND and m.state.tier == "SILVER"


def test_beyond_the_allowed_lateness_the_event_is_too_late_and_nothing_is_applied() -> None:
    m = Member(DEFAULT_LATENESS).feed(order("a", "150", at(10)))
    before = state_json(m.state).decode()
    too_late = (DAY0 + timedelta(days=3) - timedelta(microseconds=1)).isoformat()
    outcome = m.arrive(*order("late", "100", too_late))
    assert outcome.result is Applied.REJECTED and outcome.reason is DeadLetterReason.TOO_LATE
    assert "7 days" in outcome.detail
    assert state_json(m.state).decode() == before and outcome.outputs == []


def test_a_day_s_counters_last_as_long_as_an_event_may_be_late_for_it() -> None:
    """Daily caps hold for an event at the lateness bound; counters of older days, which no
    accepted event can read, are dropped (state kept small)."""
    m = Member(DEFAULT_LATENESS).feed(*(review(f"r{i}", at(3, i)) for i in range(3)))  # the day's 3 capped reviews
    m.feed(login("l0", at(1)), login("l1", at(10)))
    assert min(m.state.counters) == (DAY0 + timedelta(days=3)).date()  # day 1's went when day 10 came
    growth = m.state.growth
    assert m.arrive(*review("r-late", at(3))).result is Applied.REWOUND  # exactly 7 days behind
    assert m.state.growth == growth  # the day's cap still holds


def test_the_engine_s_own_command_is_never_too_late() -> None:
    """A device's verdict on a registration follows the registration however far the member's
    other topics ran ahead meanwhile (a worker catching up a backlog): it is applied, and the
    registration earns its reward; an order as old is still too late."""
    m = Member(DEFAULT_LATENESS)
    m.arrive("registrations", {"event_id": "reg-1", "member_id": "m1", "occurred_at": at(0), "channel": "app",
                               "device_id": "d1"})
    m.feed(login("l1", at(10)))
    outcome = m.arrive("member-commands", {
        "type": "device_verdict", "command_id": "dv-1", "member_id": "m1", "occurred_at": at(0, 0.01),
        "device_id": "d1", "registration_event_id": "reg-1", "allowed": True, "registrations": 1, "limit": 3})
    assert outcome.result is Applied.APPLIED and m.state.registration.allowed is True
    assert any(entry.cause_event_id == "dv-1" and entry.delta > 0 for entry in m.ledger())  # the reward
    assert m.arrive(*order("old", "100", at(0, 0.02))).reason is DeadLetterReason.TOO_LATE


def test_the_allowed_lateness_is_a_tenant_rule() -> None:
    strict = make_rules({"limits": {"max_lateness": "PT1H"}})
    m = Member(strict).feed(order("a", "150", at(1)))
    assert m.arrive(*order("late", "100", at(0, 23))).result is Applied.REWOUND
    assert m.arrive(*order("later", "100", at(0, 22))).reason is DeadLetterReason.TOO_LATE


# -- implausible times ------------------------------------------------------------------


@pytest.mark.parametrize("occurred_at", [12345, 1772354400000, "1772354400", 1.5e9])
def test_numbers_are_no_event_times(occurred_at: Any) -> None:
    raw = json.dumps({**order("a", "10", at(0))[1], "occurred_at": occurred_at}).encode()
    invalid = parse_event(Topic.ORDERS, raw, 65536)
    assert isinstance(invalid, Invalid) and invalid.reason is DeadLetterReason.IMPLAUSIBLE_TIME


def test_before_the_programme_started_is_implausible() -> None:
    rules = make_rules({"limits": {"programme_start": "2026-01-01T00:00:00+08:00"}})
    outcome = Member(rules).arrive(*order("a", "10", "2025-12-31T23:59:59+08:00"))
    assert outcome.reason is DeadLetterReason.IMPLAUSIBLE_TIME and outcome.outputs == []
    assert Member(rules).arrive(*order("b", "10", "2026-01-01T00:00:00+08:00")).result is Applied.APPLIED


def test_further_ahead_of_the_broker_than_the_skew_is_implausible() -> None:
    received = DAY0
    ahead = Member().arrive(*order("a", "10", (received + timedelta(minutes=5, seconds=1)).isoformat()), received)
    assert ahead.reason is DeadLetterReason.IMPLAUSIBLE_TIME
    on_the_bound = Member().arrive(*order("b", "10", (received + timedelta(minutes=5)).isoformat()), received)
    assert on_the_bound.result is Applied.APPLIED


# -- what stays arrival-ordered --------------------------------------------------------


def test_a_redemption_fixes_the_history_before_it() -> None:
    m = Member().feed(order("a", "300", at(0)), coupon("c1", at(2)))
    assert m.record is not None and len(m.record.journal) == 0
    # an order older than the redemption that arrives after it is applied after it: no rewind
    outcome = m.arrive(*order("late", "50", at(1)))
    assert outcome.result is Applied.APPLIED


# -- the journal ----------------------------------------------------------------------


def test_events_older_than_the_lateness_leave_the_journal_once_it_outgrows_its_bound() -> None:
    rules = make_rules({"retention": {"journal_entries": 4}})
    m = Member(rules).feed(*(order(f"e{i}", "10", at(i)) for i in range(12)))
    assert m.record is not None
    keys = m.record.journal.keys
    assert len(keys) <= 8 and all(k[0] >= keys[-1][0] - 7 * 86_400_000_000 for k in keys)
    # a late event within the lateness is still put exactly in its place
    events = [order(f"e{i}", "10", at(i)) for i in range(12)]
    m.arrive(*order("late", "10", at(6, 12)))
    assert_same_outcome(m, in_time_order(*events, order("late", "10", at(6, 12)), rules=rules))


# -- the property ---------------------------------------------------------------------


def _stream(draw: Any) -> list[tuple[str, dict[str, Any]]]:
    """Events of the time-ordered kinds for one member, each topic in its own order,
    within six days (so none is too late)."""
    count = draw(st.integers(min_value=2, max_value=9))
    events = []
    paid: list[str] = []
    for i in range(count):
        when = at(draw(st.integers(min_value=0, max_value=6 * 24)) / 24)
        kind = draw(st.sampled_from(["order", "order", "refund", "review", "review", "login", "profile", "complaint"]))
        if kind == "refund" and paid:
            events.append(refund(f"f{i}", draw(st.sampled_from(paid)), "10", when))
        elif kind in ("order", "refund"):
            amount = draw(st.sampled_from(["50", "150", "300", "520"]))
            events.append(order(f"o{i}", amount, when))
            paid.append(f"o{i}")
        elif kind == "review":
            events.append(review(f"r{i}", when))
        elif kind == "login":
            events.append(login(f"l{i}", when))
        elif kind == "complaint":
            events.append(complaint(f"c{i}", when, draw(st.sampled_from(["upheld", "dismissed"]))))
        else:
            events.append(profile(f"p{i}", when, birthday="1990-03-05"))
    return events


@st.composite
def interleavings(draw: Any) -> tuple[list, list]:
    events = _stream(draw)
    by_topic: dict[str, list] = {}
    for topic, value in sorted(events, key=lambda e: e[1]["occurred_at"]):  # each topic in time order...
        by_topic.setdefault(topic, []).append((topic, value))
    order_of_arrival = []
    queues = {t: list(q) for t, q in by_topic.items()}
    while any(queues.values()):  # ...and the topics interleaved any way
        topic = draw(st.sampled_from(sorted(t for t, q in queues.items() if q)))
        order_of_arrival.append(queues[topic].pop(0))
    return events, order_of_arrival


#: daily caps that orders and reviews share, and a penalty for an upheld complaint: what an event earns
#: then depends on what happened before it that day, on other topics
CAPPED = make_rules({"limits": {"max_lateness": "P35D"},
                     "points": {"earning": {"daily_caps": {"tiers": {"NORMAL": 400, "SILVER": 500, "GOLD": 700}}}},
                     "complaints": {"upheld": {"deduct": 7}}}, base_only=False)


@settings(max_examples=150, deadline=None)
@given(interleavings(), st.sampled_from([SHIPPED, CAPPED]))
def test_any_interleaving_of_the_topics_gives_the_time_order_outcome(case: tuple[list, list],
                                                                       rules: TenantRules) -> None:
    events, arrival = case
    timely = in_time_order(*events, rules=rules)
    late = Member(rules).feed(*arrival)
    assert_same_outcome(late, timely)
