"""The account lifecycle at the periodic evaluation: members who stop logging in are frozen.

Seed 001: "a member who has not logged in for three consecutive months is frozen
as an invalid registration".  The clock runs from the member's last sign of life
-- the latest login, the registration, or the account's return to active (an
operator's unfreeze or unlock, so an appeal upheld is not frozen again at once)
-- and the freeze date is that moment ``risk.inactivity.months`` calendar months
later, in the tenant's time zone.  A member with none of them (no login, no
registration: an imported or order-only member) has no clock and is never frozen.

The evaluation as of ``as_of`` (event time) freezes an active member whose
freeze date is at or before ``as_of``, through ``engine.account_status`` with
the reason, and publishes an ``account_status`` notification.  One
``inactivity_warning`` goes out ``warn_days_before`` ahead, once per freeze
date: its id is derived from the member and the date, and the state remembers
the date warned of.  A login before the freeze date moves the date (the
warning of the old date stays sent, the new date gets its own); one from before
the date that arrives after the freezing evaluation (logins and the evaluation
come on different topics) lifts the freeze it would have prevented
(``lift_if_seen``, from ``engine.behaviour.apply_login``).  Locked and frozen
accounts are left as they are; the appeal is an operator's ``account_unfreeze``
through the admin API.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.rules import TenantRules
from config.topics import Topic
from engine.account_status import set_status
from engine.clock import local_day, months_later
from engine.due_moments import LookAhead
from engine.ids import derive_id
from engine.step import Step
from models.outputs import Notification, NotificationKind
from models.state import MemberState, MemberStatus

RULE = "inactivity"


def inactive_since(state: MemberState) -> datetime | None:
    """The moment the inactivity clock runs from, or None when there is none."""
    latest = state.last_login_at  # the first of equal moments wins, as with max()
    if state.registration is not None:
        registered = state.registration.registered_at
        if registered is not None and (latest is None or registered > latest):
            latest = registered
    if state.status is MemberStatus.ACTIVE:
        since = state.status_since
        if isinstance(since, datetime) and (latest is None or since > latest):
            latest = since
    return latest


def freeze_date(state: MemberState, rules: TenantRules) -> datetime | None:
    """When an active member is frozen if no login comes first (None: never)."""
    policy = rules.risk.inactivity
    if policy is None or state.status is not MemberStatus.ACTIVE:
        return None
    since = inactive_since(state)
    return None if since is None else months_later(since, policy.months, rules.tz)


def freeze_inactive(step: Step, as_of: datetime) -> bool:
    """Freeze the member when its freeze date has come; else warn once when it is near."""
    state, rules = step.state, step.rules
    due = freeze_date(state, rules)
    if due is None:
        return False
    policy = rules.risk.inactivity
    assert policy is not None
    lead = timedelta(days=policy.warn_days_before)
    if as_of < due and (not lead or as_of < due - lead or state.inactivity_warned_for == due):
        return False  # neither frozen nor warned now
    since = inactive_since(state)
    assert since is not None
    last_seen = local_day(since, rules.tz).isoformat()
    if due <= as_of:
        why = (f"no login for {policy.months} months since {last_seen}: frozen as an invalid registration "
               f"(an operator's unfreeze is the appeal)")
        set_status(step, MemberStatus.FROZEN, why)
        state.inactivity_frozen_for = due
        step.notify(NotificationKind.ACCOUNT_STATUS, f"account frozen: {why}", RULE,
                    status=MemberStatus.FROZEN.value, previous=MemberStatus.ACTIVE.value, rule=RULE, reason=why,
                    last_seen_at=since.isoformat(), freeze_date=due.isoformat())
        return True
    state.inactivity_warned_for = due
    on = local_day(due, rules.tz).isoformat()
    step.emit(Topic.NOTIFICATIONS, Notification(
        notification_id=derive_id("nt", state.tenant_id, state.member_id, NotificationKind.INACTIVITY_WARNING.value,
                                  due.isoformat()),
        kind=NotificationKind.INACTIVITY_WARNING,
        message=f"no login since {last_seen}: log in before {on} or the account is frozen",
        data={"last_seen_at": since.isoformat(), "freeze_date": due.isoformat()},
        **step._common(),
    ))
    return True


def lift_if_seen(step: Step, login_at: datetime) -> None:
    """A login from before the freeze date of the inactivity freeze in force -- it arrived after the
    evaluation that froze the member -- shows the member was not inactive: the freeze is lifted."""
    state = step.state
    frozen_for = state.inactivity_frozen_for
    if state.status is not MemberStatus.FROZEN or not isinstance(frozen_for, datetime) or login_at >= frozen_for:
        return
    why = (f"a login at {login_at.isoformat()}, before the freeze date {frozen_for.isoformat()}, arrived late: "
           f"the inactivity freeze is lifted")
    set_status(step, MemberStatus.ACTIVE, why)
    step.notify(NotificationKind.ACCOUNT_STATUS, f"account active: {why}", RULE, status=MemberStatus.ACTIVE.value,
                previous=MemberStatus.FROZEN.value, rule=RULE, reason=why, freeze_date=frozen_for.isoformat())


def inactivity_due(ahead: LookAhead) -> datetime | None:
    """The warning's moment (unless warned of this date already), else the freeze date."""
    due = freeze_date(ahead.state, ahead.rules)
    if due is None:
        return None
    policy = ahead.rules.risk.inactivity
    assert policy is not None
    if policy.warn_days_before and ahead.state.inactivity_warned_for != due:
        return due - timedelta(days=policy.warn_days_before)
    return due
