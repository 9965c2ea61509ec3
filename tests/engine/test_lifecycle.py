"""The inactivity freeze (engine/lifecycle.py): no login for ``risk.inactivity.months`` calendar
months -> frozen at the periodic evaluation, warned ``warn_days_before`` ahead once per freeze
date; a login first moves the date; the unfreeze is the appeal; frozen accounts neither spend nor
receive gifts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from engine.due_moments import LookAhead
from engine.evaluation import evaluate_member, evaluate_record, evaluation_id
from engine.event_time import Arrival, apply_in_time
from engine.ids import derive_id
from engine.intake import parse_event
from engine.lifecycle import inactivity_due
from engine.operator_actions import operator_command_id
from engine.outcome import Applied
from engine.views import member_summary
from models.commands import AccountAction, GiftAccepted, GiftOffered
from models.events import Registration
from models.outputs import LedgerKind, Notification, NotificationKind
from models.redemption_state import GiftStatus
from models.redemptions import RedemptionResult, RejectReason
from models.state import MemberStatus
from tests.engine.fixtures import Member, make_rules
from tests.engine.redemption_fixtures import Hub, request, result_of

LOGIN = "2026-03-01T09:00:00+08:00"
FREEZE = datetime.fromisoformat("2026-06-01T09:00:00+08:00")  # three calendar months after the login
WARN = FREEZE - timedelta(days=7)
TICK = timedelta(microseconds=1)


LIFECYCLE = {NotificationKind.ACCOUNT_STATUS, NotificationKind.INACTIVITY_WARNING}


def evaluate(m: Member, as_of: datetime) -> tuple[bool, list[Notification]]:
    """(the status or the warning changed, their notifications); the other periodic work (the
    churn nudge) is left out."""
    before = (m.state.status, m.state.inactivity_warned_for)
    _, outputs = evaluate_member(m.state, m.rules, as_of, evaluation_id(None, as_of))
    notes = [o.value for o in outputs if isinstance(o.value, Notification) and o.value.kind in LIFECYCLE]
    return (m.state.status, m.state.inactivity_warned_for) != before, notes


def due_of(state, rules, since: datetime) -> datetime | None:
    return inactivity_due(LookAhead(state, rules, since))


def kinds(notes: list[Notification]) -> list[str]:
    return [n.kind.value for n in notes]


def logged_in(rules, at: str = LOGIN, member_id: str = "m1") -> Member:
    m = Member(rules, member_id)
    m.pay("o1", "100", at)  # 100 points to spend
    m.login(at)
    return m


def unfreeze(m: Member, at: datetime, request_id: str = "appeal-1"):
    return m.apply(AccountAction(
        type="account_unfreeze", command_id=operator_command_id("default", request_id), member_id=m.member_id,
        occurred_at=at, request_id=request_id, actor="t1:alice", reason="appeal: travelling abroad"))


def test_frozen_exactly_three_calendar_months_after_the_last_login(base_rules):
    m = logged_in(base_rules)
    evaluate(m, WARN)  # the warning, out of the way
    assert evaluate(m, FREEZE - TICK) == (False, [])
    assert m.state.status is MemberStatus.ACTIVE
    changed, notes = evaluate(m, FREEZE)
    assert changed and kinds(notes) == ["account_status"]
    (note,) = notes
    assert note.data["status"] == "frozen" and note.data["previous"] == "active"
    assert note.data["rule"] == "inactivity" and note.data["freeze_date"] == FREEZE.isoformat()
    assert (m.state.status, m.state.status_since) == (MemberStatus.FROZEN, FREEZE)
    reason = m.state.status_reason
    assert reason.startswith("no login for 3 months since 2026-03-01") and "unfreeze is the appeal" in reason
    assert note.message == f"account frozen: {reason}" and note.data["reason"] == reason  # the read model's row
    page = member_summary(m.state, m.rules, FREEZE)  # the member lookup says why
    assert (page["status"], page["status_reason"]) == ("frozen", reason)


def test_one_day_more_is_frozen_too_and_evaluating_again_changes_nothing(base_rules):
    m = logged_in(base_rules)
    later = FREEZE + timedelta(days=1)
    changed, notes = evaluate(m, later)
    assert changed and kinds(notes) == ["account_status"]  # past the warning's moment: frozen, not warned
    assert (m.state.status, m.state.status_since) == (MemberStatus.FROZEN, later)
    before = m.snapshot()
    assert evaluate_member(m.state, m.rules, later, evaluation_id(None, later)) == (False, [])
    assert m.snapshot() == before
    assert evaluate(m, later + timedelta(days=30)) == (False, [])


def test_the_freeze_is_the_same_whoever_evaluates_first():
    """Two evaluations of the same moment (a redelivered command) freeze once, with the same ids."""
    rules = make_rules()
    a, b = logged_in(rules), logged_in(rules)
    out_a = evaluate_member(a.state, rules, FREEZE, "eval-x")[1]
    out_b = evaluate_member(b.state, rules, FREEZE, "eval-x")[1]
    assert out_a == out_b and a.snapshot() == b.snapshot()
    assert evaluate_member(a.state, rules, FREEZE, "eval-x") == (False, [])


def test_one_warning_warn_days_before_the_freeze_date_with_an_id_of_that_date(base_rules):
    m = logged_in(base_rules)
    assert evaluate(m, WARN - TICK) == (False, [])
    changed, notes = evaluate(m, WARN)
    assert changed
    (warning,) = notes
    assert warning.kind is NotificationKind.INACTIVITY_WARNING
    assert warning.notification_id == derive_id("nt", "default", "m1", "inactivity_warning", FREEZE.isoformat())
    assert warning.message == "no login since 2026-03-01: log in before 2026-06-01 or the account is frozen"
    assert warning.data == {"last_seen_at": datetime.fromisoformat(LOGIN).isoformat(),
                            "freeze_date": FREEZE.isoformat()}
    assert m.state.inactivity_warned_for == FREEZE
    for day in range(1, 7):  # once per freeze date, whatever evaluates in between
        assert evaluate(m, WARN + timedelta(days=day)) == (False, [])


def test_a_login_before_the_freeze_date_calls_it_off_and_starts_the_clock_again(base_rules):
    m = logged_in(base_rules)
    evaluate(m, WARN)
    m.login("2026-05-31T20:00:00+08:00")  # the day before
    assert evaluate(m, FREEZE) == (False, [])
    assert evaluate(m, FREEZE + timedelta(days=60)) == (False, [])
    assert m.state.status is MemberStatus.ACTIVE
    again = datetime.fromisoformat("2026-08-31T20:00:00+08:00")
    changed, notes = evaluate(m, again - timedelta(days=7))  # the new date has its own warning
    assert changed and notes[0].data["freeze_date"] == again.isoformat()
    assert evaluate(m, again)[1][0].data["status"] == "frozen"


def test_the_months_are_calendar_months_clamped_to_the_months_end(base_rules):
    m = logged_in(base_rules, "2026-11-30T10:00:00+08:00")
    due = datetime.fromisoformat("2027-02-28T10:00:00+08:00")
    assert due_of(m.state, m.rules, due - timedelta(days=30)) == due - timedelta(days=7)  # its warning
    assert kinds(evaluate(m, due - TICK)[1]) == ["inactivity_warning"]  # the first evaluation within the lead
    assert kinds(evaluate(m, due)[1]) == ["account_status"]


def test_the_clock_starts_at_registration_and_no_clock_means_never(base_rules):
    registered = Member(base_rules, "m2")
    registered.apply(Registration(event_id="reg", member_id="m2", occurred_at="2026-03-01T09:00:00+08:00",
                                  channel="app", device_id="d1"))
    assert due_of(registered.state, base_rules, FREEZE - timedelta(days=30)) == WARN
    assert kinds(evaluate(registered, FREEZE)[1]) == ["account_status"]
    shopper = Member(base_rules, "m3")
    shopper.pay("o1", "100", LOGIN)  # no login, no registration: no clock
    assert evaluate(shopper, FREEZE + timedelta(days=400)) == (False, [])
    assert due_of(shopper.state, base_rules, FREEZE) is None


def test_per_tenant_span_and_lead_and_none():
    month = make_rules({"risk": {"inactivity": {"months": 1, "warn_days_before": 0}}})
    m = logged_in(month)
    due = datetime.fromisoformat("2026-04-01T09:00:00+08:00")
    assert evaluate(m, due - TICK) == (False, [])  # no warning with a lead of 0
    assert kinds(evaluate(m, due)[1]) == ["account_status"]
    assert "no login for 1 months" in m.state.status_reason
    never = logged_in(make_rules({"risk": {"inactivity": None}}))
    assert evaluate(never, FREEZE + timedelta(days=400)) == (False, [])


@pytest.mark.parametrize("status", [MemberStatus.LOCKED, MemberStatus.FROZEN])
def test_a_locked_or_frozen_account_is_left_as_it_is(base_rules, status):
    m = logged_in(base_rules)
    m.state.status = status
    assert evaluate(m, FREEZE + timedelta(days=1)) == (False, [])
    assert m.state.status is status


def test_a_frozen_member_cannot_spend_and_the_unfreeze_restores_it(base_rules):
    m = logged_in(base_rules)
    evaluate(m, FREEZE)
    asked = m.apply(request("coupon", "c1", FREEZE + timedelta(days=1), denomination="10"))
    assert result_of(asked).reason is RejectReason.ACCOUNT_FROZEN and m.held == 100
    appeal = FREEZE + timedelta(days=2)
    out = unfreeze(m, appeal)
    (note,) = [o.value for o in out.outputs if isinstance(o.value, Notification)]
    assert (note.data["status"], note.data["previous"]) == ("active", "frozen")
    assert (m.state.status, m.state.status_reason) == (MemberStatus.ACTIVE, "appeal: travelling abroad")
    assert unfreeze(m, appeal + TICK, "appeal-2").reason is not None  # not frozen any more: refused
    accepted = result_of(m.apply(request("coupon", "c2", appeal + TICK, denomination="10")))
    assert accepted.reason is None and accepted.points_spent == 100
    # the clock runs from the unfreeze: not frozen again at the next evaluation, but 3 months later
    assert evaluate(m, appeal + timedelta(days=1)) == (False, [])
    assert due_of(m.state, base_rules, appeal) == datetime.fromisoformat("2026-08-27T09:00:00+08:00")
    assert kinds(evaluate(m, datetime.fromisoformat("2026-09-03T09:00:00+08:00"))[1]) == ["account_status"]


def test_a_frozen_member_receives_no_gifts_the_points_go_back(base_rules):
    hub = Hub(base_rules, "A", "B")
    hub["A"].pay("fund", "500", LOGIN)
    hub["B"].login(LOGIN)
    evaluate(hub["B"], FREEZE)
    assert hub["B"].state.status is MemberStatus.FROZEN
    sent = hub.ask("gift", "g1", "2026-06-02T10:00:00+08:00", "A", to_member_id="B", points=200)
    assert sent.reason is None and hub["A"].held == 300
    hub.deliver(twice=True)  # the offer is refused at once; redelivered, nothing more happens
    gift_id = sent.granted.gift_id
    assert hub["B"].state.redemption.gifts_received[gift_id].status is GiftStatus.REJECTED
    assert hub["A"].state.redemption.gifts_sent[gift_id].status is GiftStatus.REJECTED
    assert hub["A"].held == 500 and hub["B"].held == 0
    assert not [n for n in hub["B"].of(Notification) if n.kind is NotificationKind.GIFT_RECEIVED]


def test_an_offer_made_before_the_freeze_cannot_be_accepted_after_it(base_rules):
    hub = Hub(base_rules, "A", "B")
    hub["A"].pay("fund", "500", LOGIN)
    hub["B"].login(LOGIN)
    gift_id = hub.ask("gift", "g1", "2026-05-31T10:00:00+08:00", "A", to_member_id="B", points=200).granted.gift_id
    hub.deliver()
    evaluate(hub["B"], FREEZE)
    refused = hub.ask("gift_respond", "b1", "2026-06-01T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
    assert refused.reason is RejectReason.ACCOUNT_FROZEN
    declined = hub.ask("gift_respond", "b2", "2026-06-01T10:01:00+08:00", "B", gift_id=gift_id, accept=False)
    assert declined.reason is None
    hub.deliver()
    assert hub["A"].held == 500 and hub["B"].held == 0


# -- a login from before the freeze date that arrives after the freezing evaluation -----------


def test_a_late_login_from_before_the_freeze_date_lifts_the_freeze(base_rules):
    m = logged_in(base_rules)
    evaluate(m, FREEZE + timedelta(days=1))
    assert m.state.inactivity_frozen_for == FREEZE
    late = m.login("2026-05-31T20:00:00+08:00")  # logged in the evening before; the event came after
    (note,) = [o.value for o in late.outputs if isinstance(o.value, Notification)]
    assert (note.data["status"], note.data["previous"], note.data["rule"]) == ("active", "frozen", "inactivity")
    assert m.state.status is MemberStatus.ACTIVE and "the inactivity freeze is lifted" in m.state.status_reason
    assert note.data["reason"] == m.state.status_reason
    assert m.state.inactivity_frozen_for is UNSET
    assert due_of(m.state, base_rules, FREEZE) == datetime.fromisoformat("2026-08-24T20:00:00+08:00")


def test_a_login_at_or_after_the_freeze_date_does_not_lift_it_nor_does_one_after_an_operators_freeze(base_rules):
    m = logged_in(base_rules)
    evaluate(m, FREEZE)
    m.login(FREEZE)  # exactly the freeze date: three months without a login had passed
    assert m.state.status is MemberStatus.FROZEN
    other = logged_in(base_rules, member_id="m2")
    other.apply(AccountAction(
        type="account_freeze", command_id=operator_command_id("default", "f1"), member_id="m2",
        occurred_at="2026-04-01T09:00:00+08:00", request_id="f1", actor="t1:alice", reason="fraud check"))
    other.login("2026-03-20T09:00:00+08:00")  # late, but an operator's freeze is not the inactivity rule's
    assert (other.state.status, other.state.status_reason) == (MemberStatus.FROZEN, "fraud check")


def test_through_event_time_the_late_login_is_applied_after_the_evaluation_and_lifts_it():
    """The worker's path: the evaluation that acts fixes the member's history; the older login
    arriving after it is applied after it (engine/event_time.py), and lifts the freeze."""
    rules = make_rules()
    record = None
    for topic, value in [("orders", {"event_id": "o1", "member_id": "m1", "occurred_at": LOGIN,
                                     "type": "order_paid", "order_id": "o1", "amount": "100"}),
                         ("logins", {"event_id": "l1", "member_id": "m1", "occurred_at": LOGIN})]:
        raw = json.dumps(value).encode()
        record, _ = apply_in_time(record, parse_event(topic, raw, 65536), Arrival(topic, raw), rules)
    evaluate_record(record, rules, FREEZE, evaluation_id(None, FREEZE))
    assert record.state.status is MemberStatus.FROZEN
    raw = json.dumps({"event_id": "l2", "member_id": "m1", "occurred_at": "2026-05-30T09:00:00+08:00"}).encode()
    record, outcome = apply_in_time(record, parse_event("logins", raw, 65536), Arrival("logins", raw), rules)
    assert outcome.result is Applied.APPLIED and record.state.status is MemberStatus.ACTIVE
    again, repeated = apply_in_time(record, parse_event("logins", raw, 65536), Arrival("logins", raw), rules)
    assert repeated.result is Applied.DUPLICATE and repeated.outputs == []


# -- property: a frozen or locked member never spends nor receives a gift ---------------------

ACTIONS = st.one_of(
    st.tuples(st.just("coupon"), st.sampled_from(["10", "20", "50", "100"])),
    st.tuples(st.just("merchandise"), st.sampled_from(["mug", "tote"])),
    st.tuples(st.just("points_cash"), st.integers(10, 3000)),
    st.tuples(st.just("gift"), st.integers(1, 3000)),
    st.tuples(st.just("offer"), st.integers(1, 3000)),  # another member offers a gift
    st.tuples(st.just("accept"), st.integers(0, 5)),  # ... and this one tries to accept it
    st.tuples(st.just("login"), st.integers(0, 60)),  # days after the freeze date: too late to lift it
    st.tuples(st.just("order"), st.integers(1, 2000)),
    st.tuples(st.just("evaluate"), st.integers(0, 120)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(ACTIONS, max_size=12), locked=st.booleans())
def test_no_sequence_of_events_lets_a_frozen_or_locked_member_spend_or_receive_a_gift(base_rules, actions, locked):
    m = logged_in(base_rules)
    m.pay("rich", "20000", LOGIN)
    evaluate(m, FREEZE)
    if locked:
        m.state.status = MemberStatus.LOCKED
    blocked = m.state.status
    offers: list[str] = []
    for i, (kind, arg) in enumerate(actions):
        at = FREEZE + timedelta(hours=i + 1)
        if kind in ("coupon", "merchandise", "points_cash", "gift"):
            field = {"coupon": {"denomination": arg}, "merchandise": {"item_id": arg},
                     "points_cash": {"order_id": f"po{i}", "order_amount": str(arg)},
                     "gift": {"to_member_id": "m2", "points": arg}}[kind]
            m.apply(request(kind, f"r{i}", at, **field))
        elif kind == "offer":
            gift_id = f"gift-{i}"
            offers.append(gift_id)
            m.apply(GiftOffered(type="gift_offered", command_id=f"mc-{i}", member_id="m1", occurred_at=at,
                                gift_id=gift_id, from_member_id="m2", points=arg,
                                respond_by=at + timedelta(days=7)))
        elif kind == "accept" and offers:
            m.apply(request("gift_respond", f"r{i}", at, gift_id=offers[arg % len(offers)], accept=True))
        elif kind == "login":
            m.login(FREEZE + timedelta(days=arg, hours=i))
        elif kind == "order":
            m.pay(f"o{i}", arg, at)
        elif kind == "evaluate":
            evaluate(m, FREEZE + timedelta(days=arg))
        assert m.state.status is blocked
    spent = [e for e in m.ledger if e.kind is LedgerKind.SPEND]
    received = [e for e in m.ledger if e.rule == "gift"]
    results = [o.value for o in m.outputs if isinstance(o.value, RedemptionResult)]
    assert spent == [] and received == [] and all(r.points_spent == 0 for r in results)
    assert all(r.granted is None or r.kind == "gift_respond" for r in results)
    assert not [c for o in m.outputs if isinstance(c := o.value, GiftAccepted)]
