"""Live experiments as Prometheus metrics (agents/metrics.py ExperimentMetrics), per arm, from what the
engine emits for members in an experiment."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from agents.metrics import Metrics
from tests.engine.fixtures import paid, refunded
from tests.engine.test_experiments import START, diamond_order_points


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_orders_spend_points_tier_moves_and_grants_are_counted_per_arm() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    member, _ = diamond_order_points("B")
    for emitted in member.outputs:
        metrics.output(emitted.value)
    first = member.outputs[0].value
    metrics.order(paid("x1", "o1", "1000", START, member=member.member_id), first)
    metrics.order(refunded("x2", "o1", "30", START + timedelta(hours=2), member=member.member_id), first)
    arm = {"experiment": "diamond-x2", "variant": "B"}
    issued = sum(e.delta for e in member.ledger if e.kind.value == "earn")
    assert sample(registry, "memberflow_experiment_points_issued_total", **arm) == issued > 0
    assert sample(registry, "memberflow_experiment_orders_total", **arm) == 1
    assert sample(registry, "memberflow_experiment_spend_total", **arm) == 1000
    assert sample(registry, "memberflow_experiment_refunds_total", **arm) == 30
    assert sample(registry, "memberflow_experiment_tier_changes_total", **arm, direction="up") == len(
        member.tier_changes) >= 1
    assert sample(registry, "memberflow_experiment_benefits_total", **arm, action="granted") == len(member.grants)
    assert sample(registry, "memberflow_experiment_orders_total", experiment="diamond-x2", variant="A") == 0


def test_an_order_outside_every_experiment_counts_nothing() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry).experiments
    untagged = paid("x1", "o1", "10", START)
    metrics.order(untagged, untagged)  # no experiment field
    assert not [s for m in registry.collect() for s in m.samples if s.name.startswith("memberflow_experiment")]
