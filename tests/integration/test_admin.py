"""The operators' path through the real worker, broker, projector, admin service and PostgreSQL:
events in, the projector writes, an operator searches, opens a member, sees a ledger entry, the
statistics count it and both exports contain it; a token made through the API is audited on
the ``audit`` topic and the projector's copy is the same row; an operator's credit over the limit
waits for a second person, then its ledger entry is in the member's ledger and the statistics; a
lock then unlock shows in the member lookup; a debit that would overdraw is refused."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from memberflow.dev.postgres import free_port
from memberflow.dev.processes import stop_processes
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from tests.integration.fixtures import consumed_total, effective, mixed_events, wait_until
from tests.readmodel.test_members_by_day import brute_force

MEMBERS = 20
LIMIT = 50  # MEMBERFLOW_ADJUSTMENT_LIMIT_POINTS of the admin service


def call(base: str, path: str, token: str | None = None, params: dict | None = None, body: bytes | None = None,
         method: str = "GET") -> tuple[int, bytes]:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


@pytest.fixture(scope="module")
def stack(cluster, postgres_url, tmp_path_factory):
    """A worker fed a stream, the projector and the admin service on PostgreSQL, an admin token."""
    engine = open_database(postgres_url)
    schema.metadata.drop_all(engine)
    worker = cluster.add_worker("adm1")
    events = mixed_events(400, MEMBERS, seed=81)
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=120)
    port = free_port()
    env = {**cluster.env("admin"), "MEMBERFLOW_READMODEL_URL": postgres_url, "MEMBERFLOW_ADMIN_PORT": str(port),
           "MEMBERFLOW_PROJECTOR_PORT": str(free_port()), "MEMBERFLOW_ADJUSTMENT_LIMIT_POINTS": str(LIMIT)}
    logs = tmp_path_factory.mktemp("admin-logs")
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
        yield base, made.stdout.strip().splitlines()[-1], engine
    finally:
        stop_processes(procs)
        engine.dispose()


def test_an_operator_finds_a_member_s_ledger_entry_in_search_page_statistics_and_exports(cluster, stack):
    base, token, engine = stack
    ledger = effective(v for _, v in cluster.consume(["points-ledger"], idle=2.0))
    entry = max(ledger.values(), key=lambda e: e["delta"])
    member = entry["member_id"]

    def member_page() -> dict | None:
        status, body = call(base, f"/tenants/default/members/{member}", token)
        page = json.loads(body) if status == 200 else None
        return page if page and entry["entry_id"] in {e["entry_id"] for e in ledger_of(member)} else None

    def ledger_of(member_id: str) -> list[dict]:
        status, body = call(base, f"/tenants/default/members/{member_id}/ledger", token, {"limit": 500})
        return json.loads(body)["items"] if status == 200 else []

    wait_until(lambda: member_page() is not None, timeout=60)

    def projected() -> int:
        with engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(schema.ledger))

    wait_until(lambda: projected() == len(ledger), timeout=60)  # every entry in, so the figures are whole
    status, body = call(base, "/tenants/default/members", token, {"id_prefix": member, "limit": 5})
    assert status == 200 and member in {m["member_id"] for m in json.loads(body)["items"]}
    assert entry["entry_id"] in {e["entry_id"] for e in ledger_of(member)}

    moment = datetime.fromisoformat(entry["occurred_at"])
    end = moment + timedelta(seconds=1)
    status, body = call(base, "/tenants/default/statistics", token, {"from": moment.isoformat(), "to": end.isoformat()})
    figures = json.loads(body)
    same = [e for e in ledger.values() if moment <= datetime.fromisoformat(e["occurred_at"]) < end]
    assert status == 200 and figures["points"]["net"] == sum(e["delta"] for e in same)
    assert (entry["kind"], entry["rule"]) in {(r["kind"], r["rule"]) for r in figures["points"]["by_rule"]}

    status, body = call(base, "/tenants/default/exports/ledger", token, {"member_id": member, "format": "csv"})
    assert status == 200 and entry["entry_id"] in {r["entry_id"] for r in csv.DictReader(io.StringIO(body.decode()))}
    status, body = call(base, "/tenants/default/exports/ledger", token, {"member_id": member, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    assert status == 200 and entry["entry_id"] in {row[0] for row in sheet.iter_rows(values_only=True)}


def test_a_token_made_through_the_api_is_audited_on_the_topic_and_in_the_read_model(cluster, stack):
    base, token, engine = stack
    body = b'{"name": "shop", "role": "viewer", "tenant_id": "default", "reason": "checkout", "request_id": "e2e-1"}'
    status, answer = call(base, "/tokens", token, body=body, method="POST")
    assert status == 201, answer
    token_id = json.loads(answer)["info"]["token_id"]
    published = [v for _, v in cluster.consume(["audit"], idle=1.0) if v["target"] == token_id]
    assert len(published) == 1 and published[0]["reason"] == "checkout"
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.audit).where(schema.audit.c.target == token_id)).all()
    assert [r.audit_id for r in rows] == [published[0]["audit_id"]]
    status, answer = call(base, "/tokens", token, body=body, method="POST")
    assert status == 409


def _post(base: str, path: str, token: str, body: dict) -> tuple[int, dict]:
    status, answer = call(base, path, token, body=json.dumps(body).encode(), method="POST")
    return status, json.loads(answer) if answer else {}


def _token(base: str, admin: str, name: str, role: str) -> str:
    status, made = _post(base, "/tokens", admin, {"name": name, "role": role, "tenant_id": "default",
                                                  "reason": "e2e", "request_id": f"make-{name}"})
    assert status == 201, made
    return made["token"]


def test_an_adjustment_over_the_limit_waits_for_a_second_person_then_is_in_the_ledger_and_statistics(cluster, stack):
    base, admin, engine = stack
    operator, approver = _token(base, admin, "olga", "operator"), _token(base, admin, "anna", "approver")

    def page(member_id: str) -> dict:
        status, body = call(base, f"/tenants/default/members/{member_id}", admin)
        assert status == 200, body
        return json.loads(body)

    def command(member_id: str, request_id: str) -> dict:
        return next(c for c in page(member_id)["operator_commands"] if c["request_id"] == request_id)

    status, body = call(base, "/tenants/default/members", admin, {"status": "active", "limit": 5})
    member = json.loads(body)["items"][0]["member_id"]
    started = datetime.now(UTC) - timedelta(seconds=1)
    path = f"/tenants/default/members/{member}"
    status, answer = _post(base, f"{path}/credit", operator, {"points": LIMIT + 10, "reason": "goodwill",
                                                              "request_id": "e2e-credit"})
    assert status == 202 and answer["state"] == "pending_approval", answer
    assert command(member, "e2e-credit")["state"] == "pending_approval"
    approve = f"/tenants/default/approvals/{answer['approval_id']}/approve"
    assert _post(base, approve, operator, {"reason": "mine", "request_id": "e2e-a0"})[0] == 403  # not an approver
    status, own = _post(base, f"{path}/credit", approver, {"points": LIMIT + 1, "reason": "mine too",
                                                           "request_id": "e2e-own"})
    status, refused = _post(base, f"/tenants/default/approvals/{own['approval_id']}/approve", approver,
                            {"reason": "self", "request_id": "e2e-a1"})
    assert status == 403 and "maker" in refused["detail"]  # the maker cannot approve their own
    status, approved = _post(base, approve, approver, {"reason": "checked", "request_id": "e2e-a2"})
    # "applied" when the projector had already seen the engine apply it by the time the answer was read
    assert status == 200 and approved["state"] in ("approved", "applied"), approved

    def entry() -> dict | None:
        status, body = call(base, f"{path}/ledger", admin, {"kind": "adjustment", "limit": 500})
        items = json.loads(body)["items"] if status == 200 else []
        return next((e for e in items if e["cause_event_id"] == answer["command_id"]), None)

    wait_until(lambda: entry() is not None, timeout=60)
    credited = entry()
    assert (credited["delta"], credited["rule"], credited["reason"]) == (LIMIT + 10, "operator_credit", "goodwill")
    assert credited["operator"].endswith(":olga") and credited["approver"].endswith(":anna")
    assert command(member, "e2e-credit")["state"] == "applied"

    # the command on the topic, delivered again: nothing changes
    (sent,) = [v for _, v in cluster.consume(["member-commands"], idle=1.0) if v["command_id"] == answer["command_id"]]
    assert sent["approver"].endswith(":anna") and sent["points"] == LIMIT + 10
    worker = next(w for w in cluster.workers if w.name == "adm1")
    duplicates = consumed_total(worker, "duplicate")
    cluster.produce([("member-commands", member, sent)])
    wait_until(lambda: consumed_total(worker, "duplicate") > duplicates, timeout=60)
    status, body = call(base, f"{path}/ledger", admin, {"kind": "adjustment", "limit": 500})
    assert [e["cause_event_id"] for e in json.loads(body)["items"]].count(answer["command_id"]) == 1
    status, body = call(base, "/tenants/default/approvals", admin, {"state": "applied"})
    assert answer["approval_id"] in {a["approval_id"] for a in json.loads(body)["items"]}
    status, body = call(base, "/tenants/default/statistics", admin,
                        {"from": started.isoformat(), "to": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    figures = json.loads(body)["points"]
    assert status == 200 and figures["credited"] == LIMIT + 10
    assert ("adjustment", "operator_credit", LIMIT + 10) in {(r["kind"], r["rule"], r["points"])
                                                            for r in figures["by_rule"]}
    status, body = call(base, "/tenants/default/exports/ledger", admin, {"member_id": member, "format": "csv"})
    (exported,) = [r for r in csv.DictReader(io.StringIO(body.decode())) if r["entry_id"] == credited["entry_id"]]
    assert (exported["operator"], exported["approver"], exported["reason"]) == (
        credited["operator"], credited["approver"], "goodwill")

    assert _post(base, f"{path}/lock", operator, {"reason": "fraud check", "request_id": "e2e-lock"})[0] == 202
    wait_until(lambda: page(member)["member"]["status"] == "locked", timeout=60)
    shown = page(member)["member"]
    assert shown["status_reason"] == "fraud check" and shown["status_since"]
    assert _post(base, f"{path}/unlock", operator, {"reason": "appeal upheld", "request_id": "e2e-unlock"})[0] == 202
    wait_until(lambda: page(member)["member"]["status"] == "active", timeout=60)
    assert page(member)["member"]["status_reason"] == "appeal upheld"
    assert [c["status"] for c in page(member)["account_changes"][:2]] == ["active", "locked"]

    spendable = page(member)["member"]["spendable"]
    status, debit = _post(base, f"{path}/debit", operator, {"points": spendable + 1, "reason": "too much",
                                                            "request_id": "e2e-debit"})
    assert status == 202
    if debit["state"] == "pending_approval":
        assert _post(base, f"/tenants/default/approvals/{debit['approval_id']}/approve", approver,
                     {"reason": "ok", "request_id": "e2e-a3"})[0] == 200
    wait_until(lambda: command(member, "e2e-debit")["state"] == "refused", timeout=60)
    assert "would overdraw" in command(member, "e2e-debit")["refusal"]
    assert page(member)["member"]["spendable"] == spendable


def test_members_per_tier_and_status_by_day_agree_with_the_rows_and_end_on_the_members_now(stack):
    """After every event (the stream's and the operators' commands above): the statistics' last day
    counts every member with its tier and status now, and each day agrees with a reading of every row."""
    base, token, engine = stack
    with engine.connect() as conn:
        first = conn.scalar(sa.select(sa.func.min(schema.members.c.joined_at)))
        now_tiers = dict(conn.execute(sa.select(schema.members.c.tier, sa.func.count())
                                      .group_by(schema.members.c.tier)).all())
        now_statuses = dict(conn.execute(sa.select(schema.members.c.status, sa.func.count())
                                         .group_by(schema.members.c.status)).all())
    start = first.astimezone(UTC) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(days=1)
    status, body = call(base, "/tenants/default/statistics", token, {"from": start.isoformat(), "to": end.isoformat()})
    assert status == 200, body
    by_day = json.loads(body)["by_day"]
    tiers, statuses = brute_force(engine, start, end, "default")
    assert {c["key"]: c["counts"] for c in by_day["members_per_tier"] if any(c["counts"])} == tiers
    assert {c["key"]: c["counts"] for c in by_day["members_per_status"] if any(c["counts"])} == statuses
    assert {c["key"]: c["counts"][-1] for c in by_day["members_per_tier"] if c["counts"][-1]} == now_tiers
    assert {c["key"]: c["counts"][-1] for c in by_day["members_per_status"] if c["counts"][-1]} == now_statuses
    assert len(now_tiers) >= 2 and sum(now_tiers.values()) > 0
    assert {c["key"]: c["counts"][0] for c in by_day["members_per_tier"]} == dict.fromkeys(tiers, 0)
