"""Property tests over random event sequences for a few members.

After every event, for the member it touched:

(a) the ledger is a running balance: each entry's ``balance`` is the previous
    one plus its ``delta``, and the last equals ``engine.wallet.held(state)``;
(b) the tier never exceeds the highest tier the member ever qualified for, and
    is never below what the member qualifies for now (no missed upgrade);
(c) applying the same event again is a no-op: same state JSON, no outputs;
(d) spendable points are never negative; under cap_and_record no debt and
    ``held`` is never negative; refunds never claw more than an order earned.

Output ids are unique over the whole run and carry their cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.rules import ClawbackPolicy, TenantRules
from engine.apply import apply_event
from engine.outcome import Applied
from engine.qualification import qualification
from engine.wallet import held, spendable
from models.events import (
    Complaint,
    Login,
    MemberEvent,
    OrderItem,
    OrderPaid,
    OrderRefunded,
    Profile,
    Review,
    Verdict,
)
from models.journal import MemberRecord
from models.outputs import LedgerEntry
from models.state import MemberState, state_json
from tables.members import decode, encode

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, tzinfo=SH)
MEMBERS = ("m1", "m2")
ORDER_SLOTS = 3

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _cents(n: int) -> Decimal:
    return Decimal(n).scaleb(-2)


KINDS = ("pay", "pay", "pay", "refund", "refund", "refund", "review", "login", "complaint", "complaint", "profile",
         "repeat")
SPECIAL_AMOUNTS = (Decimal("199.99"), Decimal("200.00"), Decimal("500.00"), Decimal("1000.00"))
ITEMS = (
    (),
    (OrderItem(sku="s1", category="featured", unit_price=Decimal("80.00"), quantity=1),),
    (OrderItem(sku="s2", category="fresh", unit_price=Decimal("1200.00"), quantity=1),),
    (OrderItem(sku="s1", category="general", unit_price=Decimal("9.99"), quantity=6),),
    (
        OrderItem(sku="s1", category="general", unit_price=Decimal("600.00"), quantity=2),
        OrderItem(sku="s2", category="featured", unit_price=Decimal("15.50"), quantity=3),
    ),
)
INVITES = (None, "BLACK_GOLD", "GOLD")

#: one event as plain integers (cheap to draw and to shrink):
#: kind, member, order slot / invite, amount scale, cents, minutes, sparse time, items / verdict / repeat index
raw_event = st.tuples(
    st.integers(0, len(KINDS) - 1),
    st.integers(0, len(MEMBERS) - 1),
    st.integers(0, ORDER_SLOTS - 1),
    st.integers(0, 3),
    st.integers(0, 200_000),
    st.integers(0, 45 * 24 * 60),
    st.booleans(),
    st.integers(0, 1_000),
)


def _amount(scale: int, cents: int) -> Decimal:
    if scale == 0:
        return _cents(cents % 3_001)  # up to 30.00: complaints can outrun earnings
    if scale == 3:
        return SPECIAL_AMOUNTS[cents % len(SPECIAL_AMOUNTS)]
    return _cents(cents)  # up to 2000.00: tiers move


def build_events(raw: list[tuple[int, ...]]) -> list[MemberEvent]:
    events: list[MemberEvent] = []
    paid: dict[str, list[str]] = {m: [] for m in MEMBERS}
    for i, (kind_ix, member_ix, slot, scale, cents, minutes, sparse, extra) in enumerate(raw):
        kind = KINDS[kind_ix]
        if kind == "repeat" and events:
            events.append(events[extra % len(events)])  # a redelivery
            continue
        if sparse:  # windows slide, buckets and orders get pruned
            minutes *= 10
        common = {
            "event_id": f"e{i}",
            "member_id": MEMBERS[member_ix],
            "occurred_at": START + timedelta(minutes=minutes),
        }
        if kind == "pay":
            paid[MEMBERS[member_ix]].append(f"o{slot}")
            events.append(OrderPaid(type="order_paid", order_id=f"o{slot}", amount=_amount(scale, cents),
                                    items=list(ITEMS[extra % len(ITEMS)]), **common))
        elif kind == "refund":
            orders = paid[MEMBERS[member_ix]]
            # mostly a paid order of this member (if any); sometimes one never paid
            order_id = orders[slot % len(orders)] if orders and extra % 5 else f"o{slot}"
            events.append(OrderRefunded(type="order_refunded", order_id=order_id, amount=_amount(scale, cents),
                                        **common))
        elif kind == "review":
            events.append(Review(review_id=f"r{i}", **common))
        elif kind in ("login", "repeat"):
            events.append(Login(**common))
        elif kind == "complaint":
            verdict = (Verdict.MALICIOUS, Verdict.MALICIOUS, Verdict.UPHELD, Verdict.DISMISSED)[extra % 4]
            events.append(Complaint(complaint_id=f"c{i}", verdict=verdict, **common))
        else:
            events.append(Profile(invited_tier=INVITES[slot % len(INVITES)], **common))
    return events


scenarios = st.lists(raw_event, min_size=6, max_size=30).map(build_events)


@dataclass
class Track:
    state: MemberState | None = None
    balance: int = 0
    max_rank: int = 0
    entries: int = 0
    seen: list[str] = field(default_factory=list)


def _output_id(value) -> str:
    for name in ("entry_id", "change_id", "grant_id", "notification_id", "flag_id"):
        if hasattr(value, name):
            return getattr(value, name)
    raise AssertionError(f"no id on {value!r}")


def run_and_check(rules: TenantRules, events: list[MemberEvent]) -> dict[str, Track]:
    ladder = rules.tiers
    tracks = {m: Track() for m in MEMBERS}
    ids: set[str] = set()
    for event in events:
        track = tracks[event.member_id]
        outcome = apply_event(track.state, event, rules)
        if outcome.result is not Applied.APPLIED:
            assert outcome.outputs == []
        if outcome.result is Applied.REJECTED:
            assert outcome.reason is not None
            if track.state is None:
                continue  # as agents.records does: a rejected first event stores nothing
        state = track.state = outcome.state
        snapshot = state_json(state).decode()

        # (c) the same event again changes nothing and emits nothing
        again = apply_event(state if track.state is not None else None, event, rules)
        assert again.outputs == []
        expected = Applied.REJECTED if outcome.result is Applied.REJECTED else Applied.DUPLICATE
        assert again.result is expected
        assert state_json(again.state).decode() == snapshot
        assert state_json(state).decode() == snapshot

        # outputs: unique ids, carrying their cause
        for out in outcome.outputs:
            value = out.value
            assert out.key == event.member_id
            assert (value.tenant_id, value.member_id, value.cause_event_id) == (
                event.tenant_id, event.member_id, event.event_id
            )
            assert value.occurred_at == event.occurred_at
            oid = _output_id(value)
            assert oid not in ids
            ids.add(oid)

        # (a) running ledger balance equals held points
        for entry in (o.value for o in outcome.outputs if isinstance(o.value, LedgerEntry)):
            assert entry.delta != 0
            assert entry.balance == track.balance + entry.delta
            track.balance = entry.balance
            track.entries += 1
        assert track.balance == held(state)

        # (b) tier between what the member qualifies for now and the best it ever qualified for
        as_of = state.watermark.astimezone(rules.tz).date()
        q = qualification(state, ladder, as_of)
        track.max_rank = max(track.max_rank, q.rank)
        assert q.rank <= ladder.rank(state.tier) <= track.max_rank

        # (d) never negative where it must not be; clawbacks bounded by what was earned
        assert spendable(state, event.occurred_at) >= 0
        assert all(lot.amount > 0 for lot in state.lots)
        assert state.debt >= 0 and state.shortfall >= 0 and state.growth >= 0
        if rules.points.clawback is ClawbackPolicy.CAP_AND_RECORD:
            assert state.debt == 0
            assert held(state) >= 0
        for record in state.orders.values():
            assert 0 <= record.points_clawed <= record.points
            assert 0 <= record.growth_clawed <= record.growth
            assert 0 <= record.refunded <= record.amount
            if record.refunded == record.amount > 0:
                assert record.points_clawed == record.points
                assert record.growth_clawed == record.growth
    return tracks


RULE_VARIANTS = {
    "base-only": ({}, True),
    "shipped": ({}, False),
    "negative-balance-pending": (
        {"points": {"clawback": "negative_balance", "pending_days": 3,
                    "expiry": {"mode": "months_after_earning", "months": 2}}},
        True,
    ),
}


@pytest.fixture(scope="module", params=list(RULE_VARIANTS))
def variant_rules(request, make_rules) -> TenantRules:
    overrides, base_only = RULE_VARIANTS[request.param]
    return make_rules(overrides, base_only=base_only)


@PROPERTY_SETTINGS
@given(events=scenarios)
def test_invariants_hold_after_every_event(variant_rules, events):
    run_and_check(variant_rules, events)


@PROPERTY_SETTINGS
@given(events=scenarios)
def test_twice_equals_once_replays_match_and_stored_state_round_trips(shipped_rules, events):
    """(c) over whole runs; plus: a replay gives the same states and output ids, and
    keeping state as the members table does (JSON between events) changes nothing."""
    once = [(e.member_id, e) for e in events]
    twice = [(e.member_id, e) for e in events for _ in range(2)]

    def final(sequence, stored: bool = False):
        states: dict[str, MemberState | None] = dict.fromkeys(MEMBERS)
        outputs = []
        for member_id, event in sequence:
            state = states[member_id]
            if stored and state is not None:
                state = decode(encode(MemberRecord(state)))
            outcome = apply_event(state, event, shipped_rules)
            if outcome.result is not Applied.REJECTED:
                states[member_id] = outcome.state
            outputs += [o.value.model_dump_json() for o in outcome.outputs]
        return {m: state_json(s).decode() if s else None for m, s in states.items()}, outputs

    result = final(once)
    assert final(once) == result
    assert final(twice) == result
    assert final(once, stored=True) == result
