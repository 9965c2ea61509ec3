"""Points expiry at periodic evaluation, and warnings ahead of it (seed 001 §6(2)4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.clock import start_moment
from engine.due_moments import LookAhead
from engine.step import Step
from engine.wallet import held
from models.outputs import LedgerKind, NotificationKind


def expire_points(step: Step, as_of: datetime) -> bool:
    """Remove every lot whose expiry has passed, one ledger entry per lot."""
    state = step.state
    expired = sorted(
        (lot for lot in state.lots if lot.expires_at is not None and lot.expires_at <= as_of),
        key=lambda lot: (lot.expires_at, lot.lot_id),
    )
    if not expired:
        return False
    balance = held(state)
    for lot in expired:
        balance -= lot.amount
        step.ledger(LedgerKind.EXPIRY, "expiry", -lot.amount, balance, order_id=lot.order_id,
                    expires_at=lot.expires_at, seq=lot.lot_id)
    gone = {id(lot) for lot in expired}
    state.lots = [lot for lot in state.lots if id(lot) not in gone]
    return True


def warn_expiry(step: Step, as_of: datetime) -> bool:
    """One warning per ``warn_every_days`` while points expire within ``warn_lead_days``: the
    campaign's template rendered, sent to its channel (``config.rules.ExpiryWarning``)."""
    state, policy = step.state, step.rules.points.expiry
    if not policy.warn_lead_days:
        return False
    horizon = as_of + timedelta(days=policy.warn_lead_days)
    soon = [lot for lot in state.lots if lot.expires_at is not None and as_of < lot.expires_at <= horizon]
    if not soon:
        return False
    last = state.expiry_warned_on
    if last is not None and (step.day - last).days < policy.warn_every_days:
        return False
    by_date: dict[str, int] = {}
    for lot in soon:
        key = lot.expires_at.astimezone(step.rules.tz).date().isoformat()
        by_date[key] = by_date.get(key, 0) + lot.amount
    amount, first = sum(by_date.values()), min(by_date)
    campaign = policy.warning
    text = campaign.render(member_id=state.member_id, tenant_id=state.tenant_id, points=amount, expires_on=first,
                           first_points=by_date[first], until=max(by_date))
    step.notify(
        NotificationKind.POINTS_EXPIRY_WARNING,
        text,
        ordinal=step.day.isoformat(),
        channel=campaign.channel.value,
        amount=amount,
        first_date=first,
        by_date=by_date,
    )
    state.expiry_warned_on = step.day
    return True


def expiry_due(ahead: LookAhead) -> datetime | None:
    """The earliest moment ``expire_points`` has a lot to expire."""
    return ahead.first_expiry


def warning_due(ahead: LookAhead) -> datetime | None:
    """The earliest moment a lot comes within ``warn_lead_days`` of its expiry,
    and the cadence allows another warning."""
    state, policy = ahead.state, ahead.rules.points.expiry
    if not policy.warn_lead_days:
        return None
    first = ahead.first_expiry
    if first is None:
        return None
    due = first - timedelta(days=policy.warn_lead_days)
    if state.expiry_warned_on is not None:
        due = max(due, start_moment(state.expiry_warned_on + timedelta(days=policy.warn_every_days), ahead.rules.tz))
    return due
