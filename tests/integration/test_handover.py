"""A worker that takes over partitions rebuilds their state from the changelog:
it must end with exactly the state the previous owner stored, down to the last
record of the last changelog batch (Tansu reports the end of a partition as
the first offset of its last batch + 1, so trusting it loses that batch)."""

from __future__ import annotations

from datetime import datetime

import pytest

from config.rules import RuleBook
from engine.views import member_summary
from memberflow.dev.cluster import LocalCluster, WorkerProcess
from memberflow.tools.replay import MemoryStore
from tables.members import state_key
from tests.integration.fixtures import OUTPUTS, effective, mixed_events, replayed, wait_until

AS_OF = "2026-04-01T00:00:00%2B08:00"
COMPARED = ("tier", "status", "growth", "spend_30d", "spend_365d", "points")


def summaries(worker: WorkerProcess, members: list[str]) -> dict[str, dict]:
    out = {}
    for member in members:
        status, got = worker.get_json(f"/members/{member}?as_of={AS_OF}")
        out[member] = {k: got[k] for k in COMPARED} if status == 200 else {"status": status}
    return out


def test_a_fresh_worker_taking_over_recovers_the_last_changelog_batch_too(tmp_path, stream_rules):
    events = mixed_events(3000, members=200, seed=31, order_sensitive=False)
    rules = RuleBook.load(stream_rules)
    store = MemoryStore()
    expected_outputs = effective(replayed(events, rules, store))
    members = sorted({k for _, k, _ in events})
    as_of = datetime.fromisoformat(AS_OF.replace("%2B", "+"))
    expected = {m: {k: member_summary(store.states[state_key("default", m)], rules.default, as_of)[k]
                    for k in COMPARED} for m in members}

    with LocalCluster(tmp_path / "cluster", partitions=4,
                      extra_env={"MEMBERFLOW_RULES_DIR": str(stream_rules)}) as cluster:
        first = cluster.add_worker("first")
        cluster.produce(events)  # one burst: every partition's last changelog batch holds many records
        wait_until(lambda: effective(v for _, v in cluster.consume(OUTPUTS, idle=0.5)) == expected_outputs,
                   timeout=120, interval=1.0)
        assert summaries(first, members) == expected
        first.stop()

        second = cluster.add_worker("second")  # fresh data dir: everything comes from the changelog
        got: dict[str, dict] = {}

        def recovered() -> bool:
            got.update(summaries(second, members))
            return got == expected

        try:
            wait_until(recovered, timeout=60, interval=1.0)
        except AssertionError:
            wrong = sorted(m for m in members if got.get(m) != expected[m])
            pytest.fail(f"{len(wrong)} of {len(members)} members recovered wrong, e.g. "
                        f"{[(m, got.get(m), expected[m]) for m in wrong[:2]]}")
