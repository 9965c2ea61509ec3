"""A what-if simulation started through the admin service, over the broker's input topics.

Orders of the last three days go to the ``orders`` topic; the live worker issues their points (members climb
to DIAMOND on the way).  An operator asks the admin service (a real ``memberflow admin`` process) to simulate a
candidate that doubles DIAMOND's tier multiplier over the last 3 days: the simulation runs in the background,
reading the same records back from the topics.  Its base figures are what the live worker issued, rule by
rule, and the candidate's extra points are what the report's own per-rule sums say: the tier multiplier's.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.integration.fixtures import consumed_total, effective, wait_until
from tests.integration.operators import admin_service
from tests.integration.test_admin import call

MEMBERS = 6
DOUBLED = {"points": {"earning": {"tier_multipliers": {"tiers": {"DIAMOND": 3}}}}}
TRANSFERS = {"gift"}  # earned but not issued (docs/simulation.md)


def recent_orders(now: datetime) -> list[tuple[str, str, dict]]:
    """Four orders per member over the last three days, in time order; 300 to 700 each, so most members
    pass 1000 in 30 days (DIAMOND) by their third order."""
    rng = random.Random(23)
    out = []
    for i in range(4 * MEMBERS):
        member = f"s{i % MEMBERS:03d}"
        when = now - timedelta(hours=70) + timedelta(hours=i * 64 / (4 * MEMBERS))
        amount = Decimal(rng.randrange(30000, 70000)) / 100
        out.append(("orders", member, {
            "event_id": f"sim-ev-{i}", "member_id": member, "occurred_at": when.isoformat(), "type": "order_paid",
            "order_id": f"sim-o-{i}", "amount": str(amount),
            "items": [{"sku": f"sku{i % 7}", "category": "fresh", "unit_price": str(amount), "quantity": 1}]}))
    return out


@pytest.fixture(scope="module")
def admin(cluster, tmp_path_factory):
    """The admin service on SQLite, with the worker's environment (broker, topics, rules), and an operator token."""
    with admin_service(cluster, tmp_path_factory.mktemp("admin-sim"), role="operator") as service:
        yield service


def test_the_admin_service_simulates_a_candidate_over_the_last_days_of_the_topics(cluster, admin):
    base, token = admin
    worker = cluster.add_worker("sim1")
    events = recent_orders(datetime.now(UTC))
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=120)
    ledger = effective(v for _, v in cluster.consume(["points-ledger"], idle=2.0))
    live_by_rule: dict[str, int] = {}
    for entry in ledger.values():
        if entry["kind"] == "earn":
            live_by_rule[entry["rule"]] = live_by_rule.get(entry["rule"], 0) + entry["delta"]
    assert live_by_rule.get("tier_multiplier", 0) > 0  # members reached DIAMOND (or other multiplied tiers)

    body = {"rules": DOUBLED, "days": 3, "evaluate": "daily", "reason": "a richer DIAMOND", "request_id": "sim-it-1"}
    status, answer = call(base, "/tenants/default/simulations", token, body=json.dumps(body).encode(), method="POST")
    assert status == 202, answer
    simulation_id = json.loads(answer)["simulation_id"]
    busy, _ = call(base, "/tenants/default/simulations", token, method="POST",
                   body=json.dumps({**body, "request_id": "sim-it-2"}).encode())
    assert busy in (202, 409)  # 409 while the first runs (202 only if it finished already)

    def finished() -> dict | None:
        code, got = call(base, f"/tenants/default/simulations/{simulation_id}", token)
        detail = json.loads(got) if code == 200 else None
        return detail if detail and detail["state"] != "running" else None

    wait_until(lambda: finished() is not None, timeout=300, interval=1.0)
    detail = finished()
    assert detail["state"] == "done", detail["error"]
    report = detail["report"]
    assert report["base"]["events"] == len(events)

    issued = {rule: points for rule, points in live_by_rule.items() if rule not in TRANSFERS}
    assert report["base"]["points_by_rule"] == live_by_rule
    assert report["base"]["points_issued"] == sum(issued.values()) == detail["summary"]["points_issued_base"]

    base_rules, cand_rules = report["base"]["points_by_rule"], report["candidate"]["points_by_rule"]
    extra = {rule: cand_rules.get(rule, 0) - base_rules.get(rule, 0) for rule in set(base_rules) | set(cand_rules)}
    assert {rule for rule, d in extra.items() if d} == {"tier_multiplier"}
    assert report["difference"]["points_by_rule"] == extra
    assert (detail["summary"]["points_issued_difference"] == report["difference"]["points_issued"]
            == sum(d for rule, d in extra.items() if rule not in TRANSFERS) > 0)
    assert (detail["summary"]["points_issued_candidate"]
            == detail["summary"]["points_issued_base"] + detail["summary"]["points_issued_difference"])

    status, page = call(base, f"/tenants/default/simulations/{simulation_id}/report.html", token)
    assert status == 200 and b"What-if simulation" in page
