"""Tokens: stored hashed, shown once, bound to a tenant; every write audited on the topic and in
the read model; a reused request id is refused; the CLI makes the first admin token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from memberflow.admin.tokens import authenticate
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from models.admin import Role
from tests.admin.fixtures import TENANT, auth

ROOT = Path(__file__).resolve().parents[2]


def test_a_created_token_is_stored_hashed_and_audited(client, token, filled, audit):
    body = {"name": "shop", "role": "operator", "tenant_id": TENANT, "reason": "the shop's service", "request_id": "c1"}
    made = client.post("/tokens", json=body, headers=auth(token["admin"]))
    assert made.status_code == 201
    secret, info = made.json()["token"], made.json()["info"]
    with filled.connect() as conn:
        t = schema.api_tokens.c
        stored = conn.execute(sa.select(schema.api_tokens).where(t.token_id == info["token_id"])).one()
        trail = conn.execute(sa.select(schema.audit).where(schema.audit.c.target == info["token_id"])).one()
    assert secret.split("_")[-1] not in stored.secret_hash and len(stored.secret_hash) == 64
    assert authenticate(filled, secret).role is Role.OPERATOR
    published = next(r for r in audit.records if r.target == info["token_id"])
    assert (trail.audit_id, trail.action, trail.reason, trail.request_id, trail.outcome) == (
        published.audit_id, "token.create", "the shop's service", "c1", "done")
    assert trail.actor.endswith(":t-admin")
    again = client.post("/tokens", json=body, headers=auth(token["admin"]))
    assert again.status_code == 409
    listed = client.get("/tokens", headers=auth(token["admin"])).json()
    assert info["token_id"] in {t["token_id"] for t in listed} and all(t["tenant_id"] == TENANT for t in listed)


def test_a_tenant_admin_makes_no_platform_token(client, token):
    body = {"name": "x", "role": "viewer", "tenant_id": None, "reason": "r", "request_id": "p1"}
    assert client.post("/tokens", json=body, headers=auth(token["admin"])).status_code == 403
    assert client.post("/tokens", json=body, headers=auth(token["platform"])).status_code == 201


def test_the_cli_creates_the_first_admin_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.sqlite'}"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MEMBERFLOW_READMODEL_URL": url,
           "MEMBERFLOW_BROKER_URL": "kafka://127.0.0.1:9", "MEMBERFLOW_PRODUCER_REQUEST_TIMEOUT_S": "2"}
    run = subprocess.run([sys.executable, "-m", "memberflow.cli", "admin", "token", "create", "--tenant", "*",
                          "--role", "admin"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    secret = run.stdout.strip().splitlines()[-1]
    engine = open_database(url)
    who = authenticate(engine, secret)
    assert who is not None and who.role is Role.ADMIN and who.tenant_id is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.audit.c.action)).scalars().all() == ["token.create"]
    assert "read model only" in run.stderr  # no broker: said so
