"""Every endpoint with every role, with no token, a bad token, a revoked token and a foreign
tenant's token: 401 without a valid token, 404 for another tenant, 403 for a role that may not."""

from __future__ import annotations

import itertools

import pytest

from models.admin import Role
from tests.admin.fixtures import FOREIGN, TENANT, auth

MEMBER = "m0006"
RANGE = "from=2025-03-01T00:00:00%2B08:00&to=2025-04-01T00:00:00%2B08:00"
_ids = itertools.count()


def body(kind: str) -> dict | None:
    n = next(_ids)
    if kind == "token":
        return {"name": f"made-{n}", "role": "viewer", "tenant_id": TENANT, "reason": "matrix", "request_id": f"q{n}"}
    if kind == "revoke":
        return {"reason": "matrix", "request_id": f"r{n}"}
    if kind == "import":
        return {"format": "jsonl", "content": f'{{"member_id": "imp-{n}", "growth": 5}}\n', "reason": "matrix",
                "request_id": f"i{n}"}
    return None


#: (method, path, body kind, the least role that may, tenant-scoped)
ENDPOINTS = [
    ("GET", f"/tenants/{TENANT}/members", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/members/{MEMBER}", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/members/{MEMBER}/ledger", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/ledger", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/gifts", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/redemptions", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/audit", None, Role.ADMIN, True),
    ("GET", f"/tenants/{TENANT}/statistics?{RANGE}", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/exports/members?format=csv", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/exports/ledger?format=xlsx", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/exports/statistics?{RANGE}", None, Role.VIEWER, True),
    ("GET", "/tokens", None, Role.ADMIN, False),
    ("POST", "/tokens", "token", Role.ADMIN, False),
    ("POST", f"/tenants/{TENANT}/imports", "import", Role.ADMIN, True),
]
#: what a call that may answers, when not 200 (GET) or 201 (POST)
SUCCESS = {"import": 200}


def test_the_matrix_covers_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(m.upper(), path) for path, ops in paths.items() for m in ops if path != "/healthz"}
    covered = {(m, p.split("?")[0].replace(TENANT, "{tenant_id}").replace(MEMBER, "{member_id}"))
               for m, p, *_ in ENDPOINTS}
    covered.add(("POST", "/tokens/{token_id}/revoke"))  # test_revoking_needs_an_admin_of_the_token_s_tenant
    assert routes == covered


@pytest.mark.parametrize(("method", "path", "kind", "least", "scoped"), ENDPOINTS)
def test_every_endpoint_with_every_token(client, token, method, path, kind, least, scoped):
    def call(headers):
        return client.request(method, path, json=body(kind), headers=headers).status_code

    assert call({}) == 401
    assert call(auth("mf_nope_nope")) == 401
    assert call({"Authorization": "Basic eDp5"}) == 401
    for role in Role:
        status = call(auth(token[role.value]))
        ok = SUCCESS.get(kind, 201 if method == "POST" else 200)
        assert status == ok if role.rank >= least.rank else status == 403, role
    assert call(auth(token["platform"])) in (200, 201)
    foreign = call(auth(token["foreign"]))
    if scoped:
        assert foreign == 404
    elif method == "POST":
        assert foreign == 404  # a token for the other tenant
    else:
        assert foreign == 200


def test_a_foreign_tenant_s_member_is_not_found_and_its_own_tenant_is_empty(client, token):
    assert client.get(f"/tenants/{TENANT}/members/{MEMBER}", headers=auth(token["foreign"])).status_code == 404
    assert client.get(f"/tenants/{FOREIGN}/members/{MEMBER}", headers=auth(token["foreign"])).status_code == 404
    own = client.get(f"/tenants/{FOREIGN}/members", headers=auth(token["foreign"]))
    assert own.status_code == 200 and own.json()["items"] == []


def test_revoking_needs_an_admin_of_the_token_s_tenant(client, token):
    made = client.post("/tokens", json=body("token"), headers=auth(token["admin"])).json()
    token_id, secret = made["info"]["token_id"], made["token"]
    assert client.get(f"/tenants/{TENANT}/members", headers=auth(secret)).status_code == 200
    for name in ("viewer", "operator", "approver"):
        assert client.post(f"/tokens/{token_id}/revoke", json=body("revoke"),
                           headers=auth(token[name])).status_code == 403
    assert client.post(f"/tokens/{token_id}/revoke", json=body("revoke"),
                       headers=auth(token["foreign"])).status_code == 404
    revoked = client.post(f"/tokens/{token_id}/revoke", json=body("revoke"), headers=auth(token["admin"]))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get(f"/tenants/{TENANT}/members", headers=auth(secret)).status_code == 401
