"""Periodic evaluation through Kafka: slices per owned partition, exactly once
per member with two workers, and resumed without double effects after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.evaluation import evaluation_id
from memberflow.cluster import LocalCluster
from memberflow.replay import MemoryStore, replay
from tests.integration.conftest import consumed_total, metric, mixed_events, wait_until
from tests.integration.test_crash import OUTPUTS, output_id

pytestmark = pytest.mark.integration

SLICE = 7


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped rules with small slices, so an evaluation takes many steps."""
    directory = tmp_path_factory.mktemp("rules")
    data = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text())
    data["evaluation"] = {"slice_size": SLICE}
    (directory / "default.yaml").write_text(yaml.safe_dump(data))
    return directory


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, rules_dir: Path):
    c = LocalCluster(tmp_path_factory.mktemp("eval-cluster"), partitions=4,
                     extra_env={"MEMBERFLOW_RULES_DIR": str(rules_dir)})
    c.start_broker()
    try:
        yield c
    finally:
        c.close()


def command(as_of: str) -> dict:
    return {"type": "evaluate", "as_of": as_of}


def expected_outputs(lines: list[dict], rules_dir: Path) -> list[dict]:
    return [json.loads(e.value.model_dump_json()) for e in replay(lines, RuleBook.load(rules_dir), store=MemoryStore())]


def evaluation_ids_of(outputs, cause: str) -> set[str]:
    return {output_id(v) for _, v in outputs if v.get("cause_event_id") == cause}


def test_two_workers_evaluate_each_member_exactly_once(cluster, rules_dir):
    events = mixed_events(2000, members=250, seed=31, order_sensitive=False)
    members = {k for _, k, _ in events}
    first, second = cluster.add_worker("e1"), cluster.add_worker("e2")
    cluster.produce(events)
    wait_until(lambda: consumed_total(first) + consumed_total(second) >= len(events), timeout=180)

    as_of = "2026-04-01T00:00:00+08:00"
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: metric(first, "memberflow_members_evaluated_total")
               + metric(second, "memberflow_members_evaluated_total") >= len(members), timeout=120)
    assert metric(first, "memberflow_members_evaluated_total") > 0
    assert metric(second, "memberflow_members_evaluated_total") > 0

    lines = [{"topic": t, "key": k, "value": v} for t, k, v in events]
    lines.append({"topic": "commands", "key": "*", "value": command(as_of)})
    from datetime import datetime

    cause = evaluation_id(None, datetime.fromisoformat(as_of))
    want = {output_id(v) for v in expected_outputs(lines, rules_dir) if v.get("cause_event_id") == cause}
    assert len(want) > len(members) // 2  # coupons, nudges, downgrades scheduled...
    wait_until(lambda: evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) >= want, timeout=60)
    assert evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) == want
    # each member exactly once: the workers' counts add up to the member count
    total = metric(first, "memberflow_members_evaluated_total") + metric(second, "memberflow_members_evaluated_total")
    assert total == len(members)

    # the same command again evaluates everyone again and grants nothing new
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: metric(first, "memberflow_members_evaluated_total")
               + metric(second, "memberflow_members_evaluated_total") >= 2 * len(members), timeout=120)
    assert evaluation_ids_of(cluster.consume(OUTPUTS, idle=1.0), cause) == want
    first.stop()
    second.stop()


def test_a_crash_mid_evaluation_resumes_without_double_effects(cluster, rules_dir):
    events = mixed_events(3000, members=600, seed=37, order_sensitive=False)
    events = [(t, k, {**v, "member_id": f"x{v['member_id']}"}) for t, k, v in events]
    events = [(t, f"x{k}", v) for t, k, v in events]
    worker = cluster.add_worker("e3")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=180)

    as_of = "2026-04-02T00:00:00+08:00"
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: metric(worker, "memberflow_members_evaluated_total") >= 150, timeout=120, interval=0.02)
    worker.kill()
    cluster.restart(worker)

    from datetime import datetime

    cause = evaluation_id(None, datetime.fromisoformat(as_of))
    # replay sees every member the cluster holds: this module's earlier events too
    earlier = mixed_events(2000, members=250, seed=31, order_sensitive=False)
    # in the order the cluster saw them: the first test's events and evaluation, then these
    lines = [{"topic": t, "key": k, "value": v} for t, k, v in earlier]
    lines.append({"topic": "commands", "key": "*", "value": command("2026-04-01T00:00:00+08:00")})
    lines += [{"topic": t, "key": k, "value": v} for t, k, v in events]
    lines.append({"topic": "commands", "key": "*", "value": command(as_of)})
    want = {output_id(v) for v in expected_outputs(lines, rules_dir) if v.get("cause_event_id") == cause}
    wait_until(lambda: evaluation_ids_of(cluster.consume(OUTPUTS, idle=0.5), cause) >= want, timeout=180)
    got = [(t, v) for t, v in cluster.consume(OUTPUTS, idle=1.0) if v.get("cause_event_id") == cause]
    assert {output_id(v) for _, v in got} == want
    # no member got two different tier changes or coupon sets from one evaluation
    downgrades = [v["member_id"] for t, v in got if t == "tier-changes"]
    assert len(set(downgrades)) == len({output_id(v) for t, v in got if t == "tier-changes"})
