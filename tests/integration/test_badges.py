"""Business-line badges through Kafka (seed 000): the seed's snapshot as it is,
definitions published at run time, invalid ones dead-lettered, a worker that
starts later, and the badge API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from tests.integration.fixtures import consumed_total, metric, wait_until

#: seed 000's sample payload, byte for byte as the article shows it
SEED_PAYLOAD = ('{"user_pin":"xxx","lc_score":"450","gdlc_jy_flag":"0","xjk_jy_amt":"1600.00",'
                '"jt_hold_amt":"3000.00","dt":"2022-11-30"}')


def wealth_definition(version: int, l1: int, **over: Any) -> dict[str, Any]:
    line = RuleBook.load(SHIPPED_RULES_DIR).default.business_lines["wealth"].model_dump(mode="json")
    line["levels"][0]["rule"] = {"field": "lc_score", "op": ">=", "value": l1}
    return {**line, "tenant_id": "default", "line_id": "wealth", "version": version, **over}


NEW_LINE = {
    "tenant_id": "default", "line_id": "jd_plus", "version": 1, "name": "JD Plus",
    "fields": {"plus_score": "int"},
    "levels": [{"level": 1, "name": "Plus", "rule": {"field": "plus_score", "op": ">=", "value": 100},
                "rights": [{"benefit": "plus_coupon", "value": 5, "valid_days": 7}]}],
}


def of(cluster, topics, member: str, idle: float = 0.5) -> list[tuple[str, dict]]:
    return [(t, v) for t, v in cluster.consume(topics, idle=idle, timeout=30) if v.get("member_id") == member]


def changes(cluster, member: str) -> list[dict]:
    """A member's badge changes, once per change_id: outputs are at-least-once (a
    rebalance can redeliver an event whose state write another worker had not
    yet recovered), and a redelivery repeats the same deterministic id."""
    unique: dict[str, dict] = {}
    for _, v in of(cluster, ["badge-changes"], member):
        unique.setdefault(v["change_id"], v)
    return list(unique.values())


def versions(worker) -> dict[str, int]:
    status, body = worker.get_json("/business-lines")
    assert status == 200
    return {line["line_id"]: line["version"] for line in body["lines"]} if body["ready"] else {}


def snapshot(member: str, dt: str, **scores: str) -> dict[str, str]:
    return {"user_pin": member, "dt": dt, **scores}


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("w1")


def test_seed_000_snapshot_gives_badge_changes_and_grants(cluster, worker):
    cluster.produce([("business-scores", "xxx", SEED_PAYLOAD)])
    wait_until(lambda: len(changes(cluster, "xxx")) >= 3, timeout=60)
    outputs = of(cluster, ["badge-changes", "benefit-grants"], "xxx", idle=1.0)
    badge = {v["line_id"]: v for t, v in outputs if t == "badge-changes"}
    assert {k: (v["from_level"], v["to_level"], v["rule_version"]) for k, v in badge.items()} == {
        "wealth": (0, 2, 1), "gold_bar": (0, 1, 1), "small_treasury": (0, 1, 1)}
    assert badge["wealth"]["occurred_at"] == "2022-11-30T00:00:00+08:00"
    assert badge["wealth"]["values"] == {"lc_score": "450", "jt_hold_amt": "3000.00", "gdlc_jy_flag": "0"}
    grants = [v for t, v in outputs if t == "benefit-grants"]
    assert sorted((g["line_id"], g["badge_level"], g["benefit"]) for g in grants) == [
        ("gold_bar", 1, "gold_storage_fee_waiver"), ("small_treasury", 1, "treasury_yield_boost"),
        ("wealth", 2, "wealth_fee_coupon"), ("wealth", 2, "wealth_market_report")]
    assert len({g["grant_id"] for g in grants}) == 4
    assert {g["cause_event_id"] for g in grants} == {badge["wealth"]["cause_event_id"]}

    # re-sent as it is: a duplicate, nothing new
    duplicates = metric(worker, "memberflow_events_consumed_total", topic="business-scores", outcome="duplicate")
    cluster.produce([("business-scores", "xxx", SEED_PAYLOAD)])
    wait_until(lambda: metric(worker, "memberflow_events_consumed_total", topic="business-scores",
                              outcome="duplicate") == duplicates + 1)
    assert len(changes(cluster, "xxx")) == 3
    assert metric(worker, "memberflow_badge_members", line="wealth", level="2") >= 1


def test_the_badge_api_answers(cluster, worker):
    wait_until(lambda: worker.get_json("/members/xxx")[0] == 200)
    status, body = worker.get_json("/members/xxx")
    assert [(b["line_id"], b["level"]) for b in body["badges"]] == [("gold_bar", 1), ("small_treasury", 1),
                                                                     ("wealth", 2)]
    assert {r["benefit"] for r in body["badge_rights"]} >= {"wealth_fee_coupon", "treasury_yield_boost"}
    status, detail = worker.get_json("/members/xxx/badges/wealth")
    assert status == 200
    assert (detail["level"], detail["rule_version"], detail["values"]["lc_score"]) == (2, 1, "450")
    missing = {m["field"]: m for m in detail["next_level"]["missing"]}
    assert (missing["lc_score"]["threshold"], missing["lc_score"]["gap"]) == ("600", "150")
    assert worker.get_json("/members/xxx/badges/no_such_line")[0] == 404
    assert worker.get_json("/members/nobody/badges/wealth")[0] == 404


def test_a_definition_published_at_run_time_applies_without_restart(cluster, worker):
    cluster.produce([("business-lines", "default/wealth", wealth_definition(2, 150)),
                     ("business-lines", "default/jd_plus", NEW_LINE)])
    wait_until(lambda: versions(worker).get("wealth") == 2 and "jd_plus" in versions(worker), timeout=30)
    cluster.produce([("business-scores", "rt1", snapshot("rt1", "2022-12-01", lc_score="200", jt_hold_amt="0",
                                                          gdlc_jy_flag="0", plus_score="120"))])
    wait_until(lambda: len(changes(cluster, "rt1")) >= 2, timeout=60)
    got = {c["line_id"]: (c["to_level"], c["rule_version"]) for c in changes(cluster, "rt1")}
    assert got == {"wealth": (1, 2), "jd_plus": (1, 1)}  # 200 < 300 of version 1: only version 2 grants it
    plus = [v for t, v in of(cluster, ["benefit-grants"], "rt1") if v["line_id"] == "jd_plus"]
    assert [(g["benefit"], g["value"]) for g in plus] == [("plus_coupon", "5")]
    status, detail = worker.get_json("/members/rt1/badges/wealth")
    assert (detail["rule_version"], detail["decided_by_version"]) == (2, 2)


def test_an_invalid_definition_is_dead_lettered_and_the_previous_version_stays(cluster, worker):
    bad = wealth_definition(3, 100)
    bad["levels"][0]["rule"]["field"] = "lc_scor"
    before = metric(worker, "memberflow_dead_letters_total", reason="invalid_definition")
    cluster.produce([("business-lines", "default/wealth", bad),
                     ("business-lines", "default/wealth", "{not json")])

    def letters():
        return [v for t, v in cluster.consume(["dead-letters"], idle=0.5, timeout=20)
                if v["reason"] == "invalid_definition"]

    wait_until(lambda: len(letters()) >= 2, timeout=60)
    found = letters()
    assert len(found) == 2
    assert found[0]["source_topic"] == "business-lines" and found[0]["key"] == "default/wealth"
    assert found[0]["detail"].startswith("levels.0.rule.field: 'lc_scor' is not one of the line's fields")
    assert found[1]["detail"].startswith("malformed JSON")
    assert metric(worker, "memberflow_dead_letters_total", reason="invalid_definition") == before + 2
    wait_until(lambda: metric(worker, "memberflow_business_line_definitions_total", verdict="invalid") >= 2)
    assert versions(worker)["wealth"] == 2
    cluster.produce([("business-scores", "inv1", snapshot("inv1", "2022-12-01", lc_score="120",
                                                           jt_hold_amt="0", gdlc_jy_flag="0"))])
    cluster.produce([("business-scores", "inv2", snapshot("inv2", "2022-12-01", lc_score="160",
                                                           jt_hold_amt="0", gdlc_jy_flag="0"))])
    wait_until(lambda: len(changes(cluster, "inv2")) == 1, timeout=60)
    assert changes(cluster, "inv1") == []  # 120 would qualify under the invalid version 3 only
    assert changes(cluster, "inv2")[0]["rule_version"] == 2


def test_a_worker_started_later_gets_the_definitions_and_shares_the_work(cluster, worker):
    late = cluster.add_worker("w2")
    wait_until(lambda: versions(late).get("wealth") == 2 and versions(late).get("jd_plus") == 1, timeout=30)
    # "ready" is not "assigned": wait until the rebalance gave the late worker partitions
    probes = iter(range(100_000))

    def late_owns_partitions() -> bool:
        i = next(probes)
        cluster.produce([("logins", f"ahead{i}", {"event_id": f"ahead-{i}", "member_id": f"ahead{i}",
                                                  "occurred_at": "2022-12-02T10:00:00+08:00"})])
        return consumed_total(late) > 0

    wait_until(late_owns_partitions, timeout=90, interval=1.0)
    members = [f"late{i}" for i in range(16)]
    cluster.produce([("business-scores", m, snapshot(m, "2022-12-02", lc_score="200", jt_hold_amt="0",
                                                      gdlc_jy_flag="0")) for m in members])
    wait_until(lambda: sum(len(changes(cluster, m)) for m in members) == len(members), timeout=90)
    assert {(c["to_level"], c["rule_version"]) for m in members for c in changes(cluster, m)} == {(1, 2)}
    # both workers evaluated some of them, each with version 2
    for w in (worker, late):
        assert metric(w, "memberflow_badge_changes_total", line="wealth", direction="up") >= 1
    # the badge detail is routed to the owning worker from either
    for w in (worker, late):
        status, detail = w.get_json(f"/members/{members[0]}/badges/wealth")
        assert status == 200 and detail["level"] == 1
    # one dead letter per invalid definition, whichever worker owns the partition
    cluster.produce([("business-lines", "default/gold_bar", {"line_id": "gold_bar", "version": 9})])

    def letters():
        return [v for t, v in cluster.consume(["dead-letters"], idle=1.0, timeout=20)
                if v["reason"] == "invalid_definition" and v["key"] == "default/gold_bar"]

    wait_until(lambda: len(letters()) >= 1, timeout=60)
    wait_until(lambda: metric(late, "memberflow_business_line_definitions_total", verdict="invalid") >= 3)
    assert len(letters()) == 1
    assert json.loads(letters()[0]["payload"]) == {"line_id": "gold_bar", "version": 9}


def test_the_periodic_evaluation_downgrades_after_warning(cluster, worker):
    """Downgrades only happen at evaluation: scheduled, warned, then one level down."""
    cluster.produce([("business-scores", "dg1", snapshot("dg1", "2022-12-03", line_id="wealth", lc_score="460",
                                                          jt_hold_amt="3100", gdlc_jy_flag="0"))])
    wait_until(lambda: len(changes(cluster, "dg1")) == 1, timeout=60)
    cluster.produce([("business-scores", "dg1", snapshot("dg1", "2022-12-04", line_id="wealth", lc_score="100",
                                                          jt_hold_amt="0", gdlc_jy_flag="0"))])
    wait_until(lambda: worker.get_json("/members/dg1/badges/wealth")[1]["values"]["lc_score"] == "100", timeout=60)
    assert len(changes(cluster, "dg1")) == 1  # no downgrade on a snapshot

    def evaluate(as_of: str) -> None:
        cluster.produce([("commands", "*", {"type": "evaluate", "as_of": as_of})])

    evaluate("2023-01-01T00:00:00+08:00")  # short: protected until 01-31 (30 days), warned from 01-24
    wait_until(lambda: worker.get_json("/members/dg1/badges/wealth")[1]["protection_until"] is not None, timeout=60)
    assert worker.get_json("/members/dg1/badges/wealth")[1]["protection_until"] == "2023-01-31T00:00:00+08:00"
    evaluate("2023-01-25T00:00:00+08:00")

    def warnings():
        return [v for _, v in of(cluster, ["notifications"], "dg1") if v["kind"] == "downgrade_warning"]

    wait_until(lambda: len(warnings()) == 1, timeout=60)
    assert warnings()[0]["data"] == {"line_id": "wealth", "from_level": 2, "to_level": 1,
                                     "effective_at": "2023-01-31T00:00:00+08:00", "rule_version": 2}
    evaluate("2023-01-31T00:00:00+08:00")
    wait_until(lambda: len(changes(cluster, "dg1")) == 2, timeout=60)
    down = changes(cluster, "dg1")[1]
    assert (down["from_level"], down["to_level"], down["direction"], down["rule_version"]) == (2, 1, "down", 2)
    assert down["occurred_at"] == "2023-01-31T00:00:00+08:00" and down["reason"] == "downgrade"


def test_a_definition_published_after_an_evaluation_reaches_its_marked_holders(cluster, worker):
    """An evaluation leaves a badge holder a due mark (next: the coming month's rights).  A definition
    published after it that moves the holder's level voids the mark, so the very next evaluation starts
    the downgrade rather than passing over the member until the mark's moment
    (``TenantRules.due_fingerprint`` carries the published lines)."""
    cluster.produce([("business-scores", "pub1", snapshot("pub1", "2023-02-01", line_id="wealth", lc_score="460",
                                                           jt_hold_amt="3100", gdlc_jy_flag="0"))])
    wait_until(lambda: [c["to_level"] for c in changes(cluster, "pub1")] == [2], timeout=60)

    def evaluate(as_of: str) -> None:
        cluster.produce([("commands", "*", {"type": "evaluate", "as_of": as_of})])

    def looked_at() -> float:
        return sum(metric(w, "memberflow_members_evaluated_total") + metric(w, "memberflow_members_not_due_total")
                   for w in cluster.workers)

    def detail() -> dict:
        return worker.get_json("/members/pub1/badges/wealth")[1]

    before = looked_at()
    evaluate("2023-02-10T00:00:00+08:00")  # pub1 evaluated and marked: nothing due before 1 March
    wait_until(lambda: looked_at() > before, timeout=60)
    settled = [-4.0, -3.0, -2.0, -1.0]

    def evaluation_done() -> bool:  # every worker's slices looked at: the count stays put for 4 s
        settled.append(looked_at())
        return len(set(settled[-5:])) == 1

    wait_until(evaluation_done, timeout=60, interval=1.0)
    assert detail()["protection_until"] is None

    stricter = wealth_definition(5, 150)
    stricter["levels"][1]["rule"] = {"all": [{"field": "lc_score", "op": ">=", "value": 500},
                                             {"field": "jt_hold_amt", "op": ">=", "value": 3000}]}
    cluster.produce([("business-lines", "default/wealth", stricter)])
    wait_until(lambda: all(versions(w).get("wealth") == 5 for w in cluster.workers), timeout=30)
    evaluate("2023-02-15T00:00:00+08:00")
    wait_until(lambda: detail()["protection_until"] is not None, timeout=60)
    assert detail()["protection_until"] == "2023-03-17T00:00:00+08:00"  # 30 days of protection from 15 Feb
    assert [c["to_level"] for c in changes(cluster, "pub1")] == [2]  # down only when protection ends
