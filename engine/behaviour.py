"""Reviews, logins, complaints and profile facts."""

from __future__ import annotations

from engine.account_status import set_status
from engine.contacts import contact_change
from engine.device_reports import report_login
from engine.earning import behaviour_points
from engine.growth import behaviour_growth
from engine.lifecycle import lift_if_seen
from engine.orders import earned_today, record_earning
from engine.penalties import penalise
from engine.step import Step
from engine.tiers import upgrade_if_qualified
from engine.wallet import held, take
from models.events import Complaint, Login, Moderation, Profile, Review
from models.outputs import LedgerKind, NotificationKind
from models.state import MemberStatus


def earn_behaviour_points(step: Step, action: str) -> None:
    """The flat points of ``behaviour:<action>``, within the daily caps."""
    if step.beyond_counters:
        return  # too late to know what that day already earned
    lines = behaviour_points(
        action,
        tier=step.state.tier,
        local_time=step.local_time,
        rules=step.rules.points.earning,
        earned_today=earned_today(step),
    )
    record_earning(step, lines, None, 0)


def apply_review(step: Step, event: Review) -> None:
    if event.moderation is Moderation.MALICIOUS:
        penalise(step, step.rules.risk.malicious_review, "malicious_review",
                 f"review {event.review_id} was judged malicious", review_id=event.review_id)
        return
    behaviour_growth(step, "review", step.rules.growth.review)
    earn_behaviour_points(step, "review")
    upgrade_if_qualified(step)


def apply_login(step: Step, event: Login) -> None:
    state = step.state
    if state.last_login_at is None or event.occurred_at > state.last_login_at:
        state.last_login_at = event.occurred_at
    lift_if_seen(step, event.occurred_at)
    if step.counter("login") == 0:
        earn_behaviour_points(step, "login")
    step.bump("login")
    if event.device_id is not None:
        report_login(step, event.device_id)


def apply_complaint(step: Step, event: Complaint) -> None:
    """Seed 001 §5: deduct the verdict's penalty; lock if the balance cannot cover it."""
    state = step.state
    penalty = getattr(step.rules.complaints, event.verdict.value)
    if penalty.deduct <= 0:
        return
    taken = take(state, penalty.deduct, event.occurred_at, include_pending=True)
    rule = f"complaint:{event.verdict.value}"
    if taken:
        step.ledger(LedgerKind.ADJUSTMENT, rule, -taken, held(state))
    if taken < penalty.deduct and penalty.lock_if_insufficient and state.status is MemberStatus.ACTIVE:
        set_status(step, MemberStatus.LOCKED, f"complaint {event.complaint_id}: a penalty of {penalty.deduct} "
                   f"points not covered (an operator's unlock is the appeal)")
        step.notify(
            NotificationKind.ACCOUNT_STATUS,
            f"account locked: complaint {event.complaint_id} penalty of {penalty.deduct} points not covered",
            status=MemberStatus.LOCKED.value,
            complaint_id=event.complaint_id,
            shortfall=penalty.deduct - taken,
        )


def apply_profile(step: Step, event: Profile) -> None:
    state = step.state
    if event.birthday is not None:
        state.birthday = event.birthday
    if event.time_zone is not None:
        state.time_zone = event.time_zone
    contact_change(step, event.name, event.phone, event.email)
    if event.invited_tier is not None:
        state.invited_tier = event.invited_tier
        upgrade_if_qualified(step)
