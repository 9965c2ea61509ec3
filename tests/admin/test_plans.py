"""Merchants' membership-plan steps through the admin service: admin only, scoped to the tenant,
the step's tenant and merchant those of the path, idempotent by request id, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.admin.fixtures import KeptAudit, KeptSteps, admin_app, auth, tokens
from tests.engine.plan_fixtures import merchant_steps
from tests.readmodel.fixtures import empty_read_model


@pytest.fixture(scope="module")
def kept() -> KeptSteps:
    return KeptSteps()


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory, kept) -> Iterator[tuple[TestClient, dict[str, str], KeptAudit]]:
    engine = empty_read_model(request, "sqlite", tmp_path_factory.mktemp("plans-admin"))
    audit = KeptAudit()
    app = admin_app(engine, audit)
    app.state.plan_steps = kept
    with TestClient(app) as client:
        yield client, tokens(engine), audit
    engine.dispose()


URL = "/tenants/default/merchants/coffee/plan-steps"


def body(step: dict, request_id: str) -> dict:
    return {"step": step, "reason": "merchant onboarding", "request_id": request_id}


def test_an_admin_publishes_every_step_keyed_by_tenant_and_merchant_and_it_is_audited(setup, kept):
    client, token, audit = setup
    for i, step in enumerate(merchant_steps("coffee")):
        answer = client.post(URL, json=body(step, f"r{i}"), headers=auth(token["admin"]))
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"key": "default/coffee", "type": step["type"], "request_id": f"r{i}"}
    assert [k for k, _ in kept.steps] == ["default/coffee"] * len(merchant_steps("coffee"))
    assert [s.type for _, s in kept.steps][:3] == ["merchant", "card_template", "plan"]
    record = [r for r in audit.records if r.action == "plan.step"][-1]
    assert (record.target, record.detail["type"], record.reason) == ("merchant/coffee", "benefit",
                                                                      "merchant onboarding")


def test_a_request_id_is_used_once(setup, kept):
    client, token, _ = setup
    before = len(kept.steps)
    step = merchant_steps("coffee")[0]
    assert client.post(URL, json=body(step, "dup"), headers=auth(token["admin"])).status_code == 202
    assert client.post(URL, json=body(step, "dup"), headers=auth(token["admin"])).status_code == 409
    assert len(kept.steps) == before + 1


def test_roles_tenants_and_the_steps_own_fields_are_checked(setup, kept):
    client, token, _ = setup
    before = len(kept.steps)
    step = merchant_steps("coffee")[0]
    assert client.post(URL, json=body(step, "x1"), headers=auth(token["operator"])).status_code == 403
    assert client.post(URL, json=body(step, "x2"), headers=auth(token["foreign"])).status_code == 404
    assert client.post(URL, json=body(step, "x3")).status_code in (401, 403)
    other = client.post(URL, json=body({**step, "merchant_id": "fruit"}, "x4"), headers=auth(token["admin"]))
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["body", "step", "merchant_id"]
    bad = client.post(URL, json=body({**merchant_steps("coffee")[3], "price": "-1"}, "x5"),
                      headers=auth(token["admin"]))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:3] == ["body", "step", "product"]
    assert len(kept.steps) == before


def test_without_a_publisher_it_answers_503(request, tmp_path_factory):
    engine = empty_read_model(request, "sqlite", tmp_path_factory.mktemp("plans-admin-none"))
    with TestClient(admin_app(engine, KeptAudit())) as client:
        answer = client.post(URL, json=body(merchant_steps("coffee")[0], "n1"), headers=auth(tokens(engine)["admin"]))
    assert answer.status_code == 503
