"""Rules at runtime through the real broker, two workers, the projector, the admin service and PostgreSQL:
a rules version published through the admin API takes effect on both running workers without a restart
(the points an order earns follow it, and its outputs name the version), a rollback restores the earlier
outputs for new events, a new tenant is onboarded by its first version, and an invalid version put on
``tenant-rules`` directly is dead-lettered while the previous version stays in force."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from memberflow.dev.postgres import free_port
from memberflow.dev.processes import stop_processes
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from tests.integration.fixtures import consumed_total, metric, wait_until
from tests.integration.test_admin import call

MEMBERS = [f"rt{i:02d}" for i in range(8)]  # spread over the four partitions, so over both workers
_orders = itertools.count()


@pytest.fixture(scope="module")
def stack(cluster, postgres_url, tmp_path_factory):
    """Two workers, the projector and the admin service on PostgreSQL, an every-tenant admin token."""
    engine = open_database(postgres_url)
    schema.metadata.drop_all(engine)
    workers = [cluster.add_worker("rr1"), cluster.add_worker("rr2")]
    port = free_port()
    env = {**cluster.env("admin"), "MEMBERFLOW_READMODEL_URL": postgres_url, "MEMBERFLOW_ADMIN_PORT": str(port),
           "MEMBERFLOW_PROJECTOR_PORT": str(free_port())}
    logs = tmp_path_factory.mktemp("rules-logs")
    made = subprocess.run([sys.executable, "-m", "memberflow.cli", "admin", "token", "create", "--tenant", "*",
                           "--role", "admin"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    procs = [subprocess.Popen([sys.executable, "-m", "memberflow.cli", *argv], env=env, stdin=subprocess.DEVNULL,
                              stdout=open(logs / f"{argv[0]}.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
             for argv in (["readmodel", "run"], ["admin"])]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: call(base, "/healthz")[0] == 200, timeout=60)
        yield base, made.stdout.strip().splitlines()[-1], engine, workers
    finally:
        stop_processes(procs)
        engine.dispose()


def order(member: str, tenant: str = "default") -> tuple[str, str, dict]:
    n = next(_orders)
    return ("orders", member, {"event_id": f"rt-ev-{n}", "member_id": member, "tenant_id": tenant,
                               "type": "order_paid", "order_id": f"rt-o-{n}", "amount": "100.00",
                               "occurred_at": f"2026-03-10T{8 + n // 60:02d}:{n % 60:02d}:00+08:00",
                               "items": [{"sku": "sku1", "category": "dairy", "unit_price": "100.00",
                                          "quantity": 1}]})


def base_points(cluster, events: list[tuple[str, str, dict]]) -> dict[str, tuple[int, str]]:
    """Event id -> (points the base rule gave the order, the rules version named), once every event has its."""
    wanted = {value["event_id"] for _, _, value in events}
    found: dict[str, tuple[int, str]] = {}

    def arrived() -> bool:
        for _, entry in cluster.consume(["points-ledger"], idle=0.5):
            if entry["cause_event_id"] in wanted and entry["rule"] == "base":
                found[entry["cause_event_id"]] = (entry["delta"], entry["rules_version"])
        return len(found) == len(wanted)

    wait_until(arrived, timeout=90, interval=0.5)
    return found


def send_orders(cluster, members=MEMBERS, tenant: str = "default") -> set[tuple[int, str]]:
    events = [order(m, tenant) for m in members]
    cluster.produce(events)
    return set(base_points(cluster, events).values())


def publish(base: str, token: str, tenant: str, rules: dict, request_id: str) -> dict:
    body = json.dumps({"rules": rules, "reason": "e2e", "request_id": request_id}).encode()
    status, answer = call(base, f"/tenants/{tenant}/rules/versions", token, body=body, method="POST")
    assert status == 201, answer
    return json.loads(answer)


def applied_everywhere(workers, count: int) -> None:
    wait_until(lambda: all(metric(w, "memberflow_rules_versions_total", verdict="applied") >= count
                           for w in workers), timeout=30)


def with_base(rules: dict, points_per_unit: int) -> dict:
    rules = json.loads(json.dumps(rules))
    rules["points"]["earning"]["base"]["points_per_unit"] = points_per_unit
    return rules


def test_a_rules_change_and_its_rollback_take_effect_on_running_workers(cluster, stack):
    base, token, _, workers = stack
    ((points, file_version),) = send_orders(cluster)
    assert points == 100 and file_version.startswith("file:")  # the shipped 1 point per yuan

    status, body = call(base, "/tenants/default/rules", token)
    shown = json.loads(body)
    assert status == 200 and shown["rules_version"] == file_version and shown["version"] is None

    v1 = publish(base, token, "default", with_base(shown["rules"], 2), "e2e-v1")["version"]
    v2 = publish(base, token, "default", with_base(shown["rules"], 3), "e2e-v2")["version"]
    applied_everywhere(workers, 2)
    assert send_orders(cluster) == {(300, f"v{v2}")}
    consumed = [consumed_total(w) for w in workers]
    assert all(c > 0 for c in consumed), "both workers applied orders"

    body = json.dumps({"version": v1, "reason": "back to double", "request_id": "e2e-rollback"}).encode()
    status, answer = call(base, "/tenants/default/rules/rollback", token, body=body, method="POST")
    assert status == 201, answer
    v3 = json.loads(answer)["version"]
    applied_everywhere(workers, 3)
    assert send_orders(cluster) == {(200, f"v{v3}")}  # as under v1

    status, answer = call(base, "/tenants/default/rules/diff", token, {"from": v2, "to": v3})
    assert status == 200 and json.loads(answer)["changes"] == [
        {"path": "points.earning.base.points_per_unit", "change": "changed", "before": "3", "after": "2"}]


def test_a_new_tenant_is_onboarded_without_a_restart(cluster, stack):
    base, token, engine, workers = stack
    status, body = call(base, "/tenants/acme/rules", token)
    rules = json.loads(body)["rules"]
    assert status == 200 and rules["tenant_id"] == "acme"
    before = metric(workers[0], "memberflow_rules_versions_total", verdict="applied")
    version = publish(base, token, "acme", with_base(rules, 5), "e2e-acme")["version"]
    applied_everywhere(workers, before + 1)
    assert send_orders(cluster, MEMBERS[:4], tenant="acme") == {(500, f"v{version}")}

    def projected() -> set[int]:
        with engine.connect() as conn:
            return set(conn.scalars(sa.select(schema.rules_versions.c.version)
                                    .where(schema.rules_versions.c.tenant_id == "acme")))

    wait_until(lambda: projected() == {version}, timeout=30)  # the projector's copy is the same row


def test_an_invalid_version_on_the_topic_is_dead_lettered_and_the_previous_one_stays(cluster, stack):
    base, token, _, workers = stack
    before = send_orders(cluster)
    status, body = call(base, "/tenants/default/rules", token)
    shown = json.loads(body)
    in_force, rules = shown["rules_version"], shown["rules"]
    assert {version for _, version in before} == {in_force}
    rules["tiers"]["downgrade_warning_days"] = -1
    bad = {"tenant_id": "default", "version": (shown["version"] or 0) + 1, "rules": rules, "published_by": "someone",
           "reason": "bypassing the API", "published_at": "2026-03-10T00:00:00+00:00"}
    cluster.produce([("tenant-rules", "default", bad)])

    def dead_lettered() -> list[dict]:
        return [v for _, v in cluster.consume(["dead-letters"], idle=0.5) if v["source_topic"] == "tenant-rules"]

    wait_until(lambda: dead_lettered(), timeout=30)
    (letter,) = dead_lettered()
    assert letter["reason"] == "invalid_rules" and letter["detail"].startswith("rules.tiers.downgrade_warning_days")
    wait_until(lambda: all(metric(w, "memberflow_rules_versions_total", verdict="invalid") >= 1 for w in workers),
               timeout=30)
    assert send_orders(cluster) == before
    status, body = call(base, "/tenants/default/rules", token)
    assert json.loads(body)["rules_version"] == in_force  # the read model skipped it too


def test_a_published_expiry_warning_campaign_reaches_the_preview_and_the_notifications(cluster, stack):
    base, token, _, workers = stack
    members = MEMBERS[:4]
    send_orders(cluster, members, tenant="acme")  # points that expire at the end of next year: 2028-01-01
    status, body = call(base, "/tenants/acme/rules", token)
    rules = json.loads(body)["rules"]
    rules["points"]["expiry"].update(warn_lead_days=30, warning={
        "channel": "sms", "template": "{member_id}: {points} points expire on {expires_on}"})
    before = metric(workers[0], "memberflow_rules_versions_total", verdict="applied")
    version = publish(base, token, "acme", rules, "e2e-campaign")["version"]
    applied_everywhere(workers, before + 1)
    as_of = "2027-12-15T00:00:00+08:00"

    def preview() -> list[dict]:
        status, body = call(base, "/tenants/acme/campaigns/expiry-warnings/preview", token, {"as_of": as_of})
        return json.loads(body)["items"] if status == 200 else []

    wait_until(lambda: {i["member_id"] for i in preview()} == set(members), timeout=30)
    shown = preview()
    assert [i["expires_at"] for i in shown] == sorted(i["expires_at"] for i in shown)
    assert all(i["channel"] == "sms" and i["text"] == f"{i['member_id']}: {i['points']} points expire on 2028-01-01"
               for i in shown)

    cluster.produce([("commands", "acme", {"type": "evaluate", "tenant_id": "acme", "as_of": as_of})])

    def warnings() -> dict[str, dict]:
        return {v["member_id"]: v for _, v in cluster.consume(["notifications"], idle=0.5)
                if v["tenant_id"] == "acme" and v["kind"] == "points_expiry_warning"}

    wait_until(lambda: set(warnings()) == set(members), timeout=60)
    for member, warning in warnings().items():
        assert warning["channel"] == "sms" and warning["rules_version"] == f"v{version}"
        assert warning["message"] == f"{member}: {warning['data']['amount']} points expire on 2028-01-01"
