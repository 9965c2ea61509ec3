"""Live experiments in the engine: an arm's rules judge its members, its outputs name it, exposures add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.experiments import HOLDOUT, arm_of
from config.rules import TenantRules
from engine.corrections import comparable, effective
from engine.evaluation import evaluate_member, next_due
from engine.views import member_summary
from models.outputs import Output
from tests.engine.fixtures import Member, make_rules
from tests.engine.test_event_time import Member as TimedMember
from tests.engine.test_event_time import login, order, refund

START = datetime(2026, 3, 1, tzinfo=UTC)
STOP = datetime(2026, 3, 20, tzinfo=UTC)
DIAMOND_X2 = {"points": {"earning": {"tier_multipliers": {"tiers": {"DIAMOND": 2}}}}}


def rules(**experiment: Any) -> TenantRules:
    spec = {"id": "diamond-x2", "population": {"starts_at": START.isoformat()}, "holdout": "0.2",
            "variants": [{"name": "A"}, {"name": "B", "overlay": DIAMOND_X2}], **experiment}
    return make_rules({"points": {"earning": {"tier_multipliers": {"enabled": True}}}, "experiments": [spec]})


RULES = rules()


def member_in(variant: str, rules: TenantRules = RULES) -> str:
    return next(m for m in (f"m{i}" for i in range(1000))
                if (arm := arm_of(rules.experiments[0], "default", m)) is not None and arm.variant == variant)


def diamond_order_points(variant: str, when: datetime = START + timedelta(days=1)) -> tuple[Member, int]:
    m = Member(RULES, member_in(variant))
    m.pay("o1", "1000", when)  # DIAMOND on 30-day spend
    m.pay("o2", "100", when + timedelta(hours=1))
    extra = [e.delta for e in m.ledger if e.order_id == "o2" and e.rule == "tier_multiplier"]
    return m, sum(extra)


def test_a_variant_earns_by_its_overlay_and_the_others_by_the_base_rules() -> None:
    assert diamond_order_points("B")[1] == 100  # x2 on 100
    assert diamond_order_points("A")[1] == 50  # x1.5
    assert diamond_order_points(HOLDOUT)[1] == 50


def test_every_output_of_a_member_in_an_arm_names_the_experiment_and_variant() -> None:
    for variant in ("A", "B", HOLDOUT):
        m, _ = diamond_order_points(variant)
        values: list[Output] = [o.value for o in m.outputs]
        assert values and {(v.experiment, v.variant) for v in values} == {("diamond-x2", variant)}
        assert all(v.rules_version == RULES.version for v in values)
        assert f'"variant":"{variant}"' in values[0].model_dump_json()


def test_the_exposure_adds_up_what_the_member_did_in_the_experiment() -> None:
    m, _ = diamond_order_points("B")
    m.refund("o2", "40", START + timedelta(days=2))
    assert m.state is not None and m.state.experiments
    exposed = m.state.experiments["diamond-x2"]
    earned = sum(e.delta for e in m.ledger if e.kind.value == "earn")
    assert (exposed.variant, exposed.spend, exposed.orders, exposed.points_issued) == ("B", Decimal(1060), 2, earned)
    assert exposed.upgrades == len([t for t in m.tier_changes if t.direction.value == "up"]) >= 1
    assert exposed.grants == len(m.grants)
    assert exposed.enrolled_at == START + timedelta(days=1)
    summary = member_summary(m.state, RULES, START + timedelta(days=3))
    assert summary["experiment_arm"] == {"experiment": "diamond-x2", "variant": "B"}
    assert summary["experiments"][0]["spend"] == "1060" and summary["experiments"][0]["orders"] == 2


def test_a_refund_takes_back_only_what_the_experiment_counted_and_no_more_than_the_order() -> None:
    m = Member(RULES, member_in("B"))
    m.pay("before", "300", START - timedelta(days=1))  # paid before the experiment started
    m.pay("o1", "100", START + timedelta(days=1))
    m.refund("before", "300", START + timedelta(days=2))
    m.refund("o1", "60", START + timedelta(days=3))
    m.refund("o1", "60", START + timedelta(days=4))  # 20 more than is left of the order
    assert m.state is not None and m.state.experiments
    assert m.state.experiments["diamond-x2"].spend == Decimal(0)


def test_outside_the_window_and_after_a_stop_members_are_on_the_base_rules_untagged() -> None:
    before = Member(RULES, member_in("B"))
    before.pay("o1", "1000", START - timedelta(days=2))
    before.pay("o2", "100", START - timedelta(days=1))
    assert all(o.value.experiment is None for o in before.outputs)
    assert before.state is not None and not before.state.experiments
    stopped = rules(stopped_at=STOP.isoformat())
    m = Member(stopped, member_in("B", stopped))
    m.pay("o1", "1000", STOP + timedelta(days=1))
    m.pay("o2", "100", STOP + timedelta(days=1, hours=1))
    assert [e.delta for e in m.ledger if e.order_id == "o2" and e.rule == "tier_multiplier"] == [50]
    assert all(o.value.variant is None for o in m.outputs)


def test_the_evaluation_judges_by_the_arm_and_is_due_when_the_experiment_starts_or_ends() -> None:
    m, _ = diamond_order_points("B")
    assert m.state is not None
    after = START + timedelta(days=60)  # spend has left the window: a downgrade is scheduled or made
    _, outputs = evaluate_member(m.state, RULES, after, "eval-1")
    assert outputs and {(o.value.experiment, o.value.variant) for o in outputs} == {("diamond-x2", "B")}
    stopped = rules(stopped_at=STOP.isoformat())
    fresh = Member(stopped, member_in("B", stopped))
    fresh.login(START - timedelta(days=10))
    assert fresh.state is not None
    due = next_due(fresh.state, stopped, START - timedelta(days=5))
    assert due is not None and due <= START


def test_a_late_order_gives_the_exposure_it_would_have_had_in_time() -> None:
    late_rules = rules(holdout="0")
    member = member_in("B", late_rules)

    def feed(*events: tuple[str, dict[str, Any]]) -> TimedMember:
        m = TimedMember(late_rules)
        for topic, value in events:
            m.arrive(topic, {**value, "member_id": member})
        return m

    day = [(START + timedelta(days=d)).isoformat() for d in range(6)]
    events = [order("e1", "1000", day[1]), order("e2", "100", day[2]), refund("e3", "e2", "30", day[3]),
              login("e4", day[5])]
    in_time = feed(*events)
    late = feed(events[0], events[3], events[1], events[2])  # the login fetched first
    assert late.state.experiments == in_time.state.experiments
    assert late.state.experiments["diamond-x2"].spend == Decimal(1070)
    assert {k: comparable(o.value) for k, o in effective(late.published).items()} == \
        {k: comparable(o.value) for k, o in effective(in_time.published).items()}
