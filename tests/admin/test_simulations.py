"""What-if simulations through the admin API: started in the background (``memberflow simulate`` in a child
process, here over a recorded history file), one per tenant at a time, audited, kept in the read model so
another instance serves them, and the same figures as the command's over the tenant's lines."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from memberflow.admin.simulations import EventsFile
from memberflow.readmodel import schema
from memberflow.tools.simulate.report import compare
from memberflow.tools.simulate.run import simulate
from tests.admin.fixtures import LIMITS, TENANT, KeptAudit, KeptCommands, KeptVersions, auth
from tests.readmodel.fixtures import rules
from tests.tools.simulate_fixtures import SHIPPED, demo_lines, doubled_diamond, write_lines

DOUBLED = {"points": {"earning": {"tier_multipliers": {"tiers": {"DIAMOND": 3}}}}}
_ids = iter(range(10**6))


def body(**over) -> dict:
    return {"rules": DOUBLED, "days": 30, "evaluate": "daily", "reason": "try a richer DIAMOND",
            "request_id": f"sim-{next(_ids)}", **over}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo history of the tenant, and one line of another tenant the simulation must leave out."""
    lines = demo_lines(12, 10, seed=3)
    other = {"topic": "orders", "key": "x1", "value": {**next(line["value"] for line in lines
                                                            if line["topic"] == "orders" and
                                                            isinstance(line["value"], dict)),
                                                       "tenant_id": "acme", "member_id": "x1", "event_id": "x-1"}}
    return write_lines(tmp_path_factory.mktemp("history") / "history.jsonl", [*lines, other])


def app_over(engine: sa.Engine, audit: KeptAudit, history: Path):
    return create_app(engine, audit, KeptCommands(), LIMITS, rules(), KeptVersions(), EventsFile(history))


@pytest.fixture(scope="module")
def sim_client(filled: sa.Engine, audit: KeptAudit, history: Path) -> Iterator[TestClient]:
    with TestClient(app_over(filled, audit, history)) as c:
        yield c


def finished(client: TestClient, token: str, simulation_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.get(f"/tenants/{TENANT}/simulations/{simulation_id}", headers=auth(token))
        assert got.status_code == 200
        if got.json()["state"] != "running":
            return got.json()
        time.sleep(0.2)
    raise AssertionError("the simulation did not finish")


def test_a_started_simulation_reports_the_command_s_figures_over_the_tenant_s_lines(
        sim_client, token, audit, history, tmp_path):
    sent = body()
    started = sim_client.post(f"/tenants/{TENANT}/simulations", json=sent, headers=auth(token["operator"]))
    assert started.status_code == 202, started.text
    simulation_id = started.json()["simulation_id"]
    assert started.json()["state"] in ("running", "done")
    done = finished(sim_client, token["viewer"], simulation_id)
    assert done["state"] == "done", done["error"]
    assert done["days"] == 30 and done["evaluate"] == "daily" and done["base_rules"].startswith("file:")
    assert datetime.fromisoformat(done["until"]) - datetime.fromisoformat(done["since"]) == timedelta(days=30)

    lines = [json.loads(t) for t in history.read_text().splitlines()]
    mine = write_lines(tmp_path / "mine.jsonl", [line for line in lines if line["value"].get("tenant_id",
                                                                                               "default") == TENANT
                                                 if isinstance(line["value"], dict)])
    runs = simulate(SHIPPED, doubled_diamond(tmp_path / "candidate.yaml"), mine, daily=True)
    expected = json.loads(json.dumps(compare(*runs, "", "")))
    report = done["report"]
    for run in ("base", "candidate"):
        assert {**report[run], "rules": ""} == {**expected[run], "rules": ""}
    assert report["difference"] == expected["difference"] and report["difference"]["points_issued"] > 0
    summary = done["summary"]
    assert summary["points_issued_base"] == expected["base"]["points_issued"]
    assert summary["points_issued_candidate"] - summary["points_issued_base"] == summary["points_issued_difference"]
    assert summary["members_with_different_tier"] == expected["members_with_different_tier"]["count"]
    assert done["rules"]["points"]["earning"]["tier_multipliers"]["tiers"]["DIAMOND"] in (3, "3")

    page = sim_client.get(f"/tenants/{TENANT}/simulations/{simulation_id}/report.html", headers=auth(token["viewer"]))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "What-if simulation" in page.text
    assert report["base"]["rules"] == f"in force ({done['base_rules']})" and report["candidate"]["rules"] == "candidate"
    assert f"in force ({done['base_rules']})" in page.text and "memberflow-sim-" not in page.text
    listed = sim_client.get(f"/tenants/{TENANT}/simulations", headers=auth(token["viewer"])).json()
    assert listed[0]["simulation_id"] == simulation_id and listed[0]["summary"] == summary
    assert "report" not in listed[0] and "rules" not in listed[0]

    record = next(r for r in audit.records if r.action == "rules.simulate" and r.target == simulation_id)
    assert record.reason == sent["reason"] and record.request_id == sent["request_id"]
    assert record.detail["days"] == 30

    again = sim_client.post(f"/tenants/{TENANT}/simulations", json=sent, headers=auth(token["operator"]))
    assert again.status_code == 202 and again.json()["simulation_id"] == simulation_id  # a retry: the first one
    other = sim_client.post(f"/tenants/{TENANT}/simulations", json={**sent, "days": 5},
                            headers=auth(token["operator"]))
    assert other.status_code == 409 and "request id" in other.json()["detail"]


def test_another_instance_serves_it(filled, token, audit, history, sim_client):
    started = sim_client.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["admin"]))
    simulation_id = started.json()["simulation_id"]
    finished(sim_client, token["viewer"], simulation_id)
    with TestClient(app_over(filled, KeptAudit(), history)) as other:
        got = other.get(f"/tenants/{TENANT}/simulations/{simulation_id}", headers=auth(token["viewer"]))
        assert got.status_code == 200 and got.json()["state"] == "done" and got.json()["report"]
        page = other.get(f"/tenants/{TENANT}/simulations/{simulation_id}/report.html", headers=auth(token["viewer"]))
        assert page.status_code == 200 and "<svg" in page.text
        assert other.get(f"/tenants/{TENANT}/simulations/sim-none", headers=auth(token["viewer"])).status_code == 404
        foreign = other.get(f"/tenants/{TENANT}/simulations/{simulation_id}", headers=auth(token["foreign"]))
        assert foreign.status_code == 404


def _running_row(engine: sa.Engine, simulation_id: str, heartbeat: datetime) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.simulations).values(
            simulation_id=simulation_id, tenant_id=TENANT, state="running", days=1, evaluate="daily",
            since=now - timedelta(days=1), until=now, base_rules="v1", rules={}, requested_by="x:other instance",
            token_id="x", reason="elsewhere", request_id="r", started_at=now, heartbeat_at=heartbeat))


def test_one_runs_per_tenant_and_one_whose_instance_stopped_is_failed(filled, sim_client, token):
    _running_row(filled, "sim-elsewhere", datetime.now(UTC))
    busy = sim_client.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["operator"]))
    assert busy.status_code == 409 and "sim-elsewhere" in busy.json()["detail"]
    with filled.begin() as conn:  # its instance stopped renewing it
        conn.execute(sa.update(schema.simulations).where(schema.simulations.c.simulation_id == "sim-elsewhere")
                     .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5)))
    started = sim_client.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["operator"]))
    assert started.status_code == 202
    gone = sim_client.get(f"/tenants/{TENANT}/simulations/sim-elsewhere", headers=auth(token["viewer"])).json()
    assert gone["state"] == "failed" and "stopped" in gone["error"]
    finished(sim_client, token["viewer"], started.json()["simulation_id"])


def test_a_run_that_fails_says_why(filled, token, tmp_path):
    with TestClient(app_over(filled, KeptAudit(), tmp_path / "missing.jsonl")) as c:
        started = c.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["operator"]))
        done = finished(c, token["viewer"], started.json()["simulation_id"])
        assert done["state"] == "failed" and "missing.jsonl" in done["error"] and done["report"] is None
        page = c.get(f"/tenants/{TENANT}/simulations/{done['simulation_id']}/report.html",
                     headers=auth(token["viewer"]))
        assert page.status_code == 409


@pytest.mark.parametrize(("sent", "loc"), [
    (body(days=0), ["body", "days"]),
    (body(days=401), ["body", "days"]),
    (body(evaluate="weekly"), ["body", "evaluate"]),
    (body(reason=" "), ["body", "reason"]),
    ({k: v for k, v in body().items() if k != "rules"}, ["body", "rules"]),
    (body(rules={"points": {"earning": {"tier_multipliers": {"tiers": {"DIAMOND": -1}}}}}),
     ["body", "rules", "points", "earning", "tier_multipliers", "tiers", "DIAMOND"]),
])
def test_bad_input_is_422_at_the_field_s_path(sim_client, token, sent, loc):
    answer = sim_client.post(f"/tenants/{TENANT}/simulations", json=sent, headers=auth(token["operator"]))
    assert answer.status_code == 422
    assert loc in [e["loc"] for e in answer.json()["detail"]], answer.json()


def test_a_second_start_waits_for_the_running_one_and_a_stopping_service_stops_it(filled, token, tmp_path):
    pipe = tmp_path / "history.pipe"
    os.mkfifo(pipe)  # the child blocks reading it: it runs until stopped
    with TestClient(app_over(filled, KeptAudit(), pipe)) as c:
        first = c.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["operator"]))
        assert first.status_code == 202 and first.json()["state"] == "running"
        simulation_id = first.json()["simulation_id"]
        second = c.post(f"/tenants/{TENANT}/simulations", json=body(), headers=auth(token["operator"]))
        assert second.status_code == 409 and simulation_id in second.json()["detail"]
        shown = c.get(f"/tenants/{TENANT}/simulations/{simulation_id}", headers=auth(token["viewer"])).json()
        assert shown["state"] == "running" and shown["summary"] is None and shown["report"] is None
    with TestClient(app_over(filled, KeptAudit(), pipe)) as c:  # the first service stopped, and its child
        stopped = c.get(f"/tenants/{TENANT}/simulations/{simulation_id}", headers=auth(token["viewer"])).json()
        assert stopped["state"] == "failed" and stopped["error"] == "the admin service stopped"
