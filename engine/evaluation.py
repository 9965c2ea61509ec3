"""The periodic evaluation of one member as of a period boundary (event time).

Pure: (state, rules, as_of) -> (state, outputs).  Every effect remembers its
own period in the state, so evaluating the same member for the same boundary
twice -- after a crash, or a repeated command -- changes nothing the second
time.  Features add their periodic work to ``EVALUATION_HOOKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from config.rules import RuleBook, TenantRules
from engine.badges import evaluate_badges
from engine.benefits import grant_scheduled
from engine.downgrades import evaluate_downgrade
from engine.expiry import expire_points, warn_expiry
from engine.ids import derive_id
from engine.nudges import send_nudges
from engine.outcome import Emitted
from engine.redemptions.coupons import coupon_reminders
from engine.redemptions.gifts import expire_gifts
from engine.step import Step
from models.state import MemberState

#: (step, as_of) -> changed?  Run in order for every member.
EVALUATION_HOOKS: list[Callable[[Step, datetime], bool]] = [
    expire_gifts,  # unanswered gifts go back to the giver first (engine/redemptions/gifts.py)
    expire_points,
    warn_expiry,
    evaluate_downgrade,
    grant_scheduled,
    coupon_reminders,  # redeemed coupons nearing expiry (engine/redemptions/coupons.py)
    send_nudges,
    evaluate_badges,  # business-line badge downgrades (engine/badges.py)
]


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
    """Apply every periodic rule; returns (state changed, outputs)."""
    step = Step(state, rules, cause_id, as_of)
    changed = False
    for hook in EVALUATION_HOOKS:
        changed = hook(step, as_of) or changed
    return changed or bool(step.outputs), step.outputs
