"""The device actor's rules (engine/devices.py): registrations and logins per device, boundaries included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from config.topics import Topic
from engine.devices import apply_activity
from models.commands import DeviceVerdict
from models.devices import DEVICE_JSON_DECODER, DEVICE_JSON_ENCODER, DeviceActivity, DeviceState, RiskFlag
from tests.engine.fixtures import make_rules

T0 = datetime.fromisoformat("2026-03-01T12:00:00+08:00")
RULES = make_rules()


def report(member: str, at: datetime = T0, kind: str = "registration", device: str = "d1") -> DeviceActivity:
    return DeviceActivity(activity_id=f"da-{member}-{kind}-{at.isoformat()}", kind=kind, device_id=device,
                          member_id=member, occurred_at=at, cause_event_id=f"ev-{member}-{kind}")


class Device:
    """One device's state through the rules, with every output kept."""

    def __init__(self, rules=RULES) -> None:
        self.rules = rules
        self.state: DeviceState | None = None
        self.outputs = []

    def see(self, activity: DeviceActivity):
        self.state, outputs = apply_activity(self.state, activity, self.rules)
        # the stored value round-trips
        self.state = DEVICE_JSON_DECODER.decode(DEVICE_JSON_ENCODER.encode(self.state))
        self.outputs += outputs
        return outputs

    def verdicts(self) -> dict[str, bool]:
        return {o.value.member_id: o.value.allowed for o in self.outputs if isinstance(o.value, DeviceVerdict)}

    def flags(self) -> list[RiskFlag]:
        return [o.value for o in self.outputs if isinstance(o.value, RiskFlag)]


def test_exactly_three_registrations_are_allowed_and_the_fourth_is_refused_and_flagged():
    d = Device()
    for i, member in enumerate(["a", "b", "c"]):
        (out,) = d.see(report(member, T0 + timedelta(hours=i)))
        assert (out.topic, out.key) == (Topic.MEMBER_COMMANDS, member)
        assert out.value.allowed and out.value.registrations == i + 1 and out.value.limit == 3
    verdict, flag = d.see(report("d", T0 + timedelta(days=29)))
    assert verdict.value.allowed is False and verdict.value.registrations == 4
    assert verdict.value.registration_event_id == "ev-d-registration"
    assert (flag.topic, flag.key) == (Topic.RISK_FLAGS, "default/d1")
    assert flag.value.rule == "registrations_per_device" and flag.value.action == "no_registration_rewards"
    assert flag.value.members == ["a", "b", "c", "d"] and flag.value.member_id == "d"
    assert (flag.value.limit, flag.value.window) == (3, timedelta(days=30))


@pytest.mark.parametrize(("limit", "allowed"), [(1, 1), (2, 2), (5, 5)])
def test_the_limit_is_the_tenants(limit, allowed):
    d = Device(make_rules({"risk": {"registrations_per_device": {"max_members": limit, "window": "P30D"}}}))
    for i in range(limit + 2):
        d.see(report(f"m{i}", T0 + timedelta(minutes=i)))
    assert sum(d.verdicts().values()) == allowed and len(d.flags()) == 2


def test_a_registration_a_full_window_after_the_others_is_not_counted_with_them():
    d = Device()
    for i, member in enumerate(["a", "b", "c"]):
        d.see(report(member, T0 + timedelta(seconds=i)))
    d.see(report("d", T0 + timedelta(days=30, seconds=2)))  # exactly 30 days after c, later than a and b
    d.see(report("e", T0 + timedelta(days=30, seconds=1)))  # 30 days minus a second after c: c counts
    assert d.verdicts() == {"a": True, "b": True, "c": True, "d": True, "e": True}
    d.see(report("f", T0 + timedelta(days=30, seconds=2)))  # c is 30 days back; d, e within: 3rd
    d.see(report("g", T0 + timedelta(days=30, seconds=3)))
    assert d.verdicts()["f"] is True and d.verdicts()["g"] is False


def test_refused_registrations_count_too():
    d = Device()
    for member in ["a", "b", "c", "d"]:
        d.see(report(member))
    (verdict, flag) = d.see(report("e", T0 + timedelta(days=1)))
    assert verdict.value.registrations == 5 and flag.value.members == ["a", "b", "c", "d", "e"]


def test_a_late_registration_counts_those_after_it_too():
    d = Device()
    for i, member in enumerate(["b", "c", "d"]):
        d.see(report(member, T0 + timedelta(days=1 + i)))
    d.see(report("a", T0))  # earlier in event time, received last: the fourth on the device
    assert d.verdicts()["a"] is False


def test_a_redelivered_registration_sends_nothing_and_changes_nothing():
    d = Device()
    for member in ["a", "b", "c", "d"]:
        d.see(report(member))
    before = DEVICE_JSON_ENCODER.encode(d.state)
    assert d.see(report("b")) == [] and d.see(report("d")) == []
    assert DEVICE_JSON_ENCODER.encode(d.state) == before


def test_verdict_and_flag_ids_are_deterministic():
    first, second = Device(), Device()
    for d in (first, second):
        for member in ["a", "b", "c", "d"]:
            d.see(report(member))
    assert [o.value for o in first.outputs] == [o.value for o in second.outputs]
    assert len({o.value.command_id for o in first.outputs if isinstance(o.value, DeviceVerdict)}) == 4


def test_devices_are_counted_apart():
    d1, d2 = Device(), Device()
    for i in range(3):
        d1.see(report(f"a{i}", device="d1"))
        d2.see(report(f"b{i}", device="d2"))
    assert all(d1.verdicts().values()) and all(d2.verdicts().values())


def test_old_registrations_are_forgotten_beyond_two_windows():
    d = Device()
    d.see(report("old", T0))
    d.see(report("new", T0 + timedelta(days=61)))
    assert set(d.state.registrations) == {"new"}


# -- logins -------------------------------------------------------------------------


def login(member: str, at: datetime = T0) -> DeviceActivity:
    return report(member, at, kind="login")


def test_five_members_logging_in_on_one_device_within_a_day_are_fine_and_the_sixth_is_flagged():
    d = Device()
    for i in range(5):
        assert d.see(login(f"m{i}", T0 + timedelta(hours=i))) == []
    (flag,) = d.see(login("m5", T0 + timedelta(hours=5)))
    assert flag.value.rule == "logins_per_device" and flag.value.action == "flag_only"
    assert flag.value.members == [f"m{i}" for i in range(6)] and flag.value.member_id == "m5"
    assert d.see(login("m5", T0 + timedelta(hours=6))) == []  # each member tips it once
    assert len(d.see(login("m6", T0 + timedelta(hours=7)))) == 1
    assert not [o for o in d.outputs if isinstance(o.value, DeviceVerdict)]  # logins are never judged


def test_one_member_logging_in_often_is_one_member():
    d = Device()
    for i in range(50):
        d.see(login("m0", T0 + timedelta(minutes=i)))
    assert d.flags() == []


def test_logins_a_day_apart_are_not_counted_together():
    d = Device()
    for i in range(6):
        d.see(login(f"m{i}", T0 + timedelta(days=i)))
    assert d.flags() == []


def test_logins_are_not_watched_without_a_rule():
    d = Device(make_rules({"risk": {"logins_per_device": None}}))
    for i in range(10):
        d.see(login(f"m{i}"))
    assert d.flags() == []


def test_registrations_and_logins_are_counted_apart():
    d = Device()
    for i in range(6):
        d.see(login(f"m{i}", T0 + timedelta(days=i)))
    for member in ["a", "b", "c"]:
        d.see(report(member))
    assert all(d.verdicts().values())
