"""Live experiments as Prometheus metrics (agents/metrics.py ExperimentMetrics), per arm, from what the
engine emits for members in an experiment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prometheus_client import CollectorRegistry

from agents.metrics import ExperimentMetrics, Metrics
from config.experiments import arm_of
from engine.experiments import arm_tallies
from tests.engine.fixtures import Member
from tests.engine.test_experiments import RULES, START, member_in


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def counted(metrics: ExperimentMetrics, member: Member, act: Callable[[], object]) -> None:
    """``act`` on the member, its arm tallies fed to the metrics as the worker does around an event."""
    before = arm_tallies(member.state)
    act()
    metrics.counted(before, arm_tallies(member.state))


def test_orders_spend_points_tier_moves_and_grants_are_counted_per_arm() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    member = Member(RULES, member_in("B"))
    counted(metrics, member, lambda: member.pay("o1", "1000", START + timedelta(days=1)))
    counted(metrics, member, lambda: member.pay("o2", "100", START + timedelta(days=1, hours=1)))
    counted(metrics, member, lambda: member.refund("o1", "30", START + timedelta(days=1, hours=2)))
    for emitted in member.outputs:
        metrics.output(emitted.value)
    arm = {"experiment": "diamond-x2", "variant": "B"}
    issued = sum(e.delta for e in member.ledger if e.kind.value == "earn")
    assert sample(registry, "memberflow_experiment_points_issued_total", **arm) == issued > 0
    assert sample(registry, "memberflow_experiment_orders_total", **arm) == 2
    assert sample(registry, "memberflow_experiment_spend_total", **arm) == 1100
    assert sample(registry, "memberflow_experiment_refunds_total", **arm) == 30
    assert sample(registry, "memberflow_experiment_tier_changes_total", **arm, direction="up") == len(
        member.tier_changes) >= 1
    assert sample(registry, "memberflow_experiment_benefits_total", **arm, action="granted") == len(member.grants)
    assert sample(registry, "memberflow_experiment_orders_total", experiment="diamond-x2", variant="A") == 0
    assert sample(registry, "memberflow_experiment_members_total", **arm) == 1  # enrolled once, not per event


def test_each_member_is_counted_in_its_arm_once_when_it_enrols() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    in_b = [m for m in (f"m{i}" for i in range(1000))
            if (arm := arm_of(RULES.experiments[0], "default", m)) is not None and arm.variant == "B"][:2]
    members = [Member(RULES, member_in("A")), *(Member(RULES, m) for m in in_b)]
    for hour, member in enumerate(members * 2):  # two orders each
        counted(metrics, member, lambda m=member, h=hour: m.pay(f"o{h}", "10", START + timedelta(hours=h + 1)))
    assert sample(registry, "memberflow_experiment_members_total", experiment="diamond-x2", variant="A") == 1
    assert sample(registry, "memberflow_experiment_members_total", experiment="diamond-x2", variant="B") == 2


def test_refunds_count_what_the_experiment_counted_not_their_face_amount() -> None:
    """As the member's exposure (and so the read model's statistics): nothing of an order paid before
    the experiment, and no more of an order than it paid."""
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    member = Member(RULES, member_in("B"))
    steps = [lambda: member.pay("before", "300", START - timedelta(days=1)),
             lambda: member.pay("o1", "100", START + timedelta(days=1)),
             lambda: member.refund("before", "300", START + timedelta(days=2)),
             lambda: member.refund("o1", "60", START + timedelta(days=3)),
             lambda: member.refund("o1", "60", START + timedelta(days=4))]  # 20 more than is left of the order
    for step in steps:
        counted(metrics, member, step)
    arm = {"experiment": "diamond-x2", "variant": "B"}
    assert sample(registry, "memberflow_experiment_spend_total", **arm) == 100
    assert sample(registry, "memberflow_experiment_refunds_total", **arm) == 100
    assert member.state is not None and member.state.experiments["diamond-x2"].spend == 0


def test_an_order_outside_every_experiment_counts_nothing() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    member = Member(RULES, member_in("B"))
    counted(metrics, member, lambda: member.pay("o1", "10", START - timedelta(days=1)))
    assert not [s for m in registry.collect() for s in m.samples if s.name.startswith("memberflow_experiment")]
