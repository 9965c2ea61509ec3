"""Device reports and event time: a registration or login that arrives late is still reported to the
device agent, once; a replay of the events after it reports nothing again (engine.corrections ADDED_ONLY)."""

from __future__ import annotations

from typing import Any

from config.topics import Topic
from tests.engine.test_event_time import Member, review


def registration(eid: str, when: str) -> tuple[str, dict[str, Any]]:
    return Topic.REGISTRATIONS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "channel": "app",
                                 "device_id": "d1"}


def login(eid: str, when: str, device: str = "d1") -> tuple[str, dict[str, Any]]:
    return Topic.LOGINS, {"event_id": eid, "member_id": "m1", "occurred_at": when, "device_id": device}


def reports(member: Member) -> list[tuple[str, str]]:
    return [(o.value.kind, o.value.cause_event_id) for o in member.published if o.topic == Topic.DEVICE_ACTIVITY]


def test_a_late_registration_is_reported_and_the_replayed_events_are_not_reported_again():
    m = Member().feed(login("l1", "2026-03-02T10:00:00+08:00"), review("r1", "2026-03-02T11:00:00+08:00"))
    outcome = m.arrive(*registration("reg", "2026-03-01T10:00:00+08:00"))
    assert outcome.result == "rewound"
    assert reports(m) == [("login", "l1"), ("registration", "reg")]
    assert m.state.registration.event_id == "reg"


def test_a_late_login_is_reported():
    m = Member().feed(review("r1", "2026-03-02T11:00:00+08:00"), login("l2", "2026-03-02T12:00:00+08:00", "d2"))
    m.arrive(*login("l1", "2026-03-02T10:00:00+08:00"))
    assert reports(m) == [("login", "l2"), ("login", "l1")]


def test_a_redelivered_registration_is_not_reported_again():
    m = Member().feed(registration("reg", "2026-03-01T10:00:00+08:00"))
    assert m.arrive(*registration("reg", "2026-03-01T10:00:00+08:00")).result == "duplicate"
    assert reports(m) == [("registration", "reg")]
