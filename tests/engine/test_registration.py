"""Registrations, verifications, invitations and malicious reviews on one member (engine/registration.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from config.topics import Topic
from engine.apply import apply_event
from models.commands import DeviceVerdict, InvitationAccepted
from models.devices import DeviceActivity
from models.events import Login, Registration, Review, Verification
from models.outputs import LedgerEntry, LedgerKind, Notification, NotificationKind
from models.state import MemberStatus
from tests.engine.fixtures import Member, make_rules

DAY = "2026-03-01T12:00:00+08:00"


def registration(member: str = "m1", *, event_id: str = "reg-1", device: str = "d1", invited_by: str | None = None,
                 at: str = DAY) -> Registration:
    return Registration(event_id=event_id, member_id=member, occurred_at=datetime.fromisoformat(at), channel="app",
                        device_id=device, invited_by=invited_by)


def verdict(allowed: bool, member: str = "m1", *, registration_event_id: str = "reg-1", command_id: str = "dv-1",
            at: str = DAY) -> DeviceVerdict:
    return DeviceVerdict(type="device_verdict", command_id=command_id, member_id=member,
                         occurred_at=datetime.fromisoformat(at), device_id="d1",
                         registration_event_id=registration_event_id, allowed=allowed,
                         registrations=1 if allowed else 4, limit=3)


def verification(kind: str, result: str = "verified", *, event_id: str | None = None, member: str = "m1",
                 at: str = DAY) -> Verification:
    return Verification(event_id=event_id or f"v-{kind}-{result}", member_id=member,
                        occurred_at=datetime.fromisoformat(at), verification_id=f"vid-{kind}", kind=kind,
                        result=result)


def _of(outputs, kind):
    return [o.value for o in outputs if isinstance(o.value, kind)]


def test_a_registration_earns_nothing_until_the_device_allows_it_and_reports_to_the_device(base_rules, member):
    m = member(base_rules)
    out = m.apply(registration(invited_by="inviter"))
    assert _of(out.outputs, LedgerEntry) == []
    (report,) = out.outputs
    assert (report.topic, report.key) == (Topic.DEVICE_ACTIVITY, "default/d1")
    assert isinstance(report.value, DeviceActivity)
    assert (report.value.kind, report.value.member_id, report.value.cause_event_id) == ("registration", "m1", "reg-1")
    assert m.state.registration.allowed is None

    out = m.apply(verdict(True))
    (entry,) = _of(out.outputs, LedgerEntry)
    assert (entry.kind, entry.rule, entry.delta) == (LedgerKind.EARN, "behaviour:registration", 5)
    (invite,) = [o for o in out.outputs if o.topic == Topic.MEMBER_COMMANDS]
    assert invite.key == "inviter" and isinstance(invite.value, InvitationAccepted)
    assert invite.value.invitee_id == "m1" and m.held == 5


def test_a_refused_registration_earns_nothing_and_invites_nobody(base_rules, member):
    m = member(base_rules)
    m.apply(registration(invited_by="inviter"))
    out = m.apply(verdict(False))
    assert out.outputs == [] and m.held == 0 and m.state.registration.allowed is False


def test_the_registration_reward_is_granted_once(base_rules, member):
    m = member(base_rules)
    m.apply(registration())
    m.apply(verdict(True))
    assert m.apply(verdict(True)).result == "duplicate"  # the same command again
    assert m.apply(verdict(True, command_id="dv-other")).outputs == []  # another verdict: decided already
    assert m.apply(registration(event_id="reg-2")).outputs == []  # a second sign-up: nothing
    assert m.apply(verdict(True, registration_event_id="reg-2", command_id="dv-2")).outputs == []
    assert m.held == 5 and [e.rule for e in m.ledger] == ["behaviour:registration"]


def test_a_verdict_for_no_registration_changes_nothing(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "10", DAY)
    assert m.apply(verdict(True)).outputs == [] and m.held == 10


def test_a_member_cannot_invite_itself(base_rules, member):
    m = member(base_rules)
    m.apply(registration(invited_by="m1"))
    out = m.apply(verdict(True))
    assert [o for o in out.outputs if o.topic == Topic.MEMBER_COMMANDS] == []


def test_the_registration_reward_respects_a_daily_cap():
    rules = make_rules({"points": {"earning": {"daily_caps": {"rules": {"behaviour:registration": 3}}}}})
    state = apply_event(None, registration(), rules).state
    out = apply_event(state, verdict(True), rules)
    assert [(e.rule, e.delta) for e in _of(out.outputs, LedgerEntry)] == [("behaviour:registration", 3)]


def test_an_invitation_gives_the_inviter_growth_every_time_without_a_cap(base_rules, member):
    inviter = member(base_rules, "inviter")
    for i in range(7):
        inviter.apply(InvitationAccepted(type="invitation_accepted", command_id=f"ia-{i}", member_id="inviter",
                                         occurred_at=datetime.fromisoformat(DAY), invitee_id=f"friend-{i}"))
    assert inviter.state.growth == 7 * 50 and inviter.held == 0


def test_invitation_growth_honours_a_configured_daily_limit():
    rules = make_rules({"growth": {"invite": {"value": 50, "daily_limit": 2}}})
    state = None
    for i in range(3):
        state = apply_event(state, InvitationAccepted(type="invitation_accepted", command_id=f"ia-{i}",
                                                      member_id="inviter", occurred_at=datetime.fromisoformat(DAY),
                                                      invitee_id=f"friend-{i}"), rules).state
    assert state.growth == 100


@pytest.mark.parametrize("kind", ["email", "phone", "real_name"])
def test_each_verification_kind_earns_its_own_rule_once(base_rules, member, kind):
    m = member(base_rules)
    out = m.apply(verification(kind))
    (entry,) = _of(out.outputs, LedgerEntry)
    assert (entry.rule, entry.delta) == (f"behaviour:verification_{kind}", 5)
    assert m.apply(verification(kind, event_id="again")).outputs == []
    assert m.held == 5


def test_all_three_verifications_earn_fifteen(base_rules, member):
    m = member(base_rules)
    for kind in ("email", "phone", "real_name"):
        m.apply(verification(kind))
    assert m.held == 15


def test_false_registration_information_deducts_ten_and_locks(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "30", DAY)
    out = m.apply(verification("real_name", "false_information"))
    (entry,) = _of(out.outputs, LedgerEntry)
    assert (entry.kind, entry.rule, entry.delta, entry.balance) == (LedgerKind.ADJUSTMENT, "risk:false_information",
                                                                    -10, 20)
    (note,) = _of(out.outputs, Notification)
    assert note.kind is NotificationKind.ACCOUNT_STATUS and note.data["status"] == "locked"
    assert m.state.status is MemberStatus.LOCKED
    assert "false" in m.state.status_reason and m.state.status_since == out.state.watermark  # why, and since when
    assert m.apply(verification("real_name", "false_information", event_id="again")).outputs == []
    assert m.held == 20


def test_false_information_with_too_few_points_takes_what_there_is(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "4", DAY)
    out = m.apply(verification("phone", "false_information"))
    (entry,) = _of(out.outputs, LedgerEntry)
    assert entry.delta == -4 and m.held == 0
    assert _of(out.outputs, Notification)[0].data["shortfall"] == 6


@pytest.mark.parametrize(("held", "locked"), [(10, False), (9, True)])
def test_false_information_locks_only_when_uncovered_if_so_configured(held, locked):
    rules = make_rules({"risk": {"false_information": {"deduct": 10, "lock": "if_uncovered"}}})
    m = Member(rules)
    m.pay("o1", str(held), DAY)
    m.apply(verification("email", "false_information"))
    assert m.held == 0 and (m.state.status is MemberStatus.LOCKED) is locked


def test_false_information_never_locks_when_so_configured():
    rules = make_rules({"risk": {"false_information": {"deduct": 10, "lock": "never"}}})
    state = apply_event(None, verification("email", "false_information"), rules).state
    assert state.status is MemberStatus.ACTIVE


def test_a_malicious_review_earns_nothing_and_costs_ten(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    out = m.apply(Review(event_id="rv1", member_id="m1", occurred_at=datetime.fromisoformat(DAY), review_id="r1",
                         moderation="malicious"))
    assert [(e.rule, e.delta) for e in _of(out.outputs, LedgerEntry)] == [("risk:malicious_review", -10)]
    assert m.state.growth == 25 and m.held == 15 and m.state.status is MemberStatus.ACTIVE


def test_a_malicious_review_locks_when_uncovered(base_rules, member):
    m = member(base_rules)
    m.apply(Review(event_id="rv1", member_id="m1", occurred_at=datetime.fromisoformat(DAY), review_id="r1",
                   moderation="malicious"))
    assert m.state.status is MemberStatus.LOCKED


def test_an_approved_review_earns_as_any_review(base_rules, member):
    m = member(base_rules)
    m.apply(Review(event_id="rv1", member_id="m1", occurred_at=datetime.fromisoformat(DAY), review_id="r1",
                   moderation="approved"))
    assert m.held == 5 and m.state.growth == 5


def test_logins_on_a_device_are_reported_once_a_day_per_device(base_rules, member):
    m = member(base_rules)
    reports = []
    for i, (at, device) in enumerate([(DAY, "d1"), ("2026-03-01T18:00:00+08:00", "d1"),
                                      ("2026-03-01T19:00:00+08:00", "d2"), ("2026-03-02T09:00:00+08:00", "d1")]):
        out = m.apply(Login(event_id=f"l{i}", member_id="m1", occurred_at=datetime.fromisoformat(at),
                            device_id=device))
        reports += [(o.key, o.value.occurred_at.day) for o in out.outputs if o.topic == Topic.DEVICE_ACTIVITY]
    assert reports == [("default/d1", 1), ("default/d2", 1), ("default/d1", 2)]


def test_logins_are_not_reported_when_no_rule_watches_them():
    rules = make_rules({"risk": {"logins_per_device": None}})
    out = apply_event(None, Login(event_id="l1", member_id="m1", occurred_at=datetime.fromisoformat(DAY),
                                  device_id="d1"), rules)
    assert out.outputs == []
