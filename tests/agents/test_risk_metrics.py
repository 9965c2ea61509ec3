"""Risk as Prometheus metrics (agents/metrics.py RiskMetrics), from what the engine emits: flags by
rule and action, operators' decisions (the release rate), open holds, members moved into locked and
frozen statuses."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from agents.metrics import Metrics
from engine.outcome import Emitted
from models.devices import RiskAction, RiskFlag, RiskRule
from tests.engine.test_spending import T0, account, decide, flags, spiky


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_flags_decisions_holds_and_statuses_are_counted():
    registry = CollectorRegistry()
    risk = Metrics(registry).risk
    held, locked = spiky("hold"), spiky("lock")
    risk.observe(held.pay("big", "500", T0 + timedelta(days=5)).outputs)
    risk.observe(locked.pay("big", "500", T0 + timedelta(days=5)).outputs)
    assert sample(registry, "memberflow_risk_flags_total", rule="amount_spike", action="hold") == 1
    assert sample(registry, "memberflow_risk_flags_total", rule="amount_spike", action="lock") == 1
    assert sample(registry, "memberflow_risk_flags_total", rule="orders_per_hour", action="flag_only") == 0
    assert sample(registry, "memberflow_risk_holds_open") == 1
    assert sample(registry, "memberflow_members_status", status="locked") == 1

    risk.observe(decide(held, "release", flags(held)[0].flag_id, T0 + timedelta(days=6)).outputs)
    risk.observe(decide(locked, "dismiss", flags(locked)[0].flag_id, T0 + timedelta(days=6)).outputs)
    assert sample(registry, "memberflow_risk_decisions_total", decision="release") == 1
    assert sample(registry, "memberflow_risk_decisions_total", decision="dismiss") == 1
    assert sample(registry, "memberflow_risk_decisions_total", decision="confirm") == 0
    assert sample(registry, "memberflow_risk_holds_open") == 0

    # the lock's appeal, then a freeze of the other member: locked -1, frozen +1
    risk.observe(account(locked, "unlock", T0 + timedelta(days=7), "rq-unlock").outputs)
    risk.observe(account(held, "freeze", T0 + timedelta(days=7), "rq-freeze").outputs)
    assert sample(registry, "memberflow_members_status", status="locked") == 0
    assert sample(registry, "memberflow_members_status", status="frozen") == 1
    risk.observe(account(held, "lock", T0 + timedelta(days=8), "rq-lock").outputs)  # frozen -> locked
    assert sample(registry, "memberflow_members_status", status="frozen") == 0
    assert sample(registry, "memberflow_members_status", status="locked") == 1


def test_the_device_agent_s_flags_are_counted_and_a_withdrawn_one_is_not():
    registry = CollectorRegistry()
    risk = Metrics(registry).risk
    common = {"tenant_id": "default", "member_id": "m4", "occurred_at": T0, "cause_event_id": "reg-m4",
              "rule": RiskRule.REGISTRATIONS_PER_DEVICE, "action": RiskAction.NO_REWARDS, "device_id": "d1",
              "members": ["m1", "m2", "m3", "m4"], "limit": 3, "window": timedelta(days=30)}
    risk.observe([Emitted("risk-flags", "default/d1", RiskFlag(flag_id="rf-1", **common)),
                  Emitted("risk-flags", "default/d1", RiskFlag(flag_id="rf-2", retracts="rf-1", **common))])
    assert sample(registry, "memberflow_risk_flags_total", rule="registrations_per_device",
                  action="no_registration_rewards") == 1
    assert sample(registry, "memberflow_risk_holds_open") == 0
