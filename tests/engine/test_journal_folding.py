"""A member's journal folds what no late event can precede, at a checkpoint when it has one.

``tests/engine/test_event_time.py`` holds the worked examples and the property for
interleavings within a few days.  Here the streams are long (weeks, the shipped
7-day lateness), so journals fold, and the member is stored between arrivals as
the worker stores it after a batch: its state's JSON is then kept as a
checkpoint, and a cold read (the record decoded again) loses the checkpoints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import engine.event_time as event_time
from engine.event_time import Arrival, apply_in_time
from engine.intake import Invalid, parse_event
from engine.outcome import Applied
from models.journal import Journal
from tables.members import decode_record, encode
from tests.engine.fixtures import make_rules
from tests.engine.test_event_time import (
    DAY0,
    Member,
    assert_same_outcome,
    complaint,
    in_time_order,
    login,
    order,
    profile,
    refund,
    review,
)

#: every shipped earning rule and the shipped lateness (7 days); journals fold from four entries on
FOLDING = make_rules({"retention": {"journal_entries": 4}}, base_only=False)
LATENESS = timedelta(days=7)


class StoredMember(Member):
    """A member stored after an arrival when asked (its state's JSON kept as the worker keeps it),
    or read back from what was stored (nothing kept in memory survives)."""

    def arrive_then(self, topic: str, value: dict[str, Any], *, store: bool, read_back: bool) -> None:
        raw = json.dumps(value).encode()
        event = parse_event(topic, raw, 65536)
        assert not isinstance(event, Invalid), event
        self.record, outcome = apply_in_time(self.record, event, Arrival(topic, raw), self.rules)
        self.published += outcome.outputs
        assert_consistent(self.record.journal)
        if store or read_back:
            stored = encode(self.record)
            if read_back:
                self.record = decode_record(stored)


def assert_consistent(journal: Journal) -> None:
    """What a journal keeps beside its frames -- how many, the newest, where it starts, the keys once
    read -- says what the frames say."""
    keys = Journal(journal.base, journal.blob, journal.count).keys  # read from the frames afresh
    assert len(keys) == journal.count and len(journal.blob) == journal.offset(journal.count)
    assert journal.known_keys is None or journal.known_keys == keys
    if keys:
        assert journal.newest == keys[-1][0] and journal.last_key() == keys[-1] and keys == sorted(keys)


def when(days: float) -> str:
    return (DAY0 + timedelta(days=days)).isoformat()


def _event(i: int, day: float, kind: str, paid: list[str], draw: Any) -> tuple[str, dict[str, Any]]:
    if kind == "refund" and paid:
        return refund(f"f{i}", draw(st.sampled_from(paid)), "10", when(day))
    if kind in ("order", "refund"):
        paid.append(f"o{i}")
        return order(f"o{i}", draw(st.sampled_from(["50", "150", "300", "520"])), when(day))
    if kind == "review":
        return review(f"r{i}", when(day))
    if kind == "login":
        return login(f"l{i}", when(day))
    if kind == "complaint":
        return complaint(f"c{i}", when(day), draw(st.sampled_from(["upheld", "dismissed"])))
    return profile(f"p{i}", when(day), birthday="1990-03-05")


@st.composite
def weeks_of_arrivals(draw: Any) -> tuple[list, list[tuple[tuple, bool, bool]]]:
    """One member's events over up to six weeks, and an order of arrival that keeps each topic's
    order and is never later than 6 days behind what came before it (so none is too late); each
    arrival says whether the member is stored after it, and whether read back."""
    count = draw(st.integers(min_value=6, max_value=30))
    hours = sorted(draw(st.lists(st.integers(min_value=0, max_value=42 * 24), min_size=count, max_size=count)))
    kinds = ["order", "order", "refund", "review", "login", "login", "profile", "complaint"]
    paid: list[str] = []
    events = [_event(i, h / 24, draw(st.sampled_from(kinds)), paid, draw) for i, h in enumerate(hours)]
    # an event arrives at its time plus a delay under 6 days, never before the one before it on its topic
    seen: dict[str, float] = {}
    arrivals = []
    for i, (topic, value) in enumerate(events):
        due = max(seen.get(topic, 0.0), hours[i] / 24 + draw(st.integers(min_value=0, max_value=6 * 24 - 1)) / 24)
        seen[topic] = due
        arrivals.append((due, i, (topic, value)))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    return events, [(a[2], draw(st.booleans()), draw(st.integers(0, 5)) == 0) for a in arrivals]


@settings(max_examples=120, deadline=None)
@given(weeks_of_arrivals())
def test_late_arrivals_over_weeks_give_the_time_order_outcome_whenever_the_member_is_stored(case: Any) -> None:
    events, arrivals = case
    member = StoredMember(FOLDING)
    for event, store, read_back in arrivals:
        member.arrive_then(*event, store=store, read_back=read_back)
    assert_same_outcome(member, in_time_order(*events, rules=FOLDING))


def test_a_member_stored_after_each_batch_folds_at_checkpoints_without_applying_anything_again(
        monkeypatch: Any) -> None:
    replayed = []
    monkeypatch.setattr(event_time, "apply_event", lambda *a: replayed.append(a) or pytest_fail())
    member = StoredMember(FOLDING)
    days = [d / 4 for d in range(4 * 40)]  # four events a day for forty days
    for i, day in enumerate(days):
        member.arrive_then(*login(f"l{i}", when(day)), store=True, read_back=False)
    assert member.record is not None
    keys = member.record.journal.keys
    span = timedelta(microseconds=keys[-1][0] - keys[0][0])
    assert replayed == []  # no event applied a second time
    assert span <= LATENESS * 1.5 + timedelta(days=1)  # the lateness, and up to half of it again
    assert len(member.record.journal.checkpoints) <= 3


def pytest_fail() -> None:
    raise AssertionError("an event was applied again to fold the journal")


def test_without_checkpoints_the_journal_folds_by_replaying_once_it_outgrows_its_bound() -> None:
    """Never stored (so nothing to checkpoint): entries older than the lateness are folded once
    there are at least ``journal_entries`` of them."""
    member = Member(FOLDING).feed(*(login(f"l{i}", when(i / 4)) for i in range(4 * 40)))
    assert member.record is not None
    keys = member.record.journal.keys
    assert keys[0][0] >= keys[-1][0] - LATENESS // timedelta(microseconds=1) - 4 * 6 * 3600 * 10**6
    assert member.record.journal.checkpoints == []


def test_a_late_event_before_a_checkpoint_drops_it_and_the_outcome_is_the_time_order_one() -> None:
    member = StoredMember(FOLDING)
    events = [order(f"o{i}", "150", when(i)) for i in range(10)]
    for event in events:
        member.arrive_then(*event, store=True, read_back=False)
    assert member.record is not None
    points = member.record.journal.checkpoints
    assert points, "a stored journal of half journal_entries or more keeps checkpoints"
    newest = points[-1][0][0]
    before_it = datetime.fromtimestamp(newest / 1e6, UTC) - timedelta(hours=1)
    assert before_it > DAY0 + timedelta(days=9) - LATENESS  # within the lateness
    late = order("late", "300", before_it.isoformat())
    member.arrive_then(*late, store=True, read_back=False)
    assert all(point[0][0] < newest for point in member.record.journal.checkpoints)
    later = [order(f"o{i}", "150", when(i)) for i in range(10, 20)]  # on, until the journal folds again
    for event in later:
        member.arrive_then(*event, store=True, read_back=False)
    assert_same_outcome(member, in_time_order(*events, late, *later, rules=FOLDING))


def test_a_copy_of_a_journal_does_not_change_with_the_journal() -> None:
    member = Member(FOLDING).feed(login("a", when(0)), login("b", when(1)))
    assert member.record is not None
    copy = member.record.journal.copy()
    member.arrive(*login("c", when(2)))
    assert len(copy.frames) == 2 and len(member.record.journal.frames) == 3
    assert member.arrive(*login("c", when(2))).result is Applied.DUPLICATE
