"""Periodic rights through the real worker and broker (issue 20 item 4): a badge's rights are issued
again by the first evaluation of each month the level holds, once however often that evaluation is
repeated, and not after the level is lost; the retention nudge grants the protected tier's offer from
the rules as a benefit instance the notice names.  Each output topic is waited on by itself."""

from __future__ import annotations

import pytest

from tests.integration.fixtures import command, metric, wait_until


@pytest.fixture(scope="module")
def worker(cluster):
    return cluster.add_worker("w1")


def of(cluster, topic: str, member: str, **match: str) -> list[dict]:
    """A member's outputs on ``topic``, once per id (outputs are at-least-once; a redelivery repeats its id)."""
    unique: dict[str, dict] = {}
    for _, v in cluster.consume([topic], idle=1.0):
        if v.get("member_id") == member and all(v.get(k) == m for k, m in match.items()):
            key = v.get("grant_id") or v.get("change_id") or v.get("notification_id") or repr(v)
            unique.setdefault(key, v)
    return list(unique.values())


def rights(cluster, member: str) -> list[tuple[str, str | None, int]]:
    """(benefit, renewal month -- None when issued on reaching the level --, level) of the member's badge grants."""
    return sorted(((g["benefit"], g["details"].get("period"), g["badge_level"])
                   for g in of(cluster, "benefit-grants", member) if g.get("line_id") == "small_treasury"),
                  key=lambda r: (r[1] or "", r[0]))


def looked_at(worker) -> float:
    return metric(worker, "memberflow_members_evaluated_total") + metric(worker, "memberflow_members_not_due_total")


def evaluate(cluster, worker, as_of: str) -> None:
    """One evaluation of every member, waited for: the only member of the cluster so far is looked at."""
    before = looked_at(worker)
    cluster.produce([("commands", "*", command(as_of))])
    wait_until(lambda: looked_at(worker) >= before + 1, timeout=60)


def test_badge_rights_renewed_each_month_the_level_holds_and_not_after_it_is_lost(cluster, worker):
    member = "pr-badge"
    # Small Treasury: level 1 from 1000 moved through it; no protection, a 7-day warning
    cluster.produce([("business-scores", member, {"user_pin": member, "dt": "2022-11-15",
                                                  "line_id": "small_treasury", "xjk_jy_amt": "1600.00"})])
    wait_until(lambda: len(of(cluster, "badge-changes", member)) == 1, timeout=60)
    wait_until(lambda: len(rights(cluster, member)) == 1, timeout=60)
    assert rights(cluster, member) == [("treasury_yield_boost", None, 1)]  # on reaching the level

    evaluate(cluster, worker, "2022-12-01T00:00:00+08:00")
    wait_until(lambda: len(rights(cluster, member)) == 2, timeout=60)
    december = [g for g in of(cluster, "benefit-grants", member) if g["details"].get("period") == "2022-12"]
    assert [(g["value"], g["valid_from"], g["valid_until"]) for g in december] == [
        ("2", "2022-12-01T00:00:00+08:00", "2022-12-08T00:00:00+08:00")]
    wait_until(lambda: worker.get_json(f"/members/{member}/badges/small_treasury")[1].get("rights_issued_for")
               == "2022-12", timeout=60)

    # the same evaluation again, then one later in December: no second December issue (checked at the end)
    evaluate(cluster, worker, "2022-12-01T00:00:00+08:00")
    evaluate(cluster, worker, "2022-12-20T00:00:00+08:00")
    # the member falls short; the evaluation of 01-01 finds it, warns, and the level still holds in January
    cluster.produce([("business-scores", member, {"user_pin": member, "dt": "2022-12-25",
                                                  "line_id": "small_treasury", "xjk_jy_amt": "0"})])
    wait_until(lambda: worker.get_json(f"/members/{member}/badges/small_treasury")[1]["last_snapshot"]
               == "2022-12-25", timeout=60)
    evaluate(cluster, worker, "2023-01-01T00:00:00+08:00")
    wait_until(lambda: len(rights(cluster, member)) == 3, timeout=60)
    wait_until(lambda: [n["kind"] for n in of(cluster, "notifications", member)] == ["downgrade_warning"],
               timeout=60)
    evaluate(cluster, worker, "2023-01-08T00:00:00+08:00")  # the downgrade: level 0
    wait_until(lambda: len(of(cluster, "badge-changes", member)) == 2, timeout=60)
    (down,) = [c for c in of(cluster, "badge-changes", member) if c["direction"] == "down"]
    assert (down["from_level"], down["to_level"], down["occurred_at"]) == (1, 0, "2023-01-08T00:00:00+08:00")
    evaluate(cluster, worker, "2023-02-01T00:00:00+08:00")  # February: the level is lost, no rights
    assert worker.get_json(f"/members/{member}/badges/small_treasury")[1]["level"] == 0
    assert rights(cluster, member) == [("treasury_yield_boost", None, 1), ("treasury_yield_boost", "2022-12", 1),
                                       ("treasury_yield_boost", "2023-01", 1)]


def test_the_retention_nudge_grants_the_tiers_offer(cluster, worker):
    member = "pr-diamond"
    cluster.produce([("orders", member, {"event_id": f"pay-{member}", "member_id": member, "type": "order_paid",
                                         "occurred_at": "2026-03-02T10:00:00+08:00", "order_id": "o-pr",
                                         "amount": "1000.00"})])
    wait_until(lambda: of(cluster, "tier-changes", member), timeout=60)
    evaluate(cluster, worker, "2026-04-01T00:00:00+08:00")  # the 1000 has left the 30-day window: DIAMOND falls short
    wait_until(lambda: of(cluster, "notifications", member, kind="retention_offer"), timeout=60)
    wait_until(lambda: of(cluster, "benefit-grants", member, benefit="retention_offer"), timeout=60)
    (notice,) = of(cluster, "notifications", member, kind="retention_offer")
    (offer,) = of(cluster, "benefit-grants", member, benefit="retention_offer")
    assert notice["data"]["grant_id"] == offer["grant_id"]
    assert (offer["tier"], offer["value"], offer["valid_until"], offer["conditions"]["min_spend"]) == (
        "DIAMOND", "30", "2026-04-08T00:00:00+08:00", "100")
    status, view = worker.get_json(f"/members/{member}/entitlements?as_of=2026-04-02T00:00:00%2B08:00")
    assert status == 200 and offer["grant_id"] in {b["benefit_id"] for b in view["benefits"]}
