"""``evaluate_badges(step, as_of)``: downgrades only at periodic evaluation,
with the tiers' protection and warning semantics, per line."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.badges import rights_period
from engine.evaluation import evaluate_member
from engine.published_lines import PublishedLines
from models.outputs import BadgeChange, BenefitGrant, Notification, NotificationKind, TierDirection
from models.state import state_json
from tests.engine.badge_fixtures import Holder, shipped, wealth

T0 = datetime.fromisoformat("2022-12-01T00:00:00+08:00")


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def rules_with(**wealth_over: Any):
    """Shipped rules with the Wealth line changed (as a published version 2)."""
    line = shipped().default.business_lines["wealth"].model_dump(mode="json")
    live = PublishedLines(shipped())
    offer = live.offer(json.dumps({**line, **wealth_over, "line_id": "wealth", "version": 2}).encode(), 65536)
    assert offer.verdict.value == "applied", offer.detail
    return live.book.default


def fallen(rules) -> Holder:
    """A member at Wealth 2 (their only badge) whose latest snapshot qualifies for nothing."""
    m = Holder(rules)
    m.send("2022-11-01", line_id="wealth", **wealth(450, 3000))
    m.send("2022-11-30", line_id="wealth", **wealth(100, 0))
    assert m.level("wealth") == 2 and set(m.state.badges) == {"wealth"}
    return m


def wealth_changes(m: Holder):
    return [c for c in m.changes if c.line_id == "wealth"]


def renewed(out, line_id: str = "wealth") -> list[tuple[str, int]]:
    """(month, badge level) of the outputs of ``line_id``, which must all be renewal grants."""
    assert all(isinstance(o.value, BenefitGrant) for o in out), out
    return [(o.value.details["period"], o.value.badge_level) for o in out if o.value.line_id == line_id]


def test_short_member_is_warned_then_downgraded_one_level_after_protection():
    m = fallen(shipped().default)  # wealth: protection 30 days, warning 7 days, one_down
    changed, out = m.evaluate(at(0))
    # scheduled: no downgrade before at(30), no warning before at(23); the level still holds, so
    # December's evaluation renews its two rights
    assert changed and renewed(out) == [("2022-12", 2)] * 2
    badge = m.state.badges["wealth"]
    assert badge.protection_until == at(30) and not badge.downgrade_warned
    assert m.evaluate(at(22)) == (False, [])
    changed, out = m.evaluate(at(23))
    assert changed
    (warning,) = [o.value for o in out]
    assert warning.kind is NotificationKind.DOWNGRADE_WARNING
    assert warning.data == {"line_id": "wealth", "from_level": 2, "to_level": 1,
                            "effective_at": at(30).isoformat(), "rule_version": 1}
    assert m.evaluate(at(29)) == (False, [])  # warned once
    changed, out = m.evaluate(at(30))
    (change,) = [o.value for o in out]
    assert (change.from_level, change.to_level, change.direction) == (2, 1, TierDirection.DOWN)
    assert (change.reason, change.rule_version, change.occurred_at) == ("downgrade", 1, at(30))
    assert m.grants and all(g.badge_level == 2 for g in m.grants if g.line_id == "wealth")  # no grant going down
    badge = m.state.badges["wealth"]
    assert (badge.level, badge.since, badge.protection_until, badge.downgrade_warned) == (1, at(30), None, False)
    # still short of level 1: the next evaluation starts a new protection period
    m.evaluate(at(31))
    assert m.state.badges["wealth"].protection_until == at(61)
    m.evaluate(at(61))
    assert [(c.from_level, c.to_level) for c in wealth_changes(m)] == [(0, 2), (2, 1), (1, 0)]


def test_evaluating_twice_as_of_the_same_moment_changes_nothing_the_second_time():
    m = fallen(shipped().default)
    for days in (0, 23, 30):
        first = m.evaluate(at(days))
        snapshot = state_json(m.state).decode()
        assert first[0]
        assert m.evaluate(at(days)) == (False, [])
        assert state_json(m.state).decode() == snapshot


def test_to_qualified_goes_straight_to_the_qualified_level():
    m = fallen(rules_with(downgrade="to_qualified", protection_days=0, downgrade_warning_days=0))
    changed, out = m.evaluate(at(0))
    assert changed and [(c.from_level, c.to_level) for c in [o.value for o in out]] == [(2, 0)]
    assert out[0].value.rule_version == 2


def test_no_protection_and_no_warning_downgrades_at_once():
    m = fallen(rules_with(protection_days=0, downgrade_warning_days=0))
    m.evaluate(at(0))
    assert m.level("wealth") == 1 and m.notifications == []


def test_warning_days_longer_than_protection_set_the_wait():
    m = fallen(rules_with(protection_days=3, downgrade_warning_days=10))
    changed, out = m.evaluate(at(0))
    notes = [o.value.kind for o in out if isinstance(o.value, Notification)]
    assert notes == [NotificationKind.DOWNGRADE_WARNING]  # 10 days ahead, at once
    assert m.state.badges["wealth"].protection_until == at(10)
    m.evaluate(at(9))
    assert m.level("wealth") == 2
    m.evaluate(at(10))
    assert m.level("wealth") == 1


@pytest.mark.parametrize("via", ["snapshot", "evaluation"])
def test_qualifying_again_cancels_the_pending_downgrade(via):
    m = fallen(shipped().default)
    m.evaluate(at(0))  # scheduled
    m.evaluate(at(25))  # warned
    assert m.state.badges["wealth"].downgrade_warned
    if via == "snapshot":
        m.send("2022-12-27", **wealth(460, 3500))
    else:
        m.state.badges["wealth"].values.update(lc_score="460", jt_hold_amt="3500.00")
        assert m.evaluate(at(26)) == (True, [])
    badge = m.state.badges["wealth"]
    assert (badge.protection_until, badge.downgrade_warned) == (None, False)
    changed, out = m.evaluate(at(60))  # a new month: the held level's rights, nothing else
    assert changed and renewed(out) == [("2023-01", 2)] * 2
    assert m.level("wealth") == 2


def test_an_evaluation_upgrades_when_a_newer_version_lowers_a_threshold():
    m = Holder(shipped().default)
    m.send("2022-11-01", **wealth(250, 0))
    assert m.level("wealth") == 0
    m.rules = rules_with()  # same thresholds, version 2: nothing to do
    assert m.evaluate(at(0)) == (False, [])
    m.rules = rules_with(levels=[{"level": 1, "name": "Wealth Silver",
                                 "rule": {"field": "lc_score", "op": ">=", "value": 200},
                                 "rights": [{"benefit": "wealth_fee_coupon", "value": 10}]}])
    changed, out = m.evaluate(at(1))
    kinds = [(type(o.value).__name__) for o in out]
    assert changed and kinds == ["BadgeChange", "BenefitGrant"]
    assert (out[0].value.to_level, out[0].value.rule_version, out[0].value.reason) == (1, 2, "evaluation")


def test_a_version_with_fewer_levels_brings_a_higher_badge_down_to_its_top():
    m = Holder(shipped().default)
    m.send("2022-11-01", **wealth(700, 60000))
    assert m.level("wealth") == 3
    m.rules = rules_with(protection_days=0, downgrade_warning_days=0, levels=[
        {"level": 1, "name": "Only", "rule": {"field": "lc_score", "op": ">=", "value": 900}}])
    m.evaluate(at(0))
    assert [(c.from_level, c.to_level) for c in wealth_changes(m)][-1] == (3, 1)
    assert m.evaluate(at(1))[0] and m.level("wealth") == 0


def test_values_a_newer_version_cannot_read_keep_the_badge_until_the_next_snapshot():
    m = fallen(shipped().default)
    line = shipped().default.business_lines["wealth"].model_dump(mode="json")
    line["fields"]["lc_rank"] = "int"
    m.rules = rules_with(fields=line["fields"])
    changed, out = m.evaluate(at(0))
    assert renewed(out) == [("2022-12", 2)] * 2  # the level is kept, so are its rights
    assert m.state.badges["wealth"].protection_until is None


def test_as_of_may_be_a_local_day():
    m = fallen(rules_with(protection_days=0, downgrade_warning_days=0))
    m.evaluate(date(2022, 12, 1))
    (change,) = [c for c in wealth_changes(m) if c.direction is TierDirection.DOWN]
    assert change.occurred_at == T0


def test_the_periodic_evaluation_runs_the_badge_hook():
    m = fallen(rules_with(protection_days=0, downgrade_warning_days=0))
    changed, outputs = evaluate_member(m.state, m.rules, at(0), "eval-x")
    badge_changes = [o.value for o in outputs if isinstance(o.value, BadgeChange)]
    assert changed and [(c.line_id, c.from_level, c.to_level, c.cause_event_id) for c in badge_changes] == [
        ("wealth", 2, 1, "eval-x")]


# -- periodic rights (issue 20 item 4) ------------------------------------------------------


def test_rights_are_renewed_by_the_first_evaluation_of_each_month_while_the_level_holds():
    m = Holder(shipped().default)
    m.send("2022-11-01", line_id="wealth", **wealth(450, 3000))  # Wealth Gold: a fee coupon and a report
    reached = [g.grant_id for g in m.grants]
    assert len(reached) == 2 and rights_period(m.state, "wealth") == "2022-11"
    assert m.evaluate(at(-10)) == (False, [])  # later in November: issued for it on reaching the level
    changed, out = m.evaluate(at(0))
    assert changed and renewed(out) == [("2022-12", 2)] * 2
    december = [o.value for o in out]
    assert [(g.benefit, g.value, g.valid_from, g.valid_until) for g in december] == [
        ("wealth_fee_coupon", Decimal(20), at(0), at(30)), ("wealth_market_report", None, at(0), at(30))]
    assert m.evaluate(at(14)) == (False, [])  # once a month
    changed, out = m.evaluate(at(31))
    assert renewed(out) == [("2023-01", 2)] * 2
    ids = reached + [g.grant_id for g in december] + [o.value.grant_id for o in out]
    assert len(set(ids)) == 6 and set(ids) <= set(m.state.benefits)  # six instances, each its own id


def test_a_renewal_has_the_same_ids_whatever_evaluation_issues_it_and_is_issued_once():
    one, two = Holder(shipped().default), Holder(shipped().default)
    for m in (one, two):
        m.send("2022-11-01", line_id="wealth", **wealth(450, 3000))
    _, first = one.evaluate(at(0), cause="nightly")
    _, second = two.evaluate(at(2), cause="rerun")  # another cause, later in the same month
    assert [o.value.grant_id for o in first] == [o.value.grant_id for o in second]
    snapshot = state_json(one.state).decode()
    assert one.evaluate(at(0), cause="nightly") == (False, [])  # a redelivered evaluation
    assert state_json(one.state).decode() == snapshot


def test_no_rights_for_a_level_the_member_has_lost():
    m = fallen(rules_with(protection_days=0, downgrade_warning_days=0))  # Wealth 2 -> 1 at the first evaluation
    changed, out = m.evaluate(at(0))
    changes = [o.value for o in out if isinstance(o.value, BadgeChange)]
    assert [(c.from_level, c.to_level) for c in changes] == [(2, 1)]
    grants = [o for o in out if isinstance(o.value, BenefitGrant)]
    assert renewed(grants) == [("2022-12", 1)]  # the level held now, not the one lost
    assert grants[0].value.benefit == "wealth_fee_coupon" and grants[0].value.value == Decimal(10)
    m.evaluate(at(31))  # January: short of level 1 too -> level 0
    assert m.level("wealth") == 0
    assert m.evaluate(at(62)) == (False, [])  # February: no badge, no rights
    assert [g.badge_level for g in m.grants if g.valid_from is not None and g.valid_from >= at(31)] == []


def test_an_upgrade_by_evaluation_issues_the_new_level_once_that_month():
    m = Holder(shipped().default)
    m.send("2022-11-01", **wealth(250, 0))
    m.rules = rules_with(levels=[{"level": 1, "name": "Wealth Silver",
                                 "rule": {"field": "lc_score", "op": ">=", "value": 200},
                                 "rights": [{"benefit": "wealth_fee_coupon", "value": 10}]}])
    m.evaluate(at(1))
    assert m.evaluate(at(2)) == (False, [])
    assert [g.badge_level for g in m.grants] == [1]
    assert renewed(m.evaluate(at(31))[1]) == [("2023-01", 1)]
