"""Worked examples of what the periodic evaluation does (``engine.evaluation.evaluate_member``).

Each test is one small scenario computed by hand under the shipped rules
(``config/rules/default.yaml``, time zone Asia/Shanghai, evaluated at local
midnight as the shipped schedule ``0 0 * * *`` does): the members are built
with ``apply_event`` (through the ``Member`` harness), then evaluated as of
given moments, and every output is checked with its ids, kinds, amounts and
dates.  ``test_due_moments.py`` proves that evaluating *before* the due moment
does nothing; these pin down what happens *at* it.

The shipped numbers the examples are computed from are pinned in the first
test, so a change of the defaults fails there first, by name.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from config.rules import ExpiryMode, RuleBook, TenantRules
from config.settings import SHIPPED_RULES_DIR
from config.tiers import DowngradePolicy
from engine.evaluation import evaluate_member, evaluation_id
from engine.ids import derive_id
from engine.views import member_summary
from models.benefits import BenefitChange
from models.outputs import (
    BenefitGrant,
    LedgerEntry,
    LedgerKind,
    Notification,
    NotificationKind,
    TierChange,
    TierDirection,
)
from tests.engine.fixtures import Member

SHIPPED = RuleBook.load(SHIPPED_RULES_DIR).default
TENANT, MEMBER = "default", "m1"


# -- helpers -----------------------------------------------------------------


def local(day: str, clock: str = "00:00:00") -> datetime:
    """A moment in the shipped time zone (UTC+8): local midnight by default."""
    return datetime.fromisoformat(f"{day}T{clock}+08:00")


def moment(at: str | datetime) -> datetime:
    """``"2026-03-21"`` is local midnight; a string with a time must carry its offset."""
    if isinstance(at, datetime):
        return at
    return local(at) if len(at) == 10 else datetime.fromisoformat(at)


def evaluate(m: Member, at: str | datetime, cause: str | None = None) -> tuple[bool, list[Any]]:
    """Evaluate the member's state in place as of ``at``; (changed, output values).
    The cause is the evaluation's own id, as the evaluation command gives it.  What the
    evaluation does to the benefit instances the examples grant (expiry, reminders) is left
    out, changed or not: ``test_benefit_instances.py`` pins it down."""
    as_of = moment(at)
    instances = copy.deepcopy(m.state.benefits)
    changed, outputs = evaluate_member(m.state, m.rules, as_of, cause or evaluation_id(None, as_of))
    kept = [o.value for o in outputs if not _instance_work(o.value)]
    if not kept and len(kept) < len(outputs) and m.state.benefits != instances:
        changed = False  # only the instances changed
    return changed, kept


def _instance_work(value: Any) -> bool:
    return isinstance(value, BenefitChange) or (
        isinstance(value, Notification) and value.kind is NotificationKind.BENEFIT_EXPIRY_REMINDER)


def daily(m: Member, first: str, last: str) -> dict[str, list[Any]]:
    """Evaluate at every local midnight from ``first`` to ``last`` (inclusive): outputs by day."""
    out: dict[str, list[Any]] = {}
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        out[day.isoformat()] = evaluate(m, day.isoformat())[1]
        day += timedelta(days=1)
    return out


def describe(values: list[Any]) -> list[str]:
    """One short line per output, to compare a whole evaluation at a glance."""
    lines = []
    for v in values:
        if isinstance(v, LedgerEntry):
            lines.append(f"{v.kind.value} {v.delta} -> {v.balance}")
        elif isinstance(v, BenefitGrant):
            period = v.details.get("period", v.valid_from.year)  # a birthday pack's period is its year
            lines.append(f"{v.benefit} {v.tier} {period}")
        elif isinstance(v, Notification):
            lines.append(v.kind.value)
        elif isinstance(v, TierChange):
            lines.append(f"tier {v.from_tier}->{v.to_tier}")
        else:
            lines.append(repr(v))
    return lines


def busy_days(by_day: dict[str, list[Any]]) -> dict[str, list[str]]:
    """The days of a ``daily`` run that had outputs, described."""
    return {day: describe(out) for day, out in by_day.items() if out}


def days_with(by_day: dict[str, list[Any]], kind: NotificationKind) -> list[str]:
    return [day for day, out in by_day.items() if any(isinstance(v, Notification) and v.kind is kind for v in out)]


def notices(values: list[Any], kind: NotificationKind) -> list[Notification]:
    return [v for v in values if isinstance(v, Notification) and v.kind is kind]


def grant_id(benefit: str, period: str, ordinal: object = 0) -> str:
    """Scheduled grants are named by (member, benefit, period, ordinal), whatever evaluation grants them."""
    return derive_id("bg", TENANT, MEMBER, benefit, period, ordinal)


def notification_id(at: str | datetime, kind: NotificationKind, ordinal: object = 0) -> str:
    return derive_id("nt", TENANT, MEMBER, evaluation_id(None, moment(at)), kind.value, ordinal)


def shipped_member() -> Member:
    return Member(SHIPPED, MEMBER, TENANT)


# -- the shipped numbers the examples use ------------------------------------


def test_the_examples_are_computed_from_these_shipped_numbers():
    assert SHIPPED.time_zone == "Asia/Shanghai"
    expiry = SHIPPED.points.expiry
    assert (expiry.mode, expiry.warn_lead_days, expiry.warn_every_days) == (ExpiryMode.END_OF_NEXT_YEAR, 30, 7)
    nudges = SHIPPED.evaluation.nudges
    assert (nudges.next_tier_gap, nudges.churn_days, nudges.every_days, nudges.retention_offer) == (20, 30, 7, True)
    ladder = SHIPPED.tiers
    assert (ladder.downgrade, ladder.downgrade_warning_days) == (DowngradePolicy.ONE_DOWN, 7)
    assert {t.id: t.protection_days for t in ladder.tiers} == {
        "NORMAL": 0, "SILVER": 0, "GOLD": 0, "DIAMOND": 30, "BLACK_GOLD": 30}
    assert {t.id: [(c.metric.name, c.threshold) for c in t.qualify] for t in ladder.tiers} == {
        "NORMAL": [], "SILVER": [("spend_30d", 200)], "GOLD": [("spend_30d", 500)],
        "DIAMOND": [("spend_30d", 1000)], "BLACK_GOLD": [("spend_365d", 20000)]}
    coupons = {t.id: t.benefits.coupons for t in ladder.tiers}
    assert {tier: c and (c.count, c.per.value, c.value, c.valid_days) for tier, c in coupons.items()} == {
        "NORMAL": None,
        "SILVER": (2, "month", 5, 30),
        "GOLD": (1, "week", 10, 7),
        "DIAMOND": (2, "week", 15, 7),
        "BLACK_GOLD": (1, "day", 10, 1),
    }
    packs = {t.id: t.benefits.birthday_pack for t in ladder.tiers}
    assert {tier: p and (p.value, p.valid_days) for tier, p in packs.items()} == {
        "NORMAL": None, "SILVER": (50, 30), "GOLD": (100, 30), "DIAMOND": (200, 30), "BLACK_GOLD": (500, 30)}


# -- 1. points expiry ----------------------------------------------------------


def test_each_expired_lot_gets_its_own_expiry_entry_and_a_later_lot_is_untouched():
    m = shipped_member()
    # Under 50 yuan and outside the holiday windows an order earns exactly its amount.
    m.pay("o-mar", 40, "2024-03-10T10:00:00+08:00")  # earned in 2024: expires at the end of 2025
    m.pay("o-oct", 30, "2024-10-20T10:00:00+08:00")  # also earned in 2024: expires at the same moment
    m.pay("o-jun", 20, "2025-06-10T10:00:00+08:00")  # earned in 2025: expires at the end of 2026
    lots = {lot.order_id: copy.copy(lot) for lot in m.state.lots}
    assert {o: (lot.amount, lot.expires_at) for o, lot in lots.items()} == {
        "o-mar": (40, local("2026-01-01")), "o-oct": (30, local("2026-01-01")), "o-jun": (20, local("2027-01-01"))}
    assert m.held == 90

    as_of = local("2026-01-01")
    cause = evaluation_id(None, as_of)
    changed, out = evaluate(m, as_of)

    assert changed
    # Lots expiring at the same moment go in lot-id order; each is its own entry with its own balance.
    first, second = sorted(["o-mar", "o-oct"], key=lambda o: lots[o].lot_id)
    amount = {"o-mar": 40, "o-oct": 30}

    def entry(order: str, balance: int) -> tuple:
        lot_id = lots[order].lot_id
        return (derive_id("le", TENANT, MEMBER, cause, "expiry", "expiry", order, lot_id), LedgerKind.EXPIRY,
                "expiry", -amount[order], balance, order, local("2026-01-01"), as_of, cause)

    assert [(e.entry_id, e.kind, e.rule, e.delta, e.balance, e.order_id, e.expires_at, e.occurred_at,
             e.cause_event_id) for e in out] == [
        entry(first, 90 - amount[first]),
        entry(second, 20),
    ]
    assert m.state.lots == [lots["o-jun"]] and m.held == 20
    assert evaluate(m, as_of) == (False, [])  # the same as_of again: nothing left to expire
    assert evaluate(m, "2026-01-01T12:00:00+08:00") == (False, [])  # nor later that day


# -- 2. expiry warnings --------------------------------------------------------


def test_expiry_warnings_start_warn_lead_days_ahead_then_repeat_every_warn_every_days():
    m = shipped_member()
    m.pay("o-2024", 40, "2024-03-10T10:00:00+08:00")  # expires 2026-01-01 00:00
    m.pay("o-2025", 20, "2025-06-10T10:00:00+08:00")  # expires 2027-01-01: far beyond the lead

    assert evaluate(m, "2025-12-01T23:59:59+08:00") == (False, [])  # 30 days and 1 second ahead
    by_day = daily(m, "2025-12-02", "2026-01-01")

    assert busy_days(by_day) == {
        "2025-12-02": ["points_expiry_warning"],  # exactly 30 days ahead
        "2025-12-09": ["points_expiry_warning"],  # then every 7 days, nothing in between
        "2025-12-16": ["points_expiry_warning"],
        "2025-12-23": ["points_expiry_warning"],
        "2025-12-30": ["points_expiry_warning"],
        "2026-01-01": ["expiry -40 -> 20"],  # expired, so no more warning about it
    }
    (warning,) = by_day["2025-12-02"]
    assert warning.notification_id == notification_id("2025-12-02", NotificationKind.POINTS_EXPIRY_WARNING,
                                                       "2025-12-02")
    assert warning.message == "40 points expire by 2026-01-01 (first 40 on 2026-01-01)"
    assert warning.data == {"amount": 40, "first_date": "2026-01-01", "by_date": {"2026-01-01": 40}}
    assert warning.occurred_at == local("2025-12-02")
    assert warning.cause_event_id == evaluation_id(None, local("2025-12-02"))
    assert m.state.expiry_warned_on == date(2025, 12, 30)


# -- 3. tier coupons -------------------------------------------------------------

COUPON_EXAMPLES = [
    # tier, spend that reaches it on Fri 2026-03-20 (None: invited), evaluations: first, again in the
    # same period, the next period; the two periods; coupons per period, face value, valid days
    ("SILVER", 200, "2026-03-21", "2026-03-31T23:59:59+08:00", "2026-04-01", "2026-03", "2026-04", 2, 5, 30),
    ("GOLD", 500, "2026-03-21", "2026-03-22T23:59:59+08:00", "2026-03-23", "2026-W12", "2026-W13", 1, 10, 7),
    ("DIAMOND", 1000, "2026-03-21", "2026-03-22T23:59:59+08:00", "2026-03-23", "2026-W12", "2026-W13", 2, 15, 7),
    ("BLACK_GOLD", None, "2026-03-21", "2026-03-21T23:59:59+08:00", "2026-03-22", "2026-03-21", "2026-03-22",
     1, 10, 1),
]


def reach(tier: str, spend: int | None) -> Member:
    m = shipped_member()
    if spend is None:
        m.profile("2026-03-20T10:00:00+08:00", invited_tier=tier)
    else:
        m.pay("o1", spend, "2026-03-20T10:00:00+08:00")
    assert m.tier == tier
    return m


@pytest.mark.parametrize(
    ("tier", "spend", "first", "again", "after", "period", "next_period", "count", "value", "valid_days"),
    COUPON_EXAMPLES,
    ids=[e[0] for e in COUPON_EXAMPLES],
)
def test_tier_coupons_once_per_period_with_ids_per_period(
    tier, spend, first, again, after, period, next_period, count, value, valid_days
):
    m = reach(tier, spend)
    cadence = SHIPPED.tiers.by_id(tier).benefits.coupons.per.value

    def coupons(at: str, p: str) -> list[tuple]:
        return [(grant_id("tier_coupon", p, i), "tier_coupon", tier, Decimal(value), 1, local(at),
                 local(at) + timedelta(days=valid_days), {"period": p, "cadence": cadence}) for i in range(count)]

    def granted(out: list[Any]) -> list[tuple]:
        assert all(isinstance(g, BenefitGrant) for g in out), describe(out)
        return [(g.grant_id, g.benefit, g.tier, g.value, g.quantity, g.valid_from, g.valid_until, g.details)
                for g in out]

    changed, out = evaluate(m, first)
    assert changed and granted(out) == coupons(first, period)
    assert m.state.benefit_periods == {"tier_coupon": period}

    assert evaluate(m, again) == (False, [])  # the same period: nothing more

    changed, out = evaluate(m, after)
    assert changed and granted(out) == coupons(after, next_period)
    assert len({g[0] for g in coupons(first, period) + coupons(after, next_period)}) == 2 * count


def test_tier_coupon_ids_depend_on_the_period_not_on_the_evaluation():
    one, other = reach("DIAMOND", 1000), reach("DIAMOND", 1000)
    _, early = evaluate(one, "2026-03-21", cause="evaluation-a")
    _, late = evaluate(other, "2026-03-22T18:00:00+08:00", cause="evaluation-b")  # Sunday: the same ISO week
    assert [g.grant_id for g in early] == [g.grant_id for g in late] == [
        grant_id("tier_coupon", "2026-W12", 0), grant_id("tier_coupon", "2026-W12", 1)]
    assert [g.cause_event_id for g in early + late] == ["evaluation-a", "evaluation-a", "evaluation-b", "evaluation-b"]


def test_tier_coupons_go_on_while_the_tier_holds_and_stop_when_it_ends():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")  # DIAMOND (protected 30 days); short from 04-01
    by_day = daily(m, "2026-03-02", "2026-05-20")
    coupons = [(day, g.tier, g.details["period"]) for day, out in by_day.items() for g in out
               if isinstance(g, BenefitGrant) and g.benefit == "tier_coupon"]
    diamond = sorted({(p, day) for day, tier, p in coupons if tier == "DIAMOND"})
    # every ISO week while DIAMOND holds -- the protection until 05-01 included -- and never after it
    assert [p for p, _ in diamond] == [f"2026-W{w:02d}" for w in range(10, 19)]
    assert max(day for _, day in diamond) < "2026-05-01"
    (downgrade,) = [v for out in by_day.values() for v in out if isinstance(v, TierChange)][:1]
    assert (downgrade.from_tier, downgrade.to_tier, downgrade.occurred_at) == ("DIAMOND", "GOLD", local("2026-05-01"))
    after = [(day, tier, p) for day, tier, p in coupons if day >= "2026-05-01"]
    assert after and all(tier != "DIAMOND" for _, tier, _ in after)  # the tier in force gets its own coupons
    assert after[0] == ("2026-05-04", "GOLD", "2026-W19")  # W18's coupons were DIAMOND's; GOLD's start with W19


def test_the_base_tier_has_no_tier_coupons():
    m = shipped_member()
    m.pay("o1", 100, "2026-03-20T10:00:00+08:00")
    assert m.tier == "NORMAL"
    assert evaluate(m, "2026-03-21") == (False, [])
    assert m.state.benefit_periods == {}


# -- 4. birthday pack ------------------------------------------------------------


def test_birthday_pack_once_in_the_birthday_month_each_year():
    m = shipped_member()
    m.profile("2026-04-20T10:00:00+08:00", birthday=date(1990, 5, 17))
    m.pay("o1", 200, "2026-04-25T10:00:00+08:00")  # SILVER: pack 50, valid 30 days
    april = ["tier_coupon SILVER 2026-04"] * 2
    assert describe(evaluate(m, "2026-04-26")[1]) == april  # April: coupons, no pack
    assert evaluate(m, "2026-04-30T23:59:59+08:00") == (False, [])  # still April in Shanghai

    changed, out = evaluate(m, "2026-04-30T16:00:00+00:00")  # 1 May 00:00 in Shanghai
    assert describe(out) == ["tier_coupon SILVER 2026-05"] * 2 + ["birthday_pack SILVER 2026"]
    pack = out[-1]
    assert (pack.grant_id, pack.benefit, pack.tier, pack.value, pack.quantity, pack.valid_from, pack.valid_until,
            pack.details) == (grant_id("birthday_pack", "2026"), "birthday_pack", "SILVER", Decimal(50), 1,
                              local("2026-05-01"), local("2026-05-31"), {"birthday": "1990-05-17"})
    assert m.state.benefit_periods == {"tier_coupon": "2026-05", "birthday_pack": "2026"}

    m.pay("o2", 200, "2026-05-24T10:00:00+08:00")  # stays SILVER into June
    assert evaluate(m, "2026-05-17") == (False, [])  # the birthday itself: already granted this month
    assert evaluate(m, "2026-05-31T23:59:59+08:00") == (False, [])
    assert describe(evaluate(m, "2026-06-01")[1]) == ["tier_coupon SILVER 2026-06"] * 2  # June: no pack

    m.pay("o3", 200, "2027-04-28T10:00:00+08:00")
    changed, out = evaluate(m, "2027-05-01")
    assert describe(out) == ["tier_coupon SILVER 2027-05"] * 2 + ["birthday_pack SILVER 2027"]
    assert out[-1].grant_id == grant_id("birthday_pack", "2027") != grant_id("birthday_pack", "2026")


def test_no_birthday_pack_at_the_base_tier():
    m = shipped_member()
    m.profile("2026-04-20T10:00:00+08:00", birthday=date(1990, 5, 17))
    assert m.tier == "NORMAL"
    assert evaluate(m, "2026-05-01") == (False, [])


# -- 5. downgrades ---------------------------------------------------------------


def test_downgrade_without_protection_is_warned_at_once_and_takes_effect_7_days_later():
    m = shipped_member()
    m.pay("o1", 500, "2026-03-02T10:00:00+08:00")  # GOLD; the 500 counts in the 30-day window up to 03-31
    assert m.tier == "GOLD"
    assert describe(evaluate(m, "2026-03-31")[1]) == ["tier_coupon GOLD 2026-W14"]  # still qualifies

    changed, out = evaluate(m, "2026-04-01")  # first found short: GOLD has no protection, so the wait is 7 days
    assert changed
    (warning,) = out
    assert warning.notification_id == notification_id("2026-04-01", NotificationKind.DOWNGRADE_WARNING)
    assert warning.kind is NotificationKind.DOWNGRADE_WARNING
    assert warning.message == "GOLD ends on 2026-04-08 unless spend_30d qualifies again"
    assert warning.data == {"from_tier": "GOLD", "to_tier": "SILVER", "effective_at": "2026-04-08T00:00:00+08:00",
                            "metric": "spend_30d", "metric_value": "0"}
    assert (m.state.downgrade_at, m.state.downgrade_warned) == (local("2026-04-08"), True)

    assert busy_days(daily(m, "2026-04-02", "2026-04-09")) == {
        "2026-04-06": ["tier_coupon GOLD 2026-W15"],
        "2026-04-08": ["tier GOLD->SILVER", "tier_coupon SILVER 2026-04", "tier_coupon SILVER 2026-04"],
        "2026-04-09": ["downgrade_warning"],  # short of SILVER too: the next step down is on its way
    }
    assert (m.state.tier, m.state.tier_since, m.state.downgrade_at) == ("SILVER", local("2026-04-08"),
                                                                         local("2026-04-16"))


def test_downgrade_with_protection_is_warned_7_days_before_it_takes_effect_30_days_later():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")  # DIAMOND: protection 30 days
    assert m.tier == "DIAMOND"
    evaluate(m, "2026-03-31")
    assert m.state.downgrade_at is None

    changed, out = evaluate(m, "2026-04-01")  # first found short
    assert changed and notices(out, NotificationKind.DOWNGRADE_WARNING) == []
    assert (m.state.downgrade_at, m.state.downgrade_warned) == (local("2026-05-01"), False)

    by_day = daily(m, "2026-04-02", "2026-05-01")
    assert days_with(by_day, NotificationKind.DOWNGRADE_WARNING) == ["2026-04-24"]
    (warning,) = notices(by_day["2026-04-24"], NotificationKind.DOWNGRADE_WARNING)
    assert warning.notification_id == notification_id("2026-04-24", NotificationKind.DOWNGRADE_WARNING)
    assert warning.message == "DIAMOND ends on 2026-05-01 unless spend_30d qualifies again"
    assert warning.data == {"from_tier": "DIAMOND", "to_tier": "GOLD", "effective_at": "2026-05-01T00:00:00+08:00",
                            "metric": "spend_30d", "metric_value": "0"}

    changes = {day: [v for v in out if isinstance(v, TierChange)] for day, out in by_day.items()}
    assert [day for day, c in changes.items() if c] == ["2026-05-01"]
    (change,) = changes["2026-05-01"]
    assert (change.change_id, change.from_tier, change.to_tier, change.direction, change.reason, change.metric,
            change.metric_value, change.occurred_at) == (
        derive_id("tc", TENANT, MEMBER, evaluation_id(None, local("2026-05-01")), "DIAMOND", "GOLD"),
        "DIAMOND", "GOLD", TierDirection.DOWN, "downgrade", "spend_30d", Decimal(0), local("2026-05-01"))
    assert (m.state.tier, m.state.tier_since, m.state.downgrade_at, m.state.downgrade_warned) == (
        "GOLD", local("2026-05-01"), None, False)


def test_downgrade_warning_names_the_local_date_whatever_the_offset_of_as_of():
    m = shipped_member()
    m.pay("o1", 500, "2026-03-02T10:00:00+08:00")
    evaluate(m, "2026-03-31")
    _, out = evaluate(m, "2026-03-31T16:00:00+00:00")  # 1 April 00:00 in Shanghai, written in UTC
    (warning,) = out
    assert datetime.fromisoformat(warning.data["effective_at"]) == local("2026-04-08")  # the moment is right
    assert warning.message == "GOLD ends on 2026-04-08 unless spend_30d qualifies again"  # the day is not


def test_qualifying_again_during_protection_calls_the_downgrade_off():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")
    assert describe(evaluate(m, "2026-04-01")[1]) == ["tier_coupon DIAMOND 2026-W14"] * 2 + [
        "retention_offer DIAMOND 2026-04-01", "retention_offer"]
    assert m.state.downgrade_at == local("2026-05-01")
    m.pay("o2", 1000, "2026-04-10T10:00:00+08:00")  # DIAMOND's 1000 again, in the window until 05-09
    changed, out = evaluate(m, "2026-04-11")
    assert changed and describe(out) == ["tier_coupon DIAMOND 2026-W15"] * 2  # no offer: it qualifies
    assert (m.state.downgrade_at, m.state.downgrade_warned) == (None, False)
    by_day = daily(m, "2026-04-12", "2026-05-09")
    assert days_with(by_day, NotificationKind.DOWNGRADE_WARNING) == []
    assert [v for out in by_day.values() for v in out if isinstance(v, TierChange)] == []
    assert m.state.tier == "DIAMOND"


# -- 6. next-tier nudge ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "tier", "nudge"),
    [
        ("180", "NORMAL", ("SILVER", "20")),  # exactly next_tier_gap short
        ("199.99", "NORMAL", ("SILVER", "0.01")),
        ("179.99", "NORMAL", None),  # 20.01 short: too far
        ("480", "SILVER", ("GOLD", "20")),
        ("479", "SILVER", None),
        ("980", "GOLD", ("DIAMOND", "20")),
        ("979", "GOLD", None),
    ],
)
def test_next_tier_nudge_within_next_tier_gap(spent, tier, nudge):
    m = shipped_member()
    m.pay("o1", spent, "2026-03-10T10:00:00+08:00")
    assert m.tier == tier
    _, out = evaluate(m, "2026-03-11")
    sent = [(n.notification_id, n.message, n.data) for n in notices(out, NotificationKind.NEXT_TIER_NUDGE)]
    if nudge is None:
        assert sent == []
    else:
        next_tier, gap = nudge
        assert sent == [(notification_id("2026-03-11", NotificationKind.NEXT_TIER_NUDGE), f"{gap} short of {next_tier}",
                         {"next_tier": next_tier, "gap": gap, "metric": "spend_30d"})]
    assert [n.kind for n in out if isinstance(n, Notification)] == ([NotificationKind.NEXT_TIER_NUDGE] if nudge else [])


def test_next_tier_nudge_repeats_every_7_days_while_in_range():
    m = shipped_member()
    m.pay("o1", 180, "2026-03-10T10:00:00+08:00")  # in the window up to 04-08
    by_day = daily(m, "2026-03-11", "2026-04-10")
    assert busy_days(by_day) == {day: ["next_tier_nudge"] for day in (
        "2026-03-11", "2026-03-18", "2026-03-25", "2026-04-01", "2026-04-08")}


# -- 7. retention offer ----------------------------------------------------------


def test_retention_offer_while_a_protected_tier_falls_short_every_7_days_until_the_downgrade():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")  # DIAMOND (protected); in the window up to 03-31
    m.pay("o2", 300, "2026-03-20T10:00:00+08:00")  # in the window up to 04-18
    by_day = daily(m, "2026-03-31", "2026-05-10")

    assert days_with(by_day, NotificationKind.RETENTION_OFFER) == [
        "2026-04-01", "2026-04-08", "2026-04-15", "2026-04-22", "2026-04-29"]  # not once GOLD (unprotected)
    (first,) = notices(by_day["2026-04-01"], NotificationKind.RETENTION_OFFER)
    assert first.notification_id == notification_id("2026-04-01", NotificationKind.RETENTION_OFFER)
    assert first.message == "keep DIAMOND: spend_30d is 300"
    offer_id = grant_id("retention_offer", "2026-04-01", "DIAMOND")
    assert first.data == {"tier": "DIAMOND", "metric": "spend_30d", "metric_value": "300", "grant_id": offer_id}
    # the offer itself, from DIAMOND's retention_offer in the rules: a benefit instance, granted with the notice
    (offer,) = [v for v in by_day["2026-04-01"] if isinstance(v, BenefitGrant) and v.benefit == "retention_offer"]
    assert (offer.grant_id, offer.tier, offer.value, offer.valid_from, offer.valid_until) == (
        offer_id, "DIAMOND", Decimal(30), local("2026-04-01"), local("2026-04-08"))
    assert offer.conditions is not None and offer.conditions.min_spend == Decimal(100)
    assert offer.details == {"period": "2026-04-01", "description": "DIAMOND retention offer"}
    (later,) = notices(by_day["2026-04-22"], NotificationKind.RETENTION_OFFER)
    assert later.data == {"tier": "DIAMOND", "metric": "spend_30d", "metric_value": "0",  # the 300 has left too
                          "grant_id": grant_id("retention_offer", "2026-04-22", "DIAMOND")}
    offers = [day for day, out in by_day.items() for v in out
              if isinstance(v, BenefitGrant) and v.benefit == "retention_offer"]
    assert offers == days_with(by_day, NotificationKind.RETENTION_OFFER)  # one offer with each notice
    # after the downgrade: GOLD is unprotected, so it is only warned and stepped down (7 days), no offers
    assert {day: out for day, out in busy_days(by_day).items() if day >= "2026-05-01"} == {
        "2026-05-01": ["tier DIAMOND->GOLD"],
        "2026-05-02": ["downgrade_warning"],
        "2026-05-04": ["tier_coupon GOLD 2026-W19"],
        "2026-05-09": ["tier GOLD->SILVER", "tier_coupon SILVER 2026-05", "tier_coupon SILVER 2026-05"],
        "2026-05-10": ["downgrade_warning"],
    }


def test_a_repeated_evaluation_grants_the_retention_offer_once():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")
    evaluate(m, "2026-03-31")
    _, first = evaluate(m, "2026-04-01")
    assert "retention_offer DIAMOND 2026-04-01" in describe(first)
    assert evaluate(m, "2026-04-01") == (False, [])  # the same evaluation redelivered
    _, other = evaluate(m, "2026-04-01T12:00:00+08:00", cause="rerun")  # another evaluation that day
    assert other == []
    assert [bid for bid, inst in m.state.benefits.items() if inst.benefit == "retention_offer"] == [
        grant_id("retention_offer", "2026-04-01", "DIAMOND")]


def test_a_tier_without_a_retention_offer_in_its_rules_gets_the_notice_only():
    data = SHIPPED.model_dump(mode="json")
    for tier in data["tiers"]["tiers"]:
        tier["retention_offer"] = None
    m = Member(TenantRules.model_validate(data), MEMBER, TENANT)
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")
    evaluate(m, "2026-03-31")
    _, out = evaluate(m, "2026-04-01")
    (notice,) = notices(out, NotificationKind.RETENTION_OFFER)
    assert "grant_id" not in notice.data
    assert [v for v in out if isinstance(v, BenefitGrant)] == []  # (this week's coupons came on 03-31)


def test_no_retention_offer_for_an_unprotected_tier_falling_short():
    m = shipped_member()
    m.pay("o1", 500, "2026-03-02T10:00:00+08:00")  # GOLD, no protection
    evaluate(m, "2026-03-31")
    _, out = evaluate(m, "2026-04-01")
    assert describe(out) == ["downgrade_warning"]


# -- 8. churn warning ------------------------------------------------------------


def test_churn_warning_30_days_after_the_last_login_then_every_7_days():
    m = shipped_member()
    m.login("2026-03-01T09:00:00+08:00")
    assert evaluate(m, "2026-03-31T08:59:59+08:00") == (False, [])  # 29 days 23:59:59
    changed, out = evaluate(m, "2026-03-31T09:00:00+08:00")  # exactly 30 days
    assert changed
    (warning,) = out
    assert (warning.notification_id, warning.kind, warning.message, warning.data) == (
        notification_id("2026-03-31T09:00:00+08:00", NotificationKind.CHURN_WARNING),
        NotificationKind.CHURN_WARNING,
        "no login since 2026-03-01",
        {"last_login_at": "2026-03-01T09:00:00+08:00", "days": 30},
    )
    by_day = daily(m, "2026-04-01", "2026-04-30")
    assert busy_days(by_day) == {day: ["churn_warning"] for day in ("2026-04-07", "2026-04-14", "2026-04-21",
                                                                    "2026-04-28")}
    assert by_day["2026-04-07"][0].data["days"] == 36  # 36 days 15 hours

    m.login("2026-04-29T09:00:00+08:00")  # back: the clock starts again from this login
    # 05-29 00:00 is 29 days 15 hours after it, 05-30 00:00 is 30 days 15 hours
    assert days_with(daily(m, "2026-04-30", "2026-06-06"), NotificationKind.CHURN_WARNING) == [
        "2026-05-30", "2026-06-06"]


def test_no_churn_warning_for_a_member_who_never_logged_in():
    """The churn clock runs from the last login (``last_login_at + churn_days``,
    README); the state keeps no join date, so a member who never logged in is
    never warned, however long ago their first event."""
    m = shipped_member()
    m.pay("o1", 40, "2026-03-01T09:00:00+08:00")
    assert m.state.last_login_at is None
    assert busy_days(daily(m, "2026-03-31", "2026-06-30")) == {}


def test_churn_warning_names_the_local_day_of_the_last_login():
    m = shipped_member()
    m.login("2026-02-28T17:00:00+00:00")  # 1 March 01:00 in Shanghai
    _, out = evaluate(m, "2026-04-01")  # 30 days 23 hours later
    (warning,) = out
    assert warning.data["days"] == 30
    assert warning.message == "no login since 2026-03-01"


# -- protection made visible (seed 003 §3.1) ----------------------------------------


def test_the_lookup_shows_a_protected_tiers_protection_and_the_pending_downgrade():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")  # DIAMOND: protected 30 days once short

    def lookup(at: str) -> dict:
        page = member_summary(m.state, m.rules, local(at))
        return {k: page[k] for k in ("tier", "protection_until", "downgrade_at", "pending_downgrade")}

    assert lookup("2026-03-20") == {"tier": "DIAMOND", "protection_until": None, "downgrade_at": None,
                                    "pending_downgrade": None}
    evaluate(m, "2026-04-01")  # short: no downgrade before 05-01
    may_first = local("2026-05-01").isoformat()
    assert lookup("2026-04-02") == {"tier": "DIAMOND", "protection_until": may_first, "downgrade_at": may_first,
                                    "pending_downgrade": {"to_tier": "GOLD", "at": may_first, "warned": False}}
    evaluate(m, "2026-04-24")  # warned 7 days ahead
    assert lookup("2026-04-25")["pending_downgrade"] == {"to_tier": "GOLD", "at": may_first, "warned": True}
    evaluate(m, "2026-05-01")
    gold = lookup("2026-05-01")
    assert (gold["tier"], gold["protection_until"], gold["pending_downgrade"]) == ("GOLD", None, None)
    evaluate(m, "2026-05-02")  # GOLD is not protected: a pending downgrade (the warning's 7 days), no protection
    assert lookup("2026-05-02") == {
        "tier": "GOLD", "protection_until": None, "downgrade_at": local("2026-05-09").isoformat(),
        "pending_downgrade": {"to_tier": "SILVER", "at": local("2026-05-09").isoformat(), "warned": True}}


def test_a_member_qualifying_again_has_no_pending_downgrade_on_the_lookup():
    m = shipped_member()
    m.pay("o1", 1000, "2026-03-02T10:00:00+08:00")
    evaluate(m, "2026-04-01")
    m.pay("o2", 1000, "2026-04-10T10:00:00+08:00")  # qualifies again: the next evaluation calls it off
    page = member_summary(m.state, m.rules, local("2026-04-10", "12:00:00"))
    assert page["pending_downgrade"] is None and page["tier"] == "DIAMOND"
