"""Tokens: stored hashed, shown once, bound to a tenant; every write audited on the topic and in
the read model; a reused request id is refused; the CLI makes the first admin token."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from memberflow.admin import tokens
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
    _, token_id, secret_part = secret.split("_", 2)  # mf_<id>_<secret>; the secret may hold "_" itself
    assert token_id == info["token_id"]
    assert stored.secret_hash == hashlib.sha256(secret_part.encode()).hexdigest()  # its hash, never the secret
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


def test_a_secret_holding_underscores_authenticates_and_a_wrong_one_does_not(filled, monkeypatch):
    monkeypatch.setattr(tokens.secrets, "token_urlsafe", lambda n: "a_b-c_d")
    secret, info = tokens.create_token(filled, "underscored", Role.VIEWER, TENANT)
    assert secret == f"mf_{info.token_id}_a_b-c_d"
    assert authenticate(filled, secret).token_id == info.token_id
    for wrong in (secret[:-1], f"mf_{info.token_id}_a_b", f"mf_{info.token_id}", "mf__a_b-c_d", secret + "x"):
        assert authenticate(filled, wrong) is None, wrong
