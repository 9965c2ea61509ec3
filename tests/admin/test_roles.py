"""Every endpoint with every role, with no token, a bad token, a revoked token and a foreign
tenant's token: 401 without a valid token, 404 for another tenant, 403 for a role that may not."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from memberflow.admin.simulations import Simulations
from memberflow.readmodel import schema
from models.admin import Role
from tests.admin.fixtures import FOREIGN, TENANT, auth
from tests.readmodel.experiment_fixtures import EXPERIMENT

MEMBER = "m0006"
RANGE = "from=2025-03-01T00:00:00%2B08:00&to=2025-04-01T00:00:00%2B08:00"
_ids = itertools.count()


def body(kind: str) -> dict | None:
    n = next(_ids)
    if kind == "token":
        return {"name": f"made-{n}", "role": "viewer", "tenant_id": TENANT, "reason": "matrix", "request_id": f"q{n}"}
    if kind in ("revoke", "account", "decide"):
        return {"reason": "matrix", "request_id": f"r{n}"}
    if kind == "points":
        return {"points": 5, "reason": "matrix", "request_id": f"p{n}"}
    if kind == "benefit":
        return {"benefit": "free_shipping", "reason": "matrix", "request_id": f"b{n}"}
    if kind == "tier":
        return {"tier": "GOLD", "until": "2026-06-01T00:00:00+08:00", "reason": "matrix", "request_id": f"t{n}"}
    if kind == "membership":
        return {"merchant_id": "coffee", "plan_id": "club", "level_id": "green", "until": "2026-06-01T00:00:00+08:00",
                "reason": "matrix", "request_id": f"g{n}"}
    if kind == "rules":  # every version has the experiment, running
        return {"rules": {"points": {"pending_days": n % 30}, "experiments": [EXPERIMENT]}, "reason": "matrix",
                "request_id": f"v{n}"}
    if kind == "stop":
        return {"reason": "matrix", "request_id": f"e{n}"}
    if kind == "rollout":
        return {"variant": "double", "reason": "matrix", "request_id": f"o{n}"}
    if kind == "candidate":
        return {"rules": {"points": {"pending_days": 3}}}
    if kind == "simulation":
        return {"rules": {"points": {"pending_days": 3}}, "days": 7, "reason": "matrix", "request_id": f"sim{n}"}
    if kind == "rollback":
        return {"version": 1, "reason": "matrix", "request_id": f"b{n}"}
    if kind == "plan_step":
        return {"step": {"tenant_id": TENANT, "merchant_id": "coffee", "type": "merchant", "name": f"coffee {n}"},
                "reason": "matrix", "request_id": f"s{n}"}
    if kind == "import":
        return {"format": "jsonl", "content": f'{{"member_id": "imp-{n}", "growth": 5}}\n', "reason": "matrix",
                "request_id": f"i{n}"}
    return None


#: what a role that may gets, by body kind (a read: 200)
SUCCESS = {"token": 201, "points": 202, "benefit": 202, "tier": 202, "membership": 202, "account": 202, "rules": 201,
           "rollback": 201, "import": 200, "plan_step": 202, "simulation": 202, "stop": 201, "rollout": 201}
#: kinds that stop the experiment: it runs again (a new version) before each call
STOPS = ("stop", "rollout")


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
    ("GET", f"/tenants/{TENANT}/approvals", None, Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/members/{MEMBER}/credit", "points", Role.OPERATOR, True),
    ("POST", f"/tenants/{TENANT}/members/{MEMBER}/debit", "points", Role.OPERATOR, True),
    ("POST", f"/tenants/{TENANT}/members/{MEMBER}/benefits", "benefit", Role.OPERATOR, True),
    ("POST", f"/tenants/{TENANT}/members/{MEMBER}/tier-override", "tier", Role.OPERATOR, True),
    ("POST", f"/tenants/{TENANT}/members/{MEMBER}/memberships", "membership", Role.OPERATOR, True),
    *[("POST", f"/tenants/{TENANT}/members/{MEMBER}/{action}", "account", Role.OPERATOR, True)
      for action in ("lock", "unlock", "freeze", "unfreeze")],
    *[("POST", f"/tenants/{TENANT}/members/{MEMBER}/risk-flags/rf-1/{decision}", "account", Role.OPERATOR, True)
      for decision in ("release", "confirm", "dismiss")],
    ("GET", f"/tenants/{TENANT}/rules", None, Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/rules/validate", "candidate", Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/rules/versions", "rules", Role.ADMIN, True),
    ("GET", f"/tenants/{TENANT}/rules/versions", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/business-lines", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/rules/versions/1", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/rules/diff?from=1&to=1", None, Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/rules/rollback", "rollback", Role.ADMIN, True),
    ("GET", f"/tenants/{TENANT}/campaigns/expiry-warnings/preview", None, Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/simulations", "simulation", Role.OPERATOR, True),
    ("GET", f"/tenants/{TENANT}/simulations", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/simulations/sim-matrix", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/simulations/sim-matrix/report.html", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/experiments", None, Role.VIEWER, True),
    ("GET", f"/tenants/{TENANT}/experiments/double/statistics", None, Role.VIEWER, True),
    ("POST", f"/tenants/{TENANT}/experiments/double/stop", "stop", Role.ADMIN, True),
    ("POST", f"/tenants/{TENANT}/experiments/double/rollout", "rollout", Role.ADMIN, True),
    ("GET", "/tokens", None, Role.ADMIN, False),
    ("POST", "/tokens", "token", Role.ADMIN, False),
    ("POST", f"/tenants/{TENANT}/imports", "import", Role.ADMIN, True),
    ("POST", f"/tenants/{TENANT}/merchants/coffee/plan-steps", "plan_step", Role.ADMIN, True),
]


def test_the_matrix_covers_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(m.upper(), path) for path, ops in paths.items() for m in ops if path != "/healthz"}
    covered = {(m, p.split("?")[0].replace(TENANT, "{tenant_id}").replace(MEMBER, "{member_id}")
                .replace("/versions/1", "/versions/{version}").replace("/merchants/coffee", "/merchants/{merchant_id}")
                .replace("/risk-flags/rf-1", "/risk-flags/{flag_id}")
                .replace("/simulations/sim-matrix", "/simulations/{simulation_id}")
                .replace("/experiments/double", "/experiments/{experiment_id}"))
               for m, p, *_ in ENDPOINTS}
    covered.add(("POST", "/tokens/{token_id}/revoke"))  # test_revoking_needs_an_admin_of_the_token_s_tenant
    covered |= {("POST", f"/tenants/{{tenant_id}}/approvals/{{approval_id}}/{decision}")  # test_deciding_...
                for decision in ("approve", "reject")}
    assert routes == covered


@pytest.fixture(scope="module", autouse=True)
def first_version(client, token) -> None:
    """Version 1 of the tenant's rules, for the endpoints that read or restore one."""
    made = client.post(f"/tenants/{TENANT}/rules/versions", json=body("rules"), headers=auth(token["admin"]))
    assert made.status_code == 201 and made.json()["version"] == 1


class Instant(Simulations):
    """Simulations that end as they start: the matrix starts several in a row, and one runs per tenant."""

    def _launch(self, simulation_id: str, *args) -> None:
        self._finish(simulation_id, error="not run: the roles matrix")


@pytest.fixture(scope="module", autouse=True)
def a_simulation(client, filled) -> None:
    """A finished simulation (``sim-matrix``) to read, and simulations that end at once."""
    client.app.state.simulations = Instant(filled, client.app.state.rules)
    now = datetime.now(UTC)
    with filled.begin() as conn:
        conn.execute(sa.insert(schema.simulations).values(
            simulation_id="sim-matrix", tenant_id=TENANT, state="done", days=1, evaluate="daily", since=now,
            until=now, base_rules="v1", rules={}, requested_by="x:matrix", token_id="x", reason="matrix",
            request_id="m", started_at=now, heartbeat_at=now, finished_at=now, report_html="<p>report</p>"))


@pytest.mark.parametrize(("method", "path", "kind", "least", "scoped"), ENDPOINTS)
def test_every_endpoint_with_every_token(client, token, method, path, kind, least, scoped):
    def call(headers):
        if kind in STOPS:
            assert client.post(f"/tenants/{TENANT}/rules/versions", json=body("rules"),
                               headers=auth(token["admin"])).status_code == 201
        return client.request(method, path, json=body(kind), headers=headers).status_code

    assert call({}) == 401
    assert call(auth("mf_nope_nope")) == 401
    assert call({"Authorization": "Basic eDp5"}) == 401
    for role in Role:
        status = call(auth(token[role.value]))
        assert status == SUCCESS.get(kind, 200) if role.rank >= least.rank else status == 403, role
    assert call(auth(token["platform"])) == SUCCESS.get(kind, 200)
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


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_deciding_needs_an_approver_who_is_not_the_maker(client, token, decision):
    def pending() -> str:
        made = client.post(f"/tenants/{TENANT}/members/{MEMBER}/benefits", json=body("benefit"),
                           headers=auth(token["operator"]))
        assert made.status_code == 202 and made.json()["state"] == "pending_approval"
        return made.json()["approval_id"]

    approval = pending()
    path = f"/tenants/{TENANT}/approvals/{approval}/{decision}"
    assert client.post(path, json=body("decide")).status_code == 401
    assert client.post(path, json=body("decide"), headers=auth("mf_nope_nope")).status_code == 401
    for name in ("viewer", "operator"):
        assert client.post(path, json=body("decide"), headers=auth(token[name])).status_code == 403
    assert client.post(path, json=body("decide"), headers=auth(token["foreign"])).status_code == 404
    for name in ("approver", "admin", "platform"):
        fresh = f"/tenants/{TENANT}/approvals/{pending()}/{decision}"
        decided = client.post(fresh, json=body("decide"), headers=auth(token[name]))
        assert decided.status_code == 200, name
        assert decided.json()["state"] == ("approved" if decision == "approve" else "rejected")
