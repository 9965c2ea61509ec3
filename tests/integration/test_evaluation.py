"""Periodic evaluation through Kafka: slices per owned partition, exactly once
per member with two workers, and resumed without double effects after a crash."""

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
    quiet_members,
    wait_until,
)


def looked_at(*workers) -> float:
    """Members evaluated or passed over as not due, by all the workers."""
    return sum(metric(w, "memberflow_members_evaluated_total") + metric(w, "memberflow_members_not_due_total")
               for w in workers)


def test_two_workers_evaluate_each_member_exactly_once_and_pass_over_only_what_is_not_due(slices_cluster, rules_dir):
    cluster = slices_cluster
    events = mixed_events(2000, members=250, seed=31, order_sensitive=False) + quiet_members(120, seed=31)
    members = {k for _, k, _ in events}
    first, second = cluster.add_worker("e1"), cluster.add_worker("e2")
    cluster.produce(events)
    wait_until(lambda: consumed_total(first) + consumed_total(second) >= len(events), timeout=180)

    as_of = "2026-04-01T00:00:00+08:00"
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: looked_at(first, second) >= len(members), timeout=120)
    assert metric(first, "memberflow_members_evaluated_total") > 0
    assert metric(second, "memberflow_members_evaluated_total") > 0

    lines = [{"topic": t, "key": k, "value": v} for t, k, v in events]
    lines.append({"topic": "commands", "key": "*", "value": command(as_of)})
    cause = evaluation_id(None, datetime.fromisoformat(as_of))
    want = {output_id(v) for v in expected_outputs(lines, rules_dir) if v.get("cause_event_id") == cause}
    assert len(want) > len(members) // 2  # coupons, nudges, downgrades scheduled...
    wait_until(lambda: evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) >= want, timeout=60)
    assert evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) == want
    # each member exactly once: the workers' counts add up to the member count
    assert looked_at(first, second) == len(members)

    # the same command again looks at everyone again and grants nothing new; the
    # members the first run left with nothing due are now passed over unread
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: looked_at(first, second) >= 2 * len(members), timeout=120)
    assert evaluation_ids_of(cluster.consume(OUTPUTS, idle=1.0), cause) == want
    passed_over = metric(first, "memberflow_members_not_due_total") + metric(second, "memberflow_members_not_due_total")
    assert passed_over > 0

    # a week later: the members passed over get exactly what the replay, which
    # evaluates every member, gives them
    later = "2026-04-08T00:00:00+08:00"
    cluster.produce([("commands", "*", command(later))])
    wait_until(lambda: looked_at(first, second) >= 3 * len(members), timeout=120)
    lines.append({"topic": "commands", "key": "*", "value": command(later)})
    later_cause = evaluation_id(None, datetime.fromisoformat(later))
    want_later = {output_id(v) for v in expected_outputs(lines, rules_dir) if v.get("cause_event_id") == later_cause}
    wait_until(lambda: evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), later_cause) >= want_later, timeout=60)
    assert evaluation_ids_of(cluster.consume(OUTPUTS, idle=1.0), later_cause) == want_later
    assert looked_at(first, second) == 3 * len(members)
    assert metric(first, "memberflow_members_not_due_total") + metric(second, "memberflow_members_not_due_total") \
        > passed_over
    cluster.stop(first, second)
