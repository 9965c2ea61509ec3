"""A live experiment through the real worker and broker: the rules of this module try DIAMOND's tier
multiplier at 2 (variant B) against 1.5 (control A, and a 20 % holdout).  Every member's outputs name
its arm, B's members earn the overlay's points, the outputs equal the offline replay's, the member
lookup shows the arm, and the worker's metrics count each arm's orders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from config.experiments import HOLDOUT, arm_of
from config.rules import RuleBook
from memberflow.dev.cluster import LocalCluster
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from tests.integration.fixtures import comparable, effective, metric, replayed, stream_rules_dir, wait_until
from tests.integration.operators import admin_service
from tests.integration.test_admin import call

START = "2026-03-01T00:00:00+08:00"
EXPERIMENT = {"id": "diamond-x2", "description": "DIAMOND earns double", "population": {"starts_at": START},
              "holdout": "0.2",
              "variants": [{"name": "A"},
                           {"name": "B", "overlay": {"points": {"earning": {"tier_multipliers": {"tiers": {
                               "DIAMOND": 2}}}}}}]}
MEMBERS = [f"ex-{i}" for i in range(30)]
REFUNDED = MEMBERS[0]  # asks for 150 back of its second order, which paid 100


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
    history = [order(1, "1000.00", "2026-03-02T10:00:00+08:00"), order(2, "100.00", "2026-03-03T10:00:00+08:00")]
    if member == REFUNDED:
        history.append(("orders", member, {"event_id": f"{member}-refund", "member_id": member,
                                           "occurred_at": "2026-03-03T12:00:00+08:00", "type": "order_refunded",
                                           "order_id": f"{member}-o2", "amount": "150.00"}))
    return history


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

    member = next(m for m, a in arms.items() if a.variant == "B" and m != REFUNDED)
    status, view = worker.get_json(f"/members/{member}?as_of=2026-03-04T00:00:00%2B08:00")
    assert status == 200
    assert view["experiment_arm"] == {"experiment": "diamond-x2", "variant": "B"}
    assert view["experiments"][0]["orders"] == 2 and view["experiments"][0]["spend"] == "1100.00"

    per_arm = Counter(a.variant for a in arms.values())
    for variant, members in per_arm.items():
        wait_until(lambda v=variant, n=members: metric(worker, "memberflow_experiment_orders_total",
                                                       experiment="diamond-x2", variant=v) == 2 * n, timeout=30)
        assert metric(worker, "memberflow_experiment_members_total", experiment="diamond-x2", variant=variant) == \
            members  # each enrolled once, however many events it had
    # the refund counts what the experiment counted of the order: its 100, not the 150 asked for
    wait_until(lambda: metric(worker, "memberflow_experiment_refunds_total", experiment="diamond-x2",
                              variant=arms[REFUNDED].variant) == 100, timeout=30)


STATS_MEMBERS = [f"exs-{i}" for i in range(40)]


def spend_of(i: int) -> Decimal:
    return Decimal(100 + 37 * i)


@pytest.fixture
def operators(experiment_cluster, postgres_url, tmp_path):
    """The projector and the admin service of the experiment's cluster on an empty PostgreSQL read model."""
    engine = open_database(postgres_url)
    schema.metadata.drop_all(engine)
    engine.dispose()
    with admin_service(experiment_cluster[0], tmp_path, readmodel_url=postgres_url, projector=True) as service:
        yield service


def test_the_statistics_per_variant_and_a_stop_through_the_admin_service(experiment_cluster, operators):
    cluster, book = experiment_cluster
    worker = cluster.add_worker("ex2")
    experiment = book.default.experiments[0]
    arms = {m: arm_of(experiment, "default", m) for m in [*MEMBERS, *STATS_MEMBERS]}
    events = [("orders", m, {"event_id": f"{m}-pay", "member_id": m, "occurred_at": "2026-03-05T10:00:00+08:00",
                             "type": "order_paid", "order_id": f"{m}-o", "amount": str(spend_of(i))})
              for i, m in enumerate(STATS_MEMBERS)]
    # the first test's members are in the experiment too (again: duplicates when that test ran first;
    # REFUNDED's refund of 150 takes back the 100 its order paid)
    cluster.produce([e for m in MEMBERS for e in orders(m)] + events)
    spends = {m: (Decimal(1000 if m == REFUNDED else 1100), 2) for m in MEMBERS} | {
        m: (spend_of(i), 1) for i, m in enumerate(STATS_MEMBERS)}
    base, token = operators
    path = "/tenants/default/experiments/diamond-x2/statistics"

    def statistics() -> dict:
        status, body = call(base, path, token)
        assert status == 200, body
        return json.loads(body)

    def counted() -> bool:
        stats = statistics()
        return sum(v["members"] for v in stats["variants"]) >= len(spends) and sum(
            Decimal(v["spend"]) for v in stats["variants"]) >= sum(spend for spend, _ in spends.values())

    wait_until(counted, timeout=120)
    stats = statistics()
    ledger = [v for _, v in cluster.consume(["points-ledger"], idle=1.0) if v.get("member_id") in arms]
    by_arm: dict[str, list[Decimal]] = {}
    orders_by_arm: Counter[str] = Counter()
    for m, (spend, n) in spends.items():
        by_arm.setdefault(arms[m].variant, []).append(spend)
        orders_by_arm[arms[m].variant] += n
    assert stats["control"] == HOLDOUT
    figures = {v["variant"]: v for v in stats["variants"]}
    assert set(figures) == set(by_arm)
    for variant, paid in by_arm.items():
        got = figures[variant]
        assert (got["members"], got["orders"]) == (len(paid), orders_by_arm[variant])
        assert Decimal(got["spend"]) == sum(paid)
        assert Decimal(got["spend_per_member"]).quantize(Decimal("0.01")) == \
            (sum(paid) / len(paid)).quantize(Decimal("0.01"))
        earned = sum(e["delta"] for e in ledger if arms[e["member_id"]].variant == variant and e["kind"] == "earn")
        assert got["points_issued"] == earned
    difference = {d["variant"]: d for d in stats["differences"]}["B"]
    expected = sum(by_arm["B"]) / len(by_arm["B"]) - sum(by_arm[HOLDOUT]) / len(by_arm[HOLDOUT])
    assert abs(Decimal(difference["difference"]) - expected) < Decimal("0.01")
    assert Decimal(difference["ci_low"]) < Decimal(difference["difference"]) < Decimal(difference["ci_high"])

    # a cohort: the members enrolled from March 4th on -- the statistics members (first order on the 5th),
    # not the first test's (the 2nd)
    status, body = call(base, path + "?enrolled_from=2026-03-04T00%3A00%3A00%2B08%3A00", token)
    assert status == 200, body
    cohort = {v["variant"]: v for v in json.loads(body)["variants"] if v["members"]}
    stats_arms = Counter(arms[m].variant for m in STATS_MEMBERS)
    assert {v: f["members"] for v, f in cohort.items()} == dict(stats_arms)
    assert {v: Decimal(f["spend"]) for v, f in cohort.items()} == {
        v: sum(spend_of(i) for i, m in enumerate(STATS_MEMBERS) if arms[m].variant == v) for v in stats_arms}

    # stopped: a new rules version on tenant-rules; from then on members are on the base rules, untagged
    status, body = call(base, "/tenants/default/experiments/diamond-x2/stop", token,
                        body=json.dumps({"reason": "enough data", "request_id": "stop-1"}).encode(),
                        method="POST")
    assert status == 201, body
    wait_until(lambda: metric(worker, "memberflow_rules_versions_total", verdict="applied") >= 1, timeout=60)
    member = next(m for m in STATS_MEMBERS if arms[m].variant == "B")
    after = datetime.now(UTC).isoformat()
    cluster.produce([("orders", member, {"event_id": f"{member}-late", "member_id": member, "occurred_at": after,
                                         "type": "order_paid", "order_id": f"{member}-o2", "amount": "80.00"})])

    def entries() -> list[dict]:
        return [v for _, v in cluster.consume(["points-ledger"], idle=1.0) if v.get("order_id") == f"{member}-o2"]

    wait_until(entries, timeout=60)
    assert {(e.get("experiment"), e.get("variant")) for e in entries()} == {(None, None)}
    assert json.loads(call(base, "/tenants/default/experiments", token)[1])[0]["status"] == "stopped"


def test_a_member_an_evaluation_first_acts_on_in_the_experiment_is_counted_in_its_arm_then(tmp_path):
    """Members who became DIAMOND before the experiment started enrol when the evaluation after its start
    grants them the tier's coupons under their arm (a cluster of its own: the tests above stop the
    experiment, and count every member enrolled in it)."""
    rules = stream_rules_dir(tmp_path / "rules", experiments=[EXPERIMENT])
    with LocalCluster(tmp_path / "cluster", partitions=4, extra_env={"MEMBERFLOW_RULES_DIR": str(rules)}) as cluster:
        cluster.start_broker()
        enrolment_by_evaluation(cluster, RuleBook.load(rules), cluster.add_worker("ex3"))


def enrolment_by_evaluation(cluster: LocalCluster, book: RuleBook, worker) -> None:
    def enrolled(variant: str) -> float:
        return metric(worker, "memberflow_experiment_members_total", experiment="diamond-x2", variant=variant)

    members = [f"exe-{i}" for i in range(12)]
    arms = Counter(arm_of(book.default.experiments[0], "default", m).variant for m in members)
    before = {v: enrolled(v) for v in arms}
    cluster.produce([("orders", m, {"event_id": f"{m}-pay", "member_id": m, "occurred_at": "2026-02-27T10:00:00+08:00",
                                    "type": "order_paid", "order_id": f"{m}-o", "amount": "1000.00"})
                     for m in members])
    wait_until(lambda: {v["member_id"] for _, v in cluster.consume(["points-ledger"], idle=1.0)} >= set(members),
               timeout=60)
    assert {v: enrolled(v) for v in arms} == before  # orders before the start enrol nobody
    cluster.produce([("commands", "*", {"type": "evaluate", "as_of": "2026-03-02T00:00:00+08:00"})])

    def grants() -> dict[str, set[str | None]]:
        found: dict[str, set[str | None]] = {}
        for _, v in cluster.consume(["benefit-grants"], idle=1.0):
            if v.get("member_id") in members and v["occurred_at"] >= "2026-03":  # not the upgrade's gift
                found.setdefault(v["member_id"], set()).add(v.get("variant"))
        return found

    wait_until(lambda: set(grants()) == set(members), timeout=90)
    assert all(len(variants) == 1 and None not in variants for variants in grants().values())
    wait_until(lambda: {v: enrolled(v) for v in arms} == {v: before[v] + n for v, n in arms.items()}, timeout=30)
