"""Member data migration through the real broker, worker, projector, admin service and PostgreSQL:
``memberflow import`` a CSV file, find the members by name in the admin API with their lots,
tier and growth; a malformed row is reported by its line and not applied; the same file again
changes nothing; a member with activity already is refused whole; the endpoint imports too; and
the workers' member API answers a service token for its tenant only."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
import sqlalchemy as sa

from memberflow.dev.postgres import free_port
from memberflow.dev.processes import stop_processes
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from tests.integration.fixtures import metric, wait_until
from tests.integration.test_admin import call

TIER_1 = "GOLD,2025-07-01T00:00:00+08:00,2099-06-30T00:00:00+08:00"
LOTS_1 = "120 2025-04-01T10:00:00+08:00 2099-01-01T00:00:00+08:00; 30 2025-09-01T10:00:00+08:00"
CSV = f"""member_id,name,phone,email,tier,tier_since,protection_until,growth,lots
mig-1,Zhang Wei,+86 138 0000 0001,Zhang.Wei@Example.com,{TIER_1},1500,{LOTS_1}
mig-2,Zhang Min,,,SILVER,,,200,50 2025-05-01T10:00:00+08:00
mig-3,Li Na,,,,,,-5,10 2025-05-01T10:00:00+08:00
mig-4,Wang Fang,,,,,,0,
mig-5,Active Member,,,,,,10,99 2025-05-01T10:00:00+08:00
"""
#: the imported members and what the read model must show for them: (tier, growth, balance)
EXPECTED = {"mig-1": ("GOLD", 1500, 150), "mig-2": ("SILVER", 200, 50), "mig-4": ("NORMAL", 0, 0)}


@pytest.fixture(scope="module")
def stack(cluster, postgres_url, tmp_path_factory):
    """A worker, the projector and the admin service on PostgreSQL, an admin token, the environment."""
    engine = open_database(postgres_url)
    schema.metadata.drop_all(engine)
    worker = cluster.add_worker("imp1")
    port = free_port()
    env = {**cluster.env("admin"), "MEMBERFLOW_READMODEL_URL": postgres_url, "MEMBERFLOW_ADMIN_PORT": str(port),
           "MEMBERFLOW_PROJECTOR_PORT": str(free_port())}
    logs = tmp_path_factory.mktemp("import-logs")
    made = subprocess.run([sys.executable, "-m", "memberflow.cli", "admin", "token", "create", "--tenant", "default",
                           "--role", "admin"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    procs = [subprocess.Popen([sys.executable, "-m", "memberflow.cli", *argv], env=env, stdin=subprocess.DEVNULL,
                              stdout=open(logs / f"{argv[0]}.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
             for argv in (["readmodel", "run"], ["admin"])]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: call(base, "/healthz")[0] == 200, timeout=60)
        yield worker, base, made.stdout.strip().splitlines()[-1], engine, env
    finally:
        stop_processes(procs)
        engine.dispose()


def import_file(env: dict, path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memberflow.cli", "import", str(path)], env=env,
                          capture_output=True, text=True, timeout=120)


def imported_ledger(engine) -> list[tuple]:
    c = schema.ledger.c
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(c.entry_id, c.member_id, c.kind, c.rule, c.delta, c.expires_at)
                                   .where(c.rule == "import")).all())


def test_an_import_is_searchable_by_name_with_its_lots_tier_and_growth_and_a_rerun_changes_nothing(
        cluster, stack, tmp_path):
    worker, base, token, engine, env = stack
    cluster.produce([("logins", "mig-5", {"event_id": "mig-5-login", "member_id": "mig-5",
                                          "occurred_at": "2026-03-01T10:00:00+08:00"})])
    wait_until(lambda: worker.get_json("/members/mig-5")[0] == 200)
    path = tmp_path / "members.csv"
    path.write_text(CSV)

    first = import_file(env, path)
    assert first.returncode == 1, first.stderr  # one bad row
    assert f"{path}:4: growth:" in first.stderr and "import [" in first.stderr  # its line; the progress bar
    assert "5 rows: 4 sent as import commands, 1 bad" in first.stdout

    def found() -> dict:
        status, body = call(base, "/tenants/default/members", token, {"name": "zhang", "limit": 50})
        return {m["member_id"]: m for m in json.loads(body)["items"]} if status == 200 else {}

    wait_until(lambda: set(found()) == {"mig-1", "mig-2"} and len(imported_ledger(engine)) == 3, timeout=90)
    rows = found()
    assert rows["mig-1"]["name"] == "Zhang Wei" and rows["mig-1"]["email"] == "zhang.wei@example.com"
    assert rows["mig-1"]["phone"] == "+8613800000001"
    for member, (tier, growth, balance) in EXPECTED.items():
        wait_until(lambda m=member: call(base, f"/tenants/default/members/{m}", token)[0] == 200, timeout=60)
        page = json.loads(call(base, f"/tenants/default/members/{member}", token)[1])
        assert (page["member"]["tier"], page["member"]["growth"], page["member"]["balance"]) == (tier, growth,
                                                                                                  balance), member
    page = json.loads(call(base, "/tenants/default/members/mig-1", token)[1])
    assert page["summary"]["protection_until"].startswith("2099-06-30")
    assert page["summary"]["tier_since"].startswith("2025-07-01")
    ledger = imported_ledger(engine)
    assert sorted((m, k, d) for _, m, k, _, d, _ in ledger) == [("mig-1", "earn", 30), ("mig-1", "earn", 120),
                                                                ("mig-2", "earn", 50)]
    assert call(base, "/tenants/default/members/mig-3", token)[0] == 404  # the bad row: nothing of it

    # a member with activity already: refused whole, with a dead letter naming why
    wait_until(lambda: any(v.get("member_id") == "mig-5" and v["reason"] == "member_exists"
                           for _, v in cluster.consume(["dead-letters"], idle=0.5)), timeout=60)
    _, summary = worker.get_json("/members/mig-5")
    assert summary["points"]["balance"] == 0 and summary["growth"] == 0

    # the same file again: the same commands, applied already
    duplicates = metric(worker, "memberflow_events_consumed_total", topic="member-commands", outcome="duplicate")
    again = import_file(env, path)
    assert again.returncode == 1 and "5 rows: 4 sent" in again.stdout
    wait_until(lambda: metric(worker, "memberflow_events_consumed_total", topic="member-commands",
                              outcome="duplicate") >= duplicates + 3, timeout=60)
    published = [v for _, v in cluster.consume(["points-ledger"], idle=1.0) if v["rule"] == "import"]
    assert len(published) == 3 and imported_ledger(engine) == ledger
    for member, (tier, growth, balance) in EXPECTED.items():
        page = json.loads(call(base, f"/tenants/default/members/{member}", token)[1])
        assert (page["member"]["tier"], page["member"]["growth"], page["member"]["balance"]) == (tier, growth,
                                                                                                  balance)
    # the run is on the audit topic
    assert any(v["action"] == "member.import" for _, v in cluster.consume(["audit"], idle=0.5))


def test_the_endpoint_imports_and_the_member_api_answers_a_token_for_its_tenant(cluster, stack):
    worker, base, token, engine, env = stack
    body = json.dumps({"format": "jsonl", "reason": "e2e", "request_id": "e2e-import-1", "content":
                       '{"member_id": "api-1", "name": "Endpoint Person", "growth": 42, "lots": '
                       '[{"points": 77, "earned_at": "2025-05-01T10:00:00+08:00"}]}\n{"member_id": ""}\n'}).encode()
    status, answer = call(base, "/tenants/default/imports", token, body=body, method="POST")
    report = json.loads(answer)
    assert status == 200 and (report["sent"], report["bad"][0]["line"]) == (1, 2), answer
    wait_until(lambda: json.loads(call(base, "/tenants/default/members", token,
                                       {"name": "endpoint", "limit": 5})[1])["items"] != [], timeout=60)
    _, summary = worker.get_json("/members/api-1")
    assert (summary["points"]["balance"], summary["growth"]) == (77, 42)

    anonymous = replace(worker, token=None)
    acme = replace(worker, token=cluster.service_token("acme", "acme shop"))
    assert anonymous.get_json("/members/api-1")[0] == 401
    assert acme.get_json("/members/api-1")[0] == 404
    assert acme.get_json("/members/api-1?tenant_id=default")[0] == 404
    own = replace(worker, token=cluster.service_token("default", "shop"))
    assert own.get_json("/members/api-1")[0] == 200
