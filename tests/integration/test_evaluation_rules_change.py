"""Due marks hold only under the rules they were computed with: after a worker
restarts with a changed rules file, the next evaluation looks at every member
in full, through Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from engine.evaluation import evaluation_id
from memberflow.dev.cluster import LocalCluster
from tests.integration.fixtures import (
    SLICE,
    command,
    consumed_total,
    metric,
    quiet_members,
    stream_rules_dir,
    wait_until,
)

MEMBERS = 40


def write_rules(directory: Path, churn_days: int) -> None:
    stream_rules_dir(directory, evaluation={"slice_size": SLICE, "nudges": {"churn_days": churn_days}})


@pytest.fixture
def changing_rules(tmp_path: Path) -> Iterator[tuple[LocalCluster, Path]]:
    directory = tmp_path / "rules"
    directory.mkdir()
    write_rules(directory, churn_days=30)
    cluster = LocalCluster(tmp_path / "cluster", partitions=4, extra_env={"MEMBERFLOW_RULES_DIR": str(directory)})
    cluster.start_broker()
    try:
        yield cluster, directory
    finally:
        cluster.close()


def churn_warned(cluster: LocalCluster, as_of: str) -> set[str]:
    cause = evaluation_id(None, datetime.fromisoformat(as_of))
    return {v["member_id"] for _, v in cluster.consume(["notifications"], idle=1.0)
            if v.get("cause_event_id") == cause and v.get("kind") == "churn_warning"}


def looked_at(worker) -> float:
    return metric(worker, "memberflow_members_evaluated_total") + metric(worker, "memberflow_members_not_due_total")


def test_a_rules_change_voids_the_due_marks(changing_rules):
    cluster, directory = changing_rules
    events = quiet_members(MEMBERS, seed=41)  # logins on 2-9 March
    worker = cluster.add_worker("r1")
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=120)

    # 1 April under churn_days 30: the logins (09:00 on 2-9 March) are not 30 days
    # old yet; every member is stored with a mark due on its churn date (1-8 April, 09:00)
    first = "2026-04-01T00:00:00+08:00"
    cluster.produce([("commands", "*", command(first))])
    wait_until(lambda: looked_at(worker) >= MEMBERS, timeout=120)
    assert churn_warned(cluster, first) == set()

    # restarted with churn_days 20: every login is 20 days old by 2 April, though
    # the marks made under 30 say most members are not due before 2-8 April, 09:00
    worker.stop()
    write_rules(directory, churn_days=20)
    cluster.restart(worker)
    second = "2026-04-02T00:00:00+08:00"
    cluster.produce([("commands", "*", command(second))])
    wait_until(lambda: looked_at(worker) >= MEMBERS, timeout=120)
    everyone = {f"q{i:04d}" for i in range(MEMBERS)}
    wait_until(lambda: churn_warned(cluster, second) >= everyone, timeout=60)
    # the old marks would have passed over all but the 2 March logins (and a
    # redelivered command may pass over the members this one already marked)
    assert churn_warned(cluster, second) == everyone
    assert metric(worker, "memberflow_members_evaluated_total") >= MEMBERS
    worker.stop()
