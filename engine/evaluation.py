"""The periodic evaluation of one member as of a period boundary (event time).

Pure: (state, rules, as_of) -> (state, outputs).  Every effect remembers its
own period in the state, so evaluating the same member for the same boundary
twice -- after a crash, or a repeated command -- changes nothing the second
time.  Features add their periodic work to ``EVALUATION_HOOKS``, each with the
moment it next falls due, so a worker can pass over members with nothing due
without reading them (``next_due``; stored with the state by ``tables.members``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from config.rules import RuleBook, TenantRules
from engine.badges import badges_due, evaluate_badges
from engine.benefit_usage import instances_due, settle_instances
from engine.benefits import grant_scheduled, scheduled_due
from engine.downgrades import downgrade_due, evaluate_downgrade
from engine.due_moments import LookAhead
from engine.event_time import fix_history, fold
from engine.experiments import arm_rules, next_boundary
from engine.experiments import record as record_exposure
from engine.expiry import expire_points, expiry_due, warn_expiry, warning_due
from engine.ids import derive_id
from engine.lifecycle import freeze_inactive, inactivity_due
from engine.memberships import expire_memberships, memberships_due
from engine.nudges import nudges_due, send_nudges
from engine.outcome import Emitted
from engine.redemptions.coupons import coupon_reminders, reminders_due
from engine.redemptions.gifts import expire_gifts, gifts_due
from engine.step import Step
from models.journal import MemberRecord
from models.state import MemberState

Hook = Callable[[Step, datetime], bool]
Due = Callable[[LookAhead], datetime | None]


class Periodic(NamedTuple):
    """A periodic rule: ``run(step, as_of) -> changed?``, and ``due(ahead)``, the
    earliest ``as_of >= ahead.since`` at which ``run`` could change the state or
    emit anything (None: never, until an event changes the state; ``engine/due.py``).
    ``due`` may answer early, never late: ``tests/unit/test_evaluation_due.py``
    proves that evaluating any member before its due moment does nothing."""

    run: Hook
    due: Due


#: Run in order for every member that is due.
EVALUATION_HOOKS: list[Periodic] = [
    Periodic(expire_gifts, gifts_due),  # unanswered gifts go back to the giver first (engine/redemptions/gifts.py)
    Periodic(freeze_inactive, inactivity_due),  # no login for months: warned, then frozen (engine/lifecycle.py)
    Periodic(expire_points, expiry_due),
    Periodic(warn_expiry, warning_due),
    Periodic(evaluate_downgrade, downgrade_due),
    Periodic(grant_scheduled, scheduled_due),
    Periodic(settle_instances, instances_due),  # benefit instances expire, get reminders (engine/benefit_usage.py)
    Periodic(coupon_reminders, reminders_due),  # redeemed coupons nearing expiry (engine/redemptions/coupons.py)
    Periodic(send_nudges, nudges_due),  # with a protected tier's retention offer granted (engine/nudges.py)
    Periodic(evaluate_badges, badges_due),  # badge downgrades, monthly rights (engine/badges.py)
    Periodic(expire_memberships, memberships_due),  # plans' renewal reminders, expiry (engine/memberships.py)
]


#: the order ``next_due`` asks the due moments in: the answer is the same in any order (the earliest,
#: or ``since`` as soon as one is due at once), so the costliest -- a freeze date, a qualification and
#: the moments its windows change -- come last, and a member due at once is found due sooner
_COSTLY = (badges_due, inactivity_due, nudges_due, downgrade_due)
DUE_ORDER: tuple[Due, ...] = (*(h.due for h in EVALUATION_HOOKS if h.due not in _COSTLY),
                              *(due for due in _COSTLY if any(h.due is due for h in EVALUATION_HOOKS)))


def evaluation_id(tenant_selector: str | None, as_of: datetime) -> str:
    """The cause id every output of one evaluation carries."""
    return derive_id("eval", tenant_selector or "*", as_of.isoformat())


def rules_for(tenant_id: str, selector: str | None, rulebook: RuleBook) -> TenantRules | None:
    """The rules to evaluate a member of ``tenant_id`` with, or None when the
    evaluation (for one tenant, or for every default-rules tenant) skips it."""
    if selector is not None:
        return rulebook.for_tenant(tenant_id) if tenant_id == selector else None
    return None if tenant_id in rulebook.tenants else rulebook.default


def evaluate_member(
    state: MemberState, rules: TenantRules, as_of: datetime, cause_id: str
) -> tuple[bool, list[Emitted]]:
    """Apply every periodic rule (a live experiment's arm by its own rules); returns (state changed, outputs)."""
    step = Step(state, arm_rules(state, rules, as_of), cause_id, as_of)
    changed = False
    for run, _ in EVALUATION_HOOKS:
        changed = run(step, as_of) or changed
    if step.outputs:
        record_exposure(step, None)
    return changed or bool(step.outputs), step.outputs


def evaluate_record(record: MemberRecord, rules: TenantRules, as_of: datetime, cause_id: str) -> tuple[
        bool, list[Emitted]]:
    """``evaluate_member`` on a stored member: an evaluation that acts fixes the member's history
    up to it (``engine.event_time``); one that does not folds what no late event can precede.
    Returns (the stored value changed, outputs)."""
    changed, outputs = evaluate_member(record.state, rules, as_of, cause_id)
    if changed:
        fix_history(record)
        return True, outputs
    entries = len(record.journal)
    fold(record, rules)
    return len(record.journal) != entries, outputs


class Evaluated(NamedTuple):
    """What ``evaluate_marked`` did to a stored member, and its due mark's moments."""

    changed: bool  # the stored value changed
    outputs: list[Emitted]
    since: datetime  # the evaluation's moment, or the member's latest event if later
    due: datetime | None  # ``next_due`` from ``since`` on


def evaluate_marked(record: MemberRecord, rules: TenantRules, as_of: datetime, cause_id: str,
                    likely_due: bool = False) -> Evaluated:
    """``evaluate_record``, then ``next_due`` of the state it leaves from ``as_of`` (or the member's
    latest event, if later) on -- in one, with the same results, cheaper: a member with nothing due
    as of ``as_of`` is not evaluated at all (``next_due``'s promise, which lets an evaluation pass
    over a member with a valid mark, says evaluating it would do nothing), and the moment that said
    so is its next due when the evaluation's moment is not before its latest event.  ``likely_due``
    (its stored mark says it is due) skips that first look: the results are the same either way."""
    state = record.state
    due = as_of if likely_due else next_due(state, rules, as_of)
    if due is None or due > as_of:
        entries = len(record.journal)
        fold(record, rules)
        changed = len(record.journal) != entries
        since = _since(record.state, as_of)
        return Evaluated(changed, [], since, due if since == as_of else next_due(record.state, rules, since))
    changed, outputs = evaluate_record(record, rules, as_of, cause_id)
    since = _since(record.state, as_of)
    return Evaluated(changed, outputs, since, next_due(record.state, rules, since))


def _since(state: MemberState, as_of: datetime) -> datetime:
    return as_of if state.watermark is None else max(as_of, state.watermark)


def next_due(state: MemberState, rules: TenantRules, since: datetime) -> datetime | None:
    """The earliest ``as_of >= since`` at which ``evaluate_member`` could do
    anything for this state (``since`` itself when it could at once), or None
    when nothing is scheduled until an event changes the state."""
    ahead = LookAhead(state, arm_rules(state, rules, since), since)
    due = next_boundary(rules, since) if rules.experiments else None  # where the member's arm may change
    for due_of in DUE_ORDER:
        moment = due_of(ahead)
        if moment is not None and (due is None or moment < due):
            due = moment
            if due <= since:
                return since
    return due
