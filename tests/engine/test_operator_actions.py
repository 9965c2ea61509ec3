"""Operator commands (engine/operator_actions.py): credit, debit, benefit grants, tier overrides
and account actions -- their ledger entries, refusals, idempotency and status with reason and since."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from engine.apply import apply_event
from engine.downgrades import downgrade_due
from engine.due_moments import LookAhead
from engine.operator_actions import operator_command_id
from engine.outcome import Applied
from engine.views import member_summary
from models.commands import AccountAction, BenefitGrantCommand, PointsCredit, PointsDebit, TierOverride
from models.outputs import (
    BenefitGrant,
    DeadLetterReason,
    LedgerEntry,
    LedgerKind,
    Notification,
    NotificationKind,
    TierChange,
)
from models.state import MemberStatus
from tests.engine.fixtures import Member, make_rules
from tests.engine.test_evaluation_examples import evaluate, local, shipped_member

DAY = "2026-03-01T12:00:00+08:00"
LATER = "2026-03-02T12:00:00+08:00"
SIGNED = {"actor": "t1:alice", "reason": "goodwill for a late parcel"}


def command(kind, request_id: str, at: str = LATER, approver: str | None = None, **fields):
    return kind(command_id=operator_command_id("default", request_id), member_id="m1", occurred_at=at,
                request_id=request_id, approver=approver, **SIGNED, **fields)


def _of(outcome, kind):
    return [o.value for o in outcome.outputs if isinstance(o.value, kind)]


def test_a_credit_is_an_adjustment_naming_operator_approver_and_reason(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    out = m.apply(command(PointsCredit, "r1", type="points_credit", points=40, approver="t2:bob"))
    (entry,) = _of(out, LedgerEntry)
    assert (entry.kind, entry.rule, entry.delta, entry.balance) == (LedgerKind.ADJUSTMENT, "operator_credit", 40, 65)
    assert (entry.operator, entry.approver, entry.reason) == ("t1:alice", "t2:bob", SIGNED["reason"])
    assert entry.cause_event_id == operator_command_id("default", "r1")
    assert entry.expires_at is not None and m.held == 65
    assert m.state.lifetime_earned == 25  # an adjustment is not earning


def test_an_entry_without_an_operator_keeps_its_json_as_before(base_rules, member):
    m = member(base_rules)
    (entry,) = _of(m.pay("o1", "25", DAY), LedgerEntry)
    assert not {"operator", "approver", "reason"} & set(entry.model_dump(mode="json"))


def test_a_redelivered_command_changes_nothing(base_rules, member):
    m = member(base_rules)
    credit = command(PointsCredit, "r1", type="points_credit", points=40)
    m.apply(credit)
    again = m.apply(credit)
    assert again.result is Applied.DUPLICATE and again.outputs == [] and m.held == 40


def test_a_debit_takes_spendable_points(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    (entry,) = _of(m.apply(command(PointsDebit, "r1", type="points_debit", points=20)), LedgerEntry)
    assert (entry.rule, entry.delta, entry.balance, entry.operator) == ("operator_debit", -20, 5, "t1:alice")


def test_a_debit_that_would_overdraw_is_refused_and_changes_nothing(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    before = m.snapshot()
    out = m.apply(command(PointsDebit, "r1", type="points_debit", points=26))
    assert out.result is Applied.REJECTED and out.reason is DeadLetterReason.INSUFFICIENT_POINTS
    assert "26" in out.detail and "25 spendable" in out.detail
    assert out.outputs == [] and m.snapshot() == before


def test_a_debit_may_overdraw_into_debt_when_the_rules_let_it():
    m = Member(make_rules({"points": {"operator_debits_overdraw": True}}))
    m.pay("o1", "25", DAY)
    (entry,) = _of(m.apply(command(PointsDebit, "r1", type="points_debit", points=30)), LedgerEntry)
    assert (entry.delta, entry.balance) == (-30, -5) and m.state.debt == 5


def test_a_benefit_grant_names_who_and_why(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    out = m.apply(command(BenefitGrantCommand, "r1", type="benefit_grant", benefit="free_shipping",
                          value=Decimal("12.50"), quantity=2))
    (grant,) = _of(out, BenefitGrant)
    assert (grant.benefit, grant.value, grant.quantity, grant.tier) == ("free_shipping", Decimal("12.50"), 2, "NORMAL")
    assert grant.details == {"operator": "t1:alice", "approver": None, "reason": SIGNED["reason"]}


def test_lock_and_unlock_record_why_and_since_when(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    out = m.apply(command(AccountAction, "r1", type="account_lock"))
    (note,) = _of(out, Notification)
    assert note.data["status"] == "locked" and note.data["previous"] == "active"
    assert (m.state.status, m.state.status_reason, m.state.status_since) == (
        MemberStatus.LOCKED, SIGNED["reason"], datetime.fromisoformat(LATER))
    page = member_summary(m.state, m.rules, datetime.fromisoformat(LATER))
    assert (page["status"], page["status_reason"], page["status_since"]) == ("locked", SIGNED["reason"],
                                                                             datetime.fromisoformat(LATER).isoformat())
    m.apply(command(AccountAction, "r2", type="account_unlock", at="2026-03-03T09:00:00+08:00"))
    assert (m.state.status, m.state.status_since) == (MemberStatus.ACTIVE,
                                                      datetime.fromisoformat("2026-03-03T09:00:00+08:00"))


def test_unlock_is_the_appeal_of_a_complaint_lock(base_rules, member):
    m = member(base_rules)
    m.complain("malicious", DAY)
    assert m.state.status is MemberStatus.LOCKED and m.state.status_reason.startswith("complaint c-")
    m.apply(command(AccountAction, "r1", type="account_unlock"))
    assert m.state.status is MemberStatus.ACTIVE and m.state.status_reason == SIGNED["reason"]


@pytest.mark.parametrize(("status", "action"), [("active", "account_unlock"), ("active", "account_unfreeze"),
                                                ("locked", "account_lock"), ("frozen", "account_freeze")])
def test_an_account_action_that_does_not_apply_is_refused(base_rules, member, status, action):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    m.state.status = MemberStatus(status)
    out = m.apply(command(AccountAction, "r1", type=action))
    assert out.result is Applied.REJECTED and out.reason is DeadLetterReason.INVALID_COMMAND
    assert m.state.status is MemberStatus(status)


def test_freeze_and_unfreeze(base_rules, member):
    m = member(base_rules)
    m.pay("o1", "25", DAY)
    m.apply(command(AccountAction, "r1", type="account_freeze"))
    assert m.state.status is MemberStatus.FROZEN
    m.apply(command(AccountAction, "r2", type="account_unfreeze", at="2026-03-03T12:00:00+08:00"))
    assert m.state.status is MemberStatus.ACTIVE


def test_a_tier_override_holds_the_tier_until_its_end_then_downgrades_resume():
    m = shipped_member()
    m.pay("o1", 500, "2026-03-02T10:00:00+08:00")  # GOLD, short of it from 2026-04-01 on
    out = m.apply(command(TierOverride, "r1", type="tier_override", tier="DIAMOND", until="2026-05-01T00:00:00+08:00",
                          at="2026-03-10T10:00:00+08:00"))
    (change,) = _of(out, TierChange)
    assert (change.from_tier, change.to_tier, change.direction, change.reason) == ("GOLD", "DIAMOND", "up",
                                                                                   "operator_override")
    (note,) = _of(out, Notification)
    assert note.kind is NotificationKind.TIER_OVERRIDE and note.data["until"] == "2026-05-01T00:00:00+08:00"
    assert downgrade_due(LookAhead(m.state, m.rules, local("2026-04-01"))) == local("2026-05-01")
    for day in ("2026-04-01", "2026-04-15", "2026-04-30"):
        changed, values = evaluate(m, day)
        assert not [v for v in values if isinstance(v, TierChange)
                    or isinstance(v, Notification) and v.kind is NotificationKind.DOWNGRADE_WARNING]
    assert m.tier == "DIAMOND" and m.state.downgrade_at is None
    changed, values = evaluate(m, "2026-05-01")  # the override is over: short, so a downgrade is scheduled
    assert changed and m.state.downgrade_at is not None


def test_an_override_to_the_tier_held_still_holds_it_and_says_so():
    m = shipped_member()
    m.pay("o1", 500, "2026-03-02T10:00:00+08:00")  # GOLD
    out = m.apply(command(TierOverride, "r1", type="tier_override", tier="GOLD", until="2026-05-01T00:00:00+08:00",
                          at="2026-03-10T10:00:00+08:00"))
    assert _of(out, TierChange) == [] and [n.kind for n in _of(out, Notification)] == [NotificationKind.TIER_OVERRIDE]
    _, values = evaluate(m, "2026-04-01")  # short of GOLD, but held
    assert m.state.downgrade_at is None and not [v for v in values if isinstance(v, TierChange) or isinstance(
        v, Notification) and v.kind is NotificationKind.DOWNGRADE_WARNING]


@pytest.mark.parametrize(("tier", "until", "why"), [("PLATINUM", "2026-05-01T00:00:00+08:00", "unknown tier"),
                                                    ("GOLD", "2026-03-01T00:00:00+08:00", "before it starts")])
def test_a_tier_override_to_an_unknown_tier_or_into_the_past_is_refused(tier, until, why):
    m = shipped_member()
    m.pay("o1", 10, DAY)
    out = m.apply(command(TierOverride, "r1", type="tier_override", tier=tier, until=until))
    assert out.result is Applied.REJECTED and out.reason is DeadLetterReason.INVALID_COMMAND and why in out.detail


def test_a_command_for_a_new_member_starts_its_state(base_rules):
    out = apply_event(None, command(PointsCredit, "r1", type="points_credit", points=5), base_rules)
    assert out.result is Applied.APPLIED and _of(out, LedgerEntry)[0].balance == 5
