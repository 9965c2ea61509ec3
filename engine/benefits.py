"""Scheduled benefits of the tier matrix (seed 003 §1.2, §2.2).

Tier coupons at their cadence (a day, an ISO week or a month of local time)
and the birthday pack in the birthday month.  Each grant's id is derived from
(member, benefit, period, ordinal) and each benefit remembers the last period
it was granted for, so repeating an evaluation grants nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from config.tiers import Cadence
from engine.clock import add_months, start_moment
from engine.due_moments import LookAhead
from engine.step import Step


@lru_cache(maxsize=4096)
def period_of(day: date, cadence: Cadence) -> str:
    if cadence is Cadence.DAY:
        return day.isoformat()
    if cadence is Cadence.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def grant_scheduled(step: Step, as_of: datetime) -> bool:
    state = step.state
    tier = step.rules.tiers.by_id(state.tier)
    benefits = tier.benefits
    changed = False
    if benefits.coupons is not None:
        coupons = benefits.coupons
        period = period_of(step.day, coupons.per)
        if state.benefit_periods.get("tier_coupon") != period:
            for ordinal in range(coupons.count):
                step.grant(
                    "tier_coupon",
                    ordinal,
                    period=period,
                    tier=tier.id,
                    value=coupons.value,
                    valid_from=as_of,
                    valid_until=as_of + timedelta(days=coupons.valid_days),
                    details={"period": period, "cadence": coupons.per.value},
                    conditions=coupons.conditions,
                )
            state.benefit_periods["tier_coupon"] = period
            changed = True
    pack = benefits.birthday_pack
    birthday = state.birthday
    if pack is not None and birthday is not None and birthday.month == step.day.month:
        year = str(step.day.year)
        if state.benefit_periods.get("birthday_pack") != year:
            step.grant(
                "birthday_pack",
                period=year,
                tier=tier.id,
                value=pack.value,
                valid_from=as_of,
                valid_until=as_of + timedelta(days=pack.valid_days),
                details={"birthday": birthday.isoformat()},
                conditions=pack.conditions,
            )
            state.benefit_periods["birthday_pack"] = year
            changed = True
    return changed


def scheduled_due(ahead: LookAhead) -> datetime | None:
    """Tier coupons at the start of the first period not granted yet; the birthday
    pack at the start of the first birthday month, from the one ``since`` falls
    in, not granted yet."""
    state, rules = ahead.state, ahead.rules
    benefits = rules.tiers.by_id(state.tier).benefits
    coupons = None
    if benefits.coupons is not None:
        if state.benefit_periods.get("tier_coupon") != period_of(ahead.day, benefits.coupons.per):
            return ahead.since
        coupons = start_moment(next_period(ahead.day, benefits.coupons.per), rules.tz)
    birthday = _birthday_due(ahead, benefits.birthday_pack is not None)
    return coupons if birthday is None else birthday if coupons is None else min(coupons, birthday)


@lru_cache(maxsize=4096)
def next_period(day: date, cadence: Cadence) -> date:
    """The first day of the period after the one ``day`` is in."""
    if cadence is Cadence.DAY:
        return day + timedelta(days=1)
    if cadence is Cadence.WEEK:
        return day + timedelta(days=7 - day.weekday())
    return add_months(day.replace(day=1), 1)


def _birthday_due(ahead: LookAhead, has_pack: bool) -> datetime | None:
    state = ahead.state
    if not has_pack or state.birthday is None:
        return None
    tz, month, since = ahead.rules.tz, state.birthday.month, ahead.since
    for year in range(ahead.day.year, ahead.day.year + 3):
        start = start_moment(date(year, month, 1), tz)
        end = start_moment(add_months(date(year, month, 1), 1), tz)
        if end > since and state.benefit_periods.get("birthday_pack") != str(year):
            return start
    return None
