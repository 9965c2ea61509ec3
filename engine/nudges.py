"""Marketing nudges at periodic evaluation (seed 003 §4.2).

- next tier: the member is within ``next_tier_gap`` of the next tier;
- retention offer: a protected tier (DIAMOND, BLACK_GOLD) is falling short
  ("保级提醒: 钻石会员消费不足时推送专属优惠"); the tier's ``retention_offer`` from
  the rules is granted with it as a benefit instance (id from member, day and
  tier, so a repeated evaluation grants it once) and the notice names it;
- churn warning: no login for ``churn_days``.
Each kind goes out at most once per ``every_days``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.rules import TenantRules
from engine.clock import local_day, start_moment
from engine.due_moments import LookAhead
from engine.step import Step
from engine.windows import metric_value
from models.outputs import NotificationKind
from models.state import MemberState


def _due(step: Step, kind: str) -> bool:
    last = step.state.nudged_on.get(kind)
    if last is not None and (step.day - last).days < step.rules.evaluation.nudges.every_days:
        return False
    step.state.nudged_on[kind] = step.day
    return True


def send_nudges(step: Step, as_of: datetime) -> bool:
    state, ladder, cfg = step.state, step.rules.tiers, step.rules.evaluation.nudges
    changed = False
    current = ladder.rank(state.tier)
    if current + 1 < len(ladder.tiers) and ladder.tiers[current + 1].qualify:
        nxt = ladder.tiers[current + 1]
        cond = nxt.qualify[0]
        gap = cond.threshold - metric_value(state, cond.metric, step.day)
        if 0 < gap <= cfg.next_tier_gap and _due(step, "next_tier"):
            step.notify(NotificationKind.NEXT_TIER_NUDGE, f"{gap} short of {nxt.id}", next_tier=nxt.id,
                        gap=str(gap), metric=cond.metric.name)
            changed = True
    if cfg.retention_offer and ladder.tiers[current].protection_days:
        q = step.qualification()
        if q.rank < current and _due(step, "retention"):
            offer = _grant_offer(step, as_of)
            step.notify(NotificationKind.RETENTION_OFFER, f"keep {state.tier}: {q.metric} is {q.value}",
                        tier=state.tier, metric=q.metric, metric_value=str(q.value),
                        **({"grant_id": offer} if offer is not None else {}))
            changed = True
    last_seen = state.last_login_at
    if last_seen is not None and (as_of - last_seen).days >= cfg.churn_days and _due(step, "churn"):
        step.notify(NotificationKind.CHURN_WARNING,
                    f"no login since {local_day(last_seen, step.rules.tz).isoformat()}",
                    last_login_at=last_seen.isoformat(), days=(as_of - last_seen).days)
        changed = True
    return changed


def _grant_offer(step: Step, as_of: datetime) -> str | None:
    """The tier's retention offer as a benefit instance; its grant id (None: the tier has none)."""
    tier = step.rules.tiers.by_id(step.state.tier)
    offer = tier.retention_offer
    if offer is None:
        return None
    day = step.day.isoformat()
    return step.grant(
        "retention_offer",
        tier.id,
        period=day,
        tier=tier.id,
        value=offer.value,
        valid_from=as_of,
        valid_until=as_of + timedelta(days=offer.valid_days),
        details={"period": day, **({"description": offer.description} if offer.description else {})},
        conditions=offer.conditions,
    )


def _cadence(state: MemberState, rules: TenantRules, kind: str) -> datetime | None:
    """The start of the first local day ``_due`` lets ``kind`` go out again."""
    last = state.nudged_on.get(kind)
    every = rules.evaluation.nudges.every_days
    return None if last is None else start_moment(last + timedelta(days=every), rules.tz)


def _not_before(moment: datetime, floor: datetime | None) -> datetime:
    return moment if floor is None else max(moment, floor)


def nudges_due(ahead: LookAhead) -> datetime | None:
    """When ``send_nudges`` could next send something.  Without events a metric
    only falls as days leave its window, so a member further than the gap from
    the next tier never comes into range; one in range, or above it, is due once
    the kind's cadence allows."""
    state, rules = ahead.state, ahead.rules
    ladder, cfg = rules.tiers, rules.evaluation.nudges
    current = ladder.rank(state.tier)
    dues: list[datetime] = []
    if cfg.retention_offer and ladder.tiers[current].protection_days and current > 0:
        falls = ahead.qualifies_until(current)
        if falls is not None:
            dues.append(_not_before(falls, _cadence(state, rules, "retention")))
    if current + 1 < len(ladder.tiers) and ladder.tiers[current + 1].qualify:
        cond = ladder.tiers[current + 1].qualify[0]
        if ahead.windows_may_grow or cond.threshold - ahead.metric(cond.metric) <= cfg.next_tier_gap:
            dues.append(_not_before(ahead.since, _cadence(state, rules, "next_tier")))
    if state.last_login_at is not None:
        churn = state.last_login_at + timedelta(days=cfg.churn_days)
        dues.append(_not_before(churn, _cadence(state, rules, "churn")))
    return min(dues, default=None)
