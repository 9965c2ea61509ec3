"""The experiment endpoints: the experiments of the rules in force with status and members per variant,
their statistics, a member's experiments on its page, and stopping or rolling one out -- each a new rules
version published through the rules flow (audited, a retry gets the first answer) -- on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from config.rules import TenantRules
from config.topics import Topic
from memberflow.readmodel.projection import Projection, Record
from tests.admin.fixtures import TENANT, auth
from tests.readmodel.experiment_fixtures import ENROLLED, EXPERIMENT, PARTS, member, records
from tests.readmodel.fixtures import rules

BASE = f"/tenants/{TENANT}/experiments"


@pytest.fixture(scope="module", autouse=True)
def exposed(filled) -> None:
    """The experiment's members in the read model (beside the test stream's), and d3's ledger entries
    decided in its arm."""
    members = [member(*part) for part in PARTS]
    d3 = next(m for m in members if m.member_id == "d3")
    entries = [Record(out.topic, out.topic, 0, 10_000 + i, out.key.encode(), out.value.model_copy(
        update={"experiment": "double", "variant": "double"}).model_dump_json().encode(), 1_700_000_000_000)
        for i, out in enumerate(d3.outputs) if out.topic == Topic.POINTS_LEDGER]
    with filled.begin() as conn:
        Projection(rules(), now=lambda: datetime(2025, 3, 24, tzinfo=UTC)).apply(
            conn, [*entries, *records(members, first=10_000)])


def running(client, token, reason: str = "start") -> int:
    """Publish the tenant's rules with the experiment running; its version."""
    made = client.post(f"/tenants/{TENANT}/rules/versions", headers=auth(token["admin"]), json={
        "rules": {"experiments": [EXPERIMENT]}, "reason": reason, "request_id": f"run-{reason}"})
    assert made.status_code == 201, made.text
    return made.json()["version"]


def test_the_experiments_in_force_with_status_and_members_per_variant(client, token):
    running(client, token, "list")
    answer = client.get(BASE, headers=auth(token["viewer"]))
    assert answer.status_code == 200
    (found,) = answer.json()
    assert (found["experiment"], found["status"], found["control"], found["members"]) == \
        ("double", "running", "holdout", 7)
    assert [(v["name"], v["members"]) for v in found["variants"]] == [("holdout", 3), ("double", 4)]
    assert found["variants"][1]["overlay"] == {"points": {"pending_days": 3}}


def test_statistics_per_variant_and_the_difference(client, token):
    running(client, token, "statistics")
    answer = client.get(f"{BASE}/double/statistics", headers=auth(token["viewer"]))
    assert answer.status_code == 200
    figures = answer.json()
    assert figures["control"] == "holdout" and figures["currency"] == "CNY"
    assert [(v["variant"], v["members"], v["spend_per_member"], v["points_issued"]) for v in figures["variants"]] == \
        [("holdout", 3, "20.00", 60), ("double", 4, "50.00", 400)]
    (diff,) = figures["differences"]
    assert diff["difference"] == "30.00" and Decimal(diff["ci_low"]) < 30 < Decimal(diff["ci_high"])
    assert 0 < diff["p_value"] < 1


def test_statistics_of_a_cohort_by_enrolment(client, token):
    """Every member of the fixture enrolled at ENROLLED: a cohort from that moment holds them all, one
    until it none; the answer names its bounds."""
    running(client, token, "cohort")
    stats = f"{BASE}/double/statistics"
    moment = ENROLLED.isoformat()
    since = client.get(stats, params={"enrolled_from": moment}, headers=auth(token["viewer"])).json()
    assert [(v["variant"], v["members"]) for v in since["variants"]] == [("holdout", 3), ("double", 4)]
    assert (since["enrolled_from"], since["enrolled_until"]) == ("2025-03-02T09:30:00Z", None)
    before = client.get(stats, params={"enrolled_until": moment}, headers=auth(token["viewer"])).json()
    assert [v["members"] for v in before["variants"]] == [0, 0] and before["differences"][0]["difference"] is None


@pytest.mark.parametrize(("params", "loc"), [
    ({"enrolled_from": "2025-03-02T00:00:00"}, ["query", "enrolled_from"]),  # no offset
    ({"enrolled_until": "yesterday"}, ["query", "enrolled_until"]),
    ({"enrolled_from": "2025-03-02T00:00:00+08:00", "enrolled_until": "2025-03-01T16:00:00Z"},
     ["query", "enrolled_until"]),  # the same moment: an empty span
])
def test_an_invalid_cohort_is_422_with_the_parameter(client, token, params, loc):
    answer = client.get(f"{BASE}/double/statistics", params=params, headers=auth(token["viewer"]))
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == loc


def test_an_unknown_experiment_is_not_found(client, token):
    running(client, token, "unknown")
    for method, path, body in (("GET", f"{BASE}/nope/statistics", None),
                               ("POST", f"{BASE}/nope/stop", {"reason": "x", "request_id": "nope-1"}),
                               ("POST", f"{BASE}/nope/rollout", {"variant": "a", "reason": "x", "request_id": "n2"})):
        assert client.request(method, path, json=body, headers=auth(token["admin"])).status_code == 404


def test_an_experiment_the_rules_no_longer_name_is_listed_as_removed_with_its_figures(client, token):
    """A later version without it: its members and figures stay readable, by the last definition naming it;
    it can no longer be stopped or rolled out."""
    running(client, token, "before-removal")
    removed = client.post(f"/tenants/{TENANT}/rules/versions", headers=auth(token["admin"]), json={
        "rules": {"experiments": []}, "reason": "remove it", "request_id": "remove-double"})
    assert removed.status_code == 201, removed.text
    (found,) = client.get(BASE, headers=auth(token["viewer"])).json()
    assert (found["experiment"], found["status"], found["control"], found["members"]) == \
        ("double", "removed", "holdout", 7)
    assert [(v["name"], v["members"]) for v in found["variants"]] == [("holdout", 3), ("double", 4)]
    figures = client.get(f"{BASE}/double/statistics", headers=auth(token["viewer"])).json()
    assert figures["status"] == "removed"
    assert [(v["variant"], v["members"], v["spend_per_member"]) for v in figures["variants"]] == \
        [("holdout", 3, "20.00"), ("double", 4, "50.00")]
    stop = client.post(f"{BASE}/double/stop", headers=auth(token["admin"]), json={"reason": "x", "request_id": "r-1"})
    assert stop.status_code == 404
    assert client.get(f"{BASE}/never/statistics", headers=auth(token["viewer"])).status_code == 404


def test_the_member_page_shows_its_experiments(client, token):
    page = client.get(f"/tenants/{TENANT}/members/d3", headers=auth(token["viewer"]))
    assert page.status_code == 200
    (part,) = page.json()["experiments"]
    assert (part["experiment"], part["variant"], part["spend"], part["orders"], part["points_issued"]) == \
        ("double", "double", "60.00", 3, 120)
    ledger = client.get(f"/tenants/{TENANT}/members/d3/ledger", headers=auth(token["viewer"])).json()["items"]
    assert ledger and {(e["experiment"], e["variant"]) for e in ledger} == {("double", "double")}


def test_stopping_publishes_the_rules_with_stopped_at(client, token, rules_published, audit):
    before = running(client, token, "stop")
    body = {"reason": "enough data", "request_id": "stop-1"}
    stopped = client.post(f"{BASE}/double/stop", json=body, headers=auth(token["admin"]))
    assert stopped.status_code == 201, stopped.text
    version = stopped.json()
    assert version["version"] == before + 1 and version["reason"] == "enough data"
    published = rules_published.versions[-1]
    assert published.version == version["version"]
    (experiment,) = published.rules.experiments
    assert experiment.stopped_at is not None and experiment.rolled_out is None
    assert abs((datetime.now(UTC) - experiment.stopped_at).total_seconds()) < 60
    TenantRules.model_validate(version["rules"])  # the document validates
    assert published.rules.points.pending_days == 0  # the base is unchanged
    assert audit.records[-1].action == "experiments.stop" and audit.records[-1].detail["version"] == before + 1
    again = client.post(f"{BASE}/double/stop", json=body, headers=auth(token["admin"]))
    assert again.status_code == 201 and again.json()["version"] == version["version"]  # a retry
    assert client.post(f"{BASE}/double/stop", json={**body, "request_id": "stop-2"},
                       headers=auth(token["admin"])).status_code == 409  # stopped already
    listed = client.get(BASE, headers=auth(token["viewer"])).json()
    assert listed[0]["status"] == "stopped"


def test_rolling_out_makes_the_variant_the_base_rules(client, token, rules_published, audit):
    before = running(client, token, "rollout")
    body = {"variant": "double", "reason": "it works", "request_id": "roll-1"}
    rolled = client.post(f"{BASE}/double/rollout", json=body, headers=auth(token["admin"]))
    assert rolled.status_code == 201, rolled.text
    assert rolled.json()["version"] == before + 1
    published = rules_published.versions[-1]
    assert published.rules.points.pending_days == 3  # the overlay's value, in the base
    (experiment,) = published.rules.experiments
    assert experiment.rolled_out == "double" and experiment.stopped_at is not None
    TenantRules.model_validate(rolled.json()["rules"])
    assert audit.records[-1].action == "experiments.rollout"
    assert audit.records[-1].detail == {"experiment": "double", "variant": "double", "version": before + 1}
    in_force = client.get(f"/tenants/{TENANT}/rules", headers=auth(token["viewer"])).json()
    assert in_force["version"] == before + 1 and in_force["rules"]["points"]["pending_days"] == 3


@pytest.mark.parametrize(("body", "loc"), [
    ({"variant": "holdout", "reason": "x", "request_id": "bad-1"}, ["body", "variant"]),
    ({"variant": "triple", "reason": "x", "request_id": "bad-2"}, ["body", "variant"]),
    ({"variant": "double", "reason": " ", "request_id": "bad-3"}, ["body", "reason"]),
    ({"reason": "x", "request_id": "bad-4"}, ["body", "variant"]),
])
def test_an_invalid_rollout_is_422_with_the_field(client, token, body, loc):
    running(client, token, f"invalid-{body['request_id']}")
    answer = client.post(f"{BASE}/double/rollout", json=body, headers=auth(token["admin"]))
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [loc]


def test_a_viewer_may_not_stop(client, token):
    running(client, token, "viewer")
    assert client.post(f"{BASE}/double/stop", json={"reason": "x", "request_id": "v-1"},
                       headers=auth(token["operator"])).status_code == 403


def test_a_published_version_is_parsed_once(client, token, monkeypatch):
    """A version never changes once published: listing the experiments and reading their statistics again
    parses no version again, and the next version published is the one in force at once."""
    from memberflow.admin import rules as rules_module

    first = running(client, token, "parsed-once")
    assert client.get(BASE, headers=auth(token["viewer"])).status_code == 200
    parsed: list[int] = []
    parse = rules_module._rules_of
    monkeypatch.setattr(rules_module, "_rules_of", lambda row: parsed.append(row.version) or parse(row))
    for _ in range(2):
        assert client.get(BASE, headers=auth(token["viewer"])).status_code == 200
        assert client.get(f"{BASE}/double/statistics", headers=auth(token["viewer"])).status_code == 200
    assert parsed == []
    after = running(client, token, "parsed-once-next")
    assert after == first + 1
    assert client.get(f"/tenants/{TENANT}/rules", headers=auth(token["viewer"])).json()["version"] == after
    assert parsed == [after]
