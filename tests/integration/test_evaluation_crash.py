"""A worker SIGKILLed in the middle of a periodic evaluation resumes it after
restart: no double grants, no double downgrades, no skipped members."""

from __future__ import annotations

from datetime import datetime

from engine.evaluation import evaluation_id
from tests.integration.fixtures import (
    OUTPUTS,
    command,
    consumed_total,
    evaluation_ids_of,
    expected_outputs,
    metric,
    mixed_events,
    output_id,
    wait_until,
)


def test_a_crash_mid_evaluation_resumes_without_double_effects(slices_cluster, rules_dir):
    cluster = slices_cluster
    events = mixed_events(3000, members=600, seed=37, order_sensitive=False)
    worker = cluster.add_worker("e3")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=180)

    as_of = "2026-04-02T00:00:00+08:00"
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: metric(worker, "memberflow_members_evaluated_total")
               + metric(worker, "memberflow_members_not_due_total") >= 150, timeout=120, interval=0.02)
    worker.kill()
    cluster.restart(worker)


    cause = evaluation_id(None, datetime.fromisoformat(as_of))
    lines = [{"topic": t, "key": k, "value": v} for t, k, v in events]
    lines.append({"topic": "commands", "key": "*", "value": command(as_of)})
    want = {output_id(v) for v in expected_outputs(lines, rules_dir) if v.get("cause_event_id") == cause}
    wait_until(lambda: evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) >= want, timeout=180)
    got = [(t, v) for t, v in cluster.consume(OUTPUTS, idle=1.0) if v.get("cause_event_id") == cause]
    assert {output_id(v) for _, v in got} == want
    # no member got two different tier changes or coupon sets from one evaluation
    downgrades = [v["member_id"] for t, v in got if t == "tier-changes"]
    assert len(set(downgrades)) == len({output_id(v) for t, v in got if t == "tier-changes"})
