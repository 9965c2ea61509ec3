"""Benefit usage as Prometheus metrics: instances issued, and what became of them, per benefit and tier."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from agents.metrics import Metrics
from engine.outcome import Emitted
from models.benefits import BenefitChange, BenefitStatus
from models.outputs import BenefitGrant

AT = datetime(2026, 3, 2, tzinfo=UTC)
COMMON = {"tenant_id": "default", "member_id": "m1", "occurred_at": AT, "cause_event_id": "e1"}


def grant(grant_id: str, benefit: str, tier: str | None, quantity: int = 1, **extra) -> Emitted:
    return Emitted("benefit-grants", "m1", BenefitGrant(grant_id=grant_id, benefit=benefit, tier=tier,
                                                        quantity=quantity, **COMMON, **extra))


def change(benefit: str, tier: str | None, action: str, status: BenefitStatus) -> Emitted:
    return Emitted("benefit-changes", "m1", BenefitChange(change_id=f"bc-{action}", benefit_id="bg-1", benefit=benefit,
                                                          tier=tier, status=status, action=action, uses=1, **COMMON))


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_issued_and_used_per_benefit_and_tier_give_the_usage_rate():
    registry = CollectorRegistry()
    metrics = Metrics(registry).benefits
    metrics.observe([grant("bg-1", "upgrade_gift", "GOLD"), grant("bg-2", "points_coupon", None, quantity=3),
                     grant("bg-3", "upgrade_gift", "GOLD", retracts="bg-0")])
    metrics.observe([change("upgrade_gift", "GOLD", "used", BenefitStatus.USED),
                     change("points_coupon", None, "expired", BenefitStatus.EXPIRED)])
    assert sample(registry, "memberflow_benefits_issued_total", benefit="upgrade_gift", tier="GOLD") == 1
    assert sample(registry, "memberflow_benefits_issued_total", benefit="points_coupon", tier="none") == 3
    used = sample(registry, "memberflow_benefit_changes_total", benefit="upgrade_gift", tier="GOLD", action="used")
    assert used == 1
    assert sample(registry, "memberflow_benefit_changes_total", benefit="points_coupon", tier="none",
                  action="expired") == 1
