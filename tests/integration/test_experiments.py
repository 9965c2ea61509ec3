"""A live experiment through the real worker and broker: the rules of this module try DIAMOND's tier
multiplier at 2 (variant B) against 1.5 (control A, and a 20 % holdout).  Every member's outputs name
its arm, B's members earn the overlay's points, the outputs equal the offline replay's, the member
lookup shows the arm, and the worker's metrics count each arm's orders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from config.experiments import HOLDOUT, arm_of
from config.rules import RuleBook
from memberflow.dev.cluster import LocalCluster
from tests.integration.fixtures import comparable, effective, metric, replayed, stream_rules_dir, wait_until

START = "2026-03-01T00:00:00+08:00"
EXPERIMENT = {"id": "diamond-x2", "description": "DIAMOND earns double", "population": {"starts_at": START},
              "holdout": "0.2",
              "variants": [{"name": "A"},
                           {"name": "B", "overlay": {"points": {"earning": {"tier_multipliers": {"tiers": {
                               "DIAMOND": 2}}}}}}]}
MEMBERS = [f"ex-{i}" for i in range(30)]


@pytest.fixture(scope="module")
def experiment_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, RuleBook]]:
    rules = stream_rules_dir(tmp_path_factory.mktemp("rules"), experiments=[EXPERIMENT])
    c = LocalCluster(tmp_path_factory.mktemp("experiment-cluster"), partitions=4,
                     extra_env={"MEMBERFLOW_RULES_DIR": str(rules)})
    c.start_broker()
    try:
        yield c, RuleBook.load(rules)
    finally:
        c.close()


def orders(member: str) -> list[tuple[str, str, dict]]:
    def order(n: int, amount: str, at: str) -> tuple[str, str, dict]:
        return "orders", member, {"event_id": f"{member}-pay-{n}", "member_id": member, "occurred_at": at,
                                  "type": "order_paid", "order_id": f"{member}-o{n}", "amount": amount}
    return [order(1, "1000.00", "2026-03-02T10:00:00+08:00"), order(2, "100.00", "2026-03-03T10:00:00+08:00")]


def test_each_arm_is_judged_by_its_rules_and_its_outputs_name_it(experiment_cluster):
    cluster, book = experiment_cluster
    worker = cluster.add_worker("ex1")
    events = [e for m in MEMBERS for e in orders(m)]
    cluster.produce(events)
    arms = {m: arm_of(book.default.experiments[0], "default", m) for m in MEMBERS}
    assert {a.variant for a in arms.values() if a} == {"A", "B", HOLDOUT}  # every arm has members here

    def ledger() -> list[dict]:
        return [v for _, v in cluster.consume(["points-ledger"], idle=1.0) if v.get("member_id") in arms]

    def second_orders_earned() -> bool:
        return {e["order_id"] for e in ledger() if e["order_id"] and e["order_id"].endswith("-o2")} == {
            f"{m}-o2" for m in MEMBERS}

    wait_until(second_orders_earned, timeout=90)
    entries = ledger()
    for member, arm in arms.items():
        mine = [e for e in entries if e["member_id"] == member]
        assert {(e.get("experiment"), e.get("variant")) for e in mine} == {(arm.experiment, arm.variant)}
        extra = [e["delta"] for e in mine if e["order_id"] == f"{member}-o2" and e["rule"] == "tier_multiplier"]
        assert extra == ([100] if arm.variant == "B" else [50]), (member, arm)

    live = [v for _, v in cluster.consume(["points-ledger", "tier-changes"], idle=1.0) if v.get("member_id") in arms]
    expected = [v for v in replayed(events, book) if v.get("member_id") in arms and ("entry_id" in v or "to_tier" in v)]
    assert {k: comparable(v) for k, v in effective(live).items()} == \
        {k: comparable(v) for k, v in effective(expected).items()}

    member = next(m for m, a in arms.items() if a.variant == "B")
    status, view = worker.get_json(f"/members/{member}?as_of=2026-03-04T00:00:00%2B08:00")
    assert status == 200
    assert view["experiment_arm"] == {"experiment": "diamond-x2", "variant": "B"}
    assert view["experiments"][0]["orders"] == 2 and view["experiments"][0]["spend"] == "1100.00"

    per_arm = Counter(a.variant for a in arms.values())
    for variant, members in per_arm.items():
        wait_until(lambda v=variant, n=members: metric(worker, "memberflow_experiment_orders_total",
                                                       experiment="diamond-x2", variant=v) == 2 * n, timeout=30)
