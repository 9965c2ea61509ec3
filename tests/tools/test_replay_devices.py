"""Registrations through the offline replay, the device agent's part included: the members' reports
and the verdicts fed back as a worker would read them (``memberflow.tools.replay``)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from memberflow.tools.replay import MemoryStore, replay
from models.state import state_json, state_of_json
from tables.members import state_key

AT = "2026-03-01T10:{minute:02d}:00+08:00"


def run(events: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], MemoryStore]:
    fed: deque[dict[str, Any]] = deque({"topic": t, "key": v["member_id"], "value": v} for t, v in events)
    store = MemoryStore()
    outputs = []

    def lines() -> Iterator[dict[str, Any]]:
        while fed:
            yield fed.popleft()

    for out in replay(lines(), RuleBook.load(SHIPPED_RULES_DIR), store=store):
        outputs.append(out)
        if out.topic in ("member-commands", "device-activity"):
            fed.append({"topic": out.topic, "key": out.key, "value": json.loads(out.value.model_dump_json())})
    return outputs, store


def registration(member: str, minute: int, device: str = "farm", invited_by: str | None = None) -> tuple[str, dict]:
    value = {"event_id": f"reg-{member}", "member_id": member, "occurred_at": AT.format(minute=minute),
             "channel": "app", "device_id": device}
    if invited_by:
        value["invited_by"] = invited_by
    return "registrations", value


def state(store: MemoryStore, member: str):
    return store.records[state_key("default", member)].state


def test_four_invited_registrations_on_one_device_three_earn_and_the_inviter_grows_three_times():
    events = [registration("host", 0, device="home")]
    events += [registration(f"m{i}", 1 + i, invited_by="host") for i in range(4)]
    outputs, store = run(events)
    earned = {o.value.member_id: o.value.delta for o in outputs if o.topic == "points-ledger"}
    assert earned == {"host": 5, "m0": 5, "m1": 5, "m2": 5}
    (flag,) = [o.value for o in outputs if o.topic == "risk-flags"]
    assert (flag.device_id, flag.member_id, flag.members) == ("farm", "m3", ["m0", "m1", "m2", "m3"])
    assert state(store, "host").growth == 3 * 50
    assert state(store, "m3").registration.allowed is False
    assert set(store.devices) == {b"default/home", b"default/farm"}


def test_an_invalid_device_report_is_dead_lettered():
    outputs = list(replay([{"topic": "device-activity", "key": "default/d1", "value": {"kind": "login"}}],
                          RuleBook.load(SHIPPED_RULES_DIR)))
    (letter,) = outputs
    assert letter.topic == "dead-letters" and letter.value.reason == "invalid_event"
    assert letter.value.source_topic == "device-activity"


def test_the_registration_survives_the_stored_value():
    _, store = run([registration("m0", 0)])
    again = state_of_json(state_json(state(store, "m0")))
    assert again.registration == state(store, "m0").registration and again.registration.allowed is True
