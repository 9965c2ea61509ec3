"""A member's account status (active, locked, frozen): the one place it changes, remembering why
and since when.  Operators' actions, an upheld complaint and a risk penalty all go through it.
What a locked or frozen member earns is held (``engine.holds``) until it is active again."""

from __future__ import annotations

from msgspec import UNSET

from engine.holds import STATUS, release
from engine.step import Step
from models.state import MemberStatus


def set_status(step: Step, status: MemberStatus, reason: str) -> None:
    """The member's status, with why and since when (the event's time).  Any change ends what an
    inactivity freeze remembered (``engine.lifecycle`` sets it again when it is the one freezing)."""
    state = step.state
    previous = state.status
    state.status, state.status_reason, state.status_since = status, reason, step.occurred_at
    if state.inactivity_frozen_for is not UNSET:
        state.inactivity_frozen_for = UNSET
    if status is MemberStatus.ACTIVE and previous is not MemberStatus.ACTIVE:
        release(step, STATUS, "status_release")  # what it earned while locked or frozen (engine.holds)
