"""A merchant onboarded through the admin service, end to end: an admin publishes the steps (in
reverse, one twice) over HTTP, the admin service puts them on ``membership-plans``, and the worker's
catalogue ends with the effective plan; a member then buys its card."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from engine.plans import catalogue, fold_all
from tests.engine.plan_fixtures import card_item, merchant_steps, parsed
from tests.integration.fixtures import wait_until
from tests.integration.operators import admin_service


def post(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def admin(cluster, tmp_path_factory):
    """The admin service on a SQLite read model, and an admin token of the default tenant."""
    with admin_service(cluster, tmp_path_factory.mktemp("admin-plans"), name="admin-plans") as service:
        yield service


def test_steps_published_through_the_admin_service_in_reverse_end_in_the_effective_plan(cluster, admin):
    worker = cluster.add_worker("w-plans")
    base, token = admin
    steps = merchant_steps("bakery")
    url = f"{base}/tenants/default/merchants/bakery/plan-steps"
    for i, step in enumerate([*reversed(steps), steps[2]]):
        assert post(url, token, {"step": step, "reason": "onboarding", "request_id": f"bakery-{i}"}) == 202
    expected = catalogue(fold_all(parsed(steps)), "default", "bakery")
    wait_until(lambda: worker.get_json("/merchants/bakery/plans") == (200, expected), timeout=60)
    cluster.produce([("orders", "b1", {"type": "order_paid", "event_id": "b1-o1", "member_id": "b1",
                                       "order_id": "b1-o1", "amount": "88.00", "items": [card_item("bakery")],
                                       "occurred_at": "2026-03-05T10:00:00+08:00"})])
    wait_until(lambda: worker.get_json("/members/b1/memberships")[0] == 200, timeout=60)
    status, body = worker.get_json("/members/b1/memberships?as_of=2026-03-06T00:00:00%2B08:00")
    assert [(m["key"], m["status"], m["level_id"]) for m in body["memberships"]] == [("bakery/vip", "active", "gold")]
