"""Badges from business-line snapshots (seed 000): rule evaluation at every
boundary, upgrades with rights, missing/unparseable fields, stale snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from engine.apply import apply_event
from engine.intake import CONTRACTS, Invalid, parse_event
from engine.outcome import Applied
from models.outputs import BadgeChange, BenefitGrant, DeadLetterReason, TierDirection
from models.state import state_json
from tests.engine.badge_fixtures import SEED_PAYLOAD, Holder, shipped, snapshot, wealth

CST_MIDNIGHT = "2022-11-30T00:00:00+08:00"


@pytest.fixture(scope="module")
def rules():
    return shipped().default


def test_seed_000_payload_is_accepted_as_it_is():
    event = parse_event("business-scores", TypeAdapter(dict).dump_json(SEED_PAYLOAD), 65536)
    assert not isinstance(event, Invalid)
    assert (event.member_id, event.tenant_id, event.dt.isoformat()) == ("xxx", "default", "2022-11-30")
    assert event.scores == {"lc_score": "450", "gdlc_jy_flag": "0", "xjk_jy_amt": "1600.00", "jt_hold_amt": "3000.00"}
    assert event.event_id.startswith("bs-") and event.line_id is None
    # the same snapshot, keys in another order: the same derived id; other values: another id
    again = CONTRACTS["business-scores"].validate_python(dict(reversed(list(SEED_PAYLOAD.items()))))
    assert again.event_id == event.event_id
    other = CONTRACTS["business-scores"].validate_python({**SEED_PAYLOAD, "lc_score": "451"})
    assert other.event_id != event.event_id
    named = CONTRACTS["business-scores"].validate_python({**SEED_PAYLOAD, "event_id": "e1", "tenant_id": "t"})
    assert (named.event_id, named.tenant_id) == ("e1", "t")


@pytest.mark.parametrize(
    "payload",
    [
        {"lc_score": "450", "dt": "2022-11-30"},  # no user_pin
        {"user_pin": "xxx", "lc_score": "450"},  # no dt
        {"user_pin": "xxx", "dt": "2022-11-31"},  # no such day
        {"user_pin": "", "dt": "2022-11-30"},
        {"user_pin": "xxx", "dt": "2022-11-30", "line_id": "bad id!"},
    ],
)
def test_snapshots_without_member_or_date_are_invalid(payload):
    parsed = parse_event("business-scores", TypeAdapter(dict).dump_json(payload), 65536)
    assert isinstance(parsed, Invalid) and parsed.reason is DeadLetterReason.INVALID_EVENT


def test_seed_payload_gives_badges_and_their_rights(rules):
    m = Holder(rules, "xxx")
    out = m.send(**{k: v for k, v in SEED_PAYLOAD.items() if k not in ("user_pin", "dt")})
    assert out.result is Applied.APPLIED
    changes = {c.line_id: c for c in m.changes}
    assert {k: (c.from_level, c.to_level) for k, c in changes.items()} == {
        "wealth": (0, 2), "gold_bar": (0, 1), "small_treasury": (0, 1)}  # baitiao: no field of it
    wealth_change = changes["wealth"]
    assert wealth_change.direction is TierDirection.UP and wealth_change.rule_version == 1
    assert wealth_change.level_name == "Wealth Gold" and wealth_change.reason == "qualified"
    assert wealth_change.values == {"lc_score": "450", "jt_hold_amt": "3000.00", "gdlc_jy_flag": "0"}
    assert wealth_change.occurred_at == datetime.fromisoformat(CST_MIDNIGHT)  # dt 00:00, tenant zone
    wealth_grants = [g for g in m.grants if g.line_id == "wealth"]
    assert [(g.benefit, g.value, g.badge_level) for g in wealth_grants] == [
        ("wealth_fee_coupon", Decimal("20"), 2), ("wealth_market_report", None, 2)]  # level 2's only
    assert wealth_grants[0].valid_until - wealth_grants[0].valid_from == timedelta(days=30)
    assert len({g.grant_id for g in m.grants}) == len(m.grants) == 4
    # outputs are ordered: each change, then its grants
    kinds = [(type(o.value).__name__, o.value.line_id) for o in out.outputs]
    assert kinds.index(("BadgeChange", "wealth")) < kinds.index(("BenefitGrant", "wealth"))
    badge = m.state.badges["wealth"]
    assert (badge.level, badge.rule_version, badge.last_snapshot.isoformat()) == (2, 1, "2022-11-30")
    assert badge.since == datetime.fromisoformat(CST_MIDNIGHT)


def test_ids_are_deterministic_and_a_resent_snapshot_is_a_duplicate(rules):
    first, second = Holder(rules), Holder(rules)
    first.send(**wealth(450, 3000))
    second.send(**wealth(450, 3000))
    assert [o.value for o in first.outputs] == [o.value for o in second.outputs]
    again = first.send(**wealth(450, 3000))
    assert again.result is Applied.DUPLICATE and again.outputs == []


# Wealth: L1 lc >= 300; L2 lc >= 450 and jt >= 3000; L3 lc >= 600 and (flag or jt >= 50000)
@pytest.mark.parametrize(
    ("lc", "jt", "flag", "level"),
    [
        (299, "0", "0", 0),
        (300, "0", "0", 1),
        (449, "3000.00", "0", 1),
        (450, "2999.99", "0", 1),
        (450, "3000.00", "0", 2),
        (450, "3000", "1", 2),  # the flag alone does not reach L3 without lc 600
        (599, "50000", "1", 2),
        (600, "2999.99", "1", 3),  # any: the flag suffices at L3 (L2 does not hold: non-monotonic rules allowed)
        (600, "49999.99", "0", 2),
        (600, "50000.00", "0", 3),
        (600, "50000.00", "1", 3),
    ],
)
def test_wealth_levels_at_every_boundary(rules, lc, jt, flag, level):
    m = Holder(rules)
    m.send(**wealth(lc, jt, flag))
    assert m.level("wealth") == level
    assert [c.to_level for c in m.changes if c.line_id == "wealth"] == ([level] if level else [])


@pytest.mark.parametrize(("amount", "level"), [("999.99", 0), ("1000", 1), ("9999.99", 1), ("10000.00", 2),
                                               ("49999.99", 2), ("50000", 3)])
def test_gold_bar_thresholds(rules, amount, level):
    m = Holder(rules)
    m.send(jt_hold_amt=amount)  # feeds gold_bar only: wealth needs lc_score too
    assert m.level("gold_bar") == level
    assert "wealth" not in m.state.badges


@pytest.mark.parametrize(("score", "overdue", "level"), [("499", "0", 0), ("500", "0", 1), ("500", "1", 0),
                                                         ("650", "N", 2), ("750", "false", 3), ("900", "Y", 0)])
def test_baitiao_all_of_score_and_no_overdue_flag(rules, score, overdue, level):
    m = Holder(rules)
    m.send(bt_score=score, bt_yq_flag=overdue)
    assert m.level("baitiao") == level


def test_several_levels_at_once_is_one_change_with_the_top_levels_rights(rules):
    m = Holder(rules)
    m.send(xjk_jy_amt="25000.00")
    assert [(c.from_level, c.to_level) for c in m.changes] == [(0, 3)]
    assert [(g.benefit, g.quantity) for g in m.grants] == [("treasury_yield_boost", 1), ("treasury_free_transfer", 10)]


def test_each_step_up_is_a_change_naming_the_previous_level(rules):
    m = Holder(rules)
    m.send("2022-11-01", xjk_jy_amt="1000")
    m.send("2022-11-02", xjk_jy_amt="5000")
    m.send("2022-11-03", xjk_jy_amt="4000")  # lower: no downgrade on a snapshot
    m.send("2022-11-04", xjk_jy_amt="20000")
    assert [(c.from_level, c.to_level) for c in m.changes] == [(0, 1), (1, 2), (2, 3)]
    assert len({c.change_id for c in m.changes}) == 3


def test_a_lower_snapshot_does_not_downgrade_but_is_remembered(rules):
    m = Holder(rules)
    m.send("2022-11-01", **wealth(450, 3000))
    out = m.send("2022-11-02", **wealth(100, 0))
    assert out.result is Applied.APPLIED and out.outputs == []
    badge = m.state.badges["wealth"]
    assert badge.level == 2 and badge.values["lc_score"] == "100" and badge.last_snapshot.isoformat() == "2022-11-02"


def test_a_snapshot_older_than_the_last_applied_is_ignored_per_line(rules):
    m = Holder(rules)
    m.send("2022-11-30", **wealth(450, 3000))
    out = m.send("2022-11-29", **wealth(700, 60000, 1))
    assert out.result is Applied.APPLIED and out.outputs == []
    assert m.level("wealth") == 2 and m.state.badges["wealth"].values["lc_score"] == "450"
    # gold_bar was fed by the first snapshot too (jt 3000 -> L1); an older one is ignored there as well
    assert m.level("gold_bar") == 1
    # a line this member has no snapshot of yet takes an older date
    m.send("2022-11-01", xjk_jy_amt="5000")
    assert m.level("small_treasury") == 2
    # the same date again (a corrected snapshot) applies
    m.send("2022-11-30", **wealth(610, 3000, 1))
    assert m.level("wealth") == 3


def test_missing_field_of_the_named_line_is_dead_lettered_naming_it(rules):
    m = Holder(rules)
    out = m.send(line_id="wealth", lc_score="450", gdlc_jy_flag="0")
    assert out.result is Applied.REJECTED and out.reason is DeadLetterReason.INVALID_EVENT
    assert out.detail == "jt_hold_amt: missing, business line wealth needs it"
    assert m.state is None and out.outputs == []


def test_a_snapshot_no_line_can_read_is_dead_lettered_naming_the_missing_fields(rules):
    m = Holder(rules)
    out = m.send(lc_score="450")
    assert out.result is Applied.REJECTED
    assert out.detail == "jt_hold_amt, gdlc_jy_flag: missing, business line wealth needs them"
    out = m.send(zz_score="1")
    assert out.result is Applied.REJECTED and "no business line of tenant default reads" in out.detail
    out = m.send(line_id="nope", lc_score="1")
    assert out.result is Applied.REJECTED and out.detail.startswith("line_id: no business line 'nope'")


@pytest.mark.parametrize(
    ("scores", "detail"),
    [
        (wealth("4x0", 3000), "lc_score: '4x0' is not an integer (business line wealth reads it as int)"),
        (wealth(450, "3,000.00"), "jt_hold_amt: '3,000.00' is not a decimal (business line gold_bar reads it"),
        (wealth(450, 3000, "maybe"), "gdlc_jy_flag: 'maybe' is not a flag"),
        ({"xjk_jy_amt": "NaN"}, "xjk_jy_amt: 'NaN' is not a finite decimal"),
    ],
)
def test_a_value_that_does_not_parse_rejects_the_whole_snapshot(rules, scores, detail):
    m = Holder(rules)
    m.send("2022-11-01", xjk_jy_amt="1000")
    before = state_json(m.state).decode()
    out = m.send("2022-11-02", **{"xjk_jy_amt": "6000", **scores})
    assert out.result is Applied.REJECTED and out.detail.startswith(detail), out.detail
    assert state_json(m.state).decode() == before  # nothing half-applied, not even small_treasury


def test_line_id_limits_the_evaluation_to_that_line(rules):
    m = Holder(rules)
    m.send(line_id="gold_bar", **wealth(450, 3000))
    assert set(m.state.badges) == {"gold_bar"}


def test_tenants_without_own_rules_use_the_shipped_lines(rules):
    event = snapshot(**wealth(450, 3000)).model_copy(update={"tenant_id": "acme"})
    out = apply_event(None, event, rules)
    assert out.result is Applied.APPLIED
    assert [(o.value.tenant_id, o.value.line_id) for o in out.outputs if isinstance(o.value, BadgeChange)] == [
        ("acme", "gold_bar"), ("acme", "wealth")]
    assert all(isinstance(o.value, BadgeChange | BenefitGrant) for o in out.outputs)


def test_event_time_follows_the_tenant_time_zone(make_rules):
    rules = make_rules({"time_zone": "America/New_York"})
    rules = rules.model_copy(update={"business_lines": shipped().default.business_lines})
    m = Holder(rules)
    m.send("2022-11-30", xjk_jy_amt="1000")
    assert m.changes[0].occurred_at.isoformat() == "2022-11-30T00:00:00-05:00"
