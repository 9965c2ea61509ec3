"""Adjustments, account actions and approvals through the admin service: the commands it
publishes, limits and maker-checker, retries and bad input -- and, with the published commands
applied by the engine and projected (as a worker and the projector would), what the member's
page and the approval queue show."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from engine.operator_actions import operator_command_id
from models.commands import PointsCredit
from tests.admin.command_worker import Worker
from tests.admin.console_client import signed_in
from tests.admin.fixtures import LIMITS, TENANT, auth

MEMBER = "m0006"
BASE = f"/tenants/{TENANT}/members/{MEMBER}"
_ids = itertools.count()


def rid(prefix: str = "q") -> str:
    return f"{prefix}{next(_ids)}"


@pytest.fixture(scope="module")
def worker(filled, published) -> Worker:
    return Worker(filled, published)


def post(client, token, path, body):
    return client.post(path, json=body, headers=auth(token))


def page(client, token) -> dict:
    answer = client.get(BASE, headers=auth(token))
    assert answer.status_code == 200
    return answer.json()


def command_row(client, token, request_id: str) -> dict:
    return next(c for c in page(client, token)["operator_commands"] if c["request_id"] == request_id)


def test_a_credit_within_the_limits_is_published_and_shows_pending_until_its_entry_is_in(
        client, token, published, worker, audit):
    request_id = rid()
    answer = post(client, token["operator"], f"{BASE}/credit", {"points": 40, "reason": "late parcel",
                                                                "request_id": request_id})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["state"] == "published" and body["approval_id"] is None
    assert body["command_id"] == operator_command_id(TENANT, request_id)
    command = published.commands[-1]
    assert isinstance(command, PointsCredit) and command.model_dump(include={"command_id", "points", "reason"}) == {
        "command_id": body["command_id"], "points": 40, "reason": "late parcel"}
    assert command.actor.endswith(":t-operator") and command.approver is None and command.member_id == MEMBER
    assert audit.records[-1].action == "member.points_credit" and audit.records[-1].request_id == request_id
    assert command_row(client, token["viewer"], request_id)["state"] == "pending"

    (entry,) = [o.value for o in worker.run() if o.topic == "points-ledger"]
    assert (entry.delta, entry.operator, entry.reason) == (40, command.actor, "late parcel")
    assert command_row(client, token["viewer"], request_id)["state"] == "applied"
    ledger = client.get(f"{BASE}/ledger", headers=auth(token["viewer"])).json()["items"]
    (shown,) = [e for e in ledger if e["entry_id"] == entry.entry_id]
    assert (shown["kind"], shown["operator"], shown["reason"]) == ("adjustment", command.actor, "late parcel")


def test_a_retry_gets_the_first_answer_and_another_body_under_the_same_id_is_409(client, token, published):
    body = {"points": 3, "reason": "retry", "request_id": rid()}
    first = post(client, token["operator"], f"{BASE}/credit", body)
    sent = len(published.commands)
    again = post(client, token["operator"], f"{BASE}/credit", body)
    assert again.status_code == 202 and again.json() == first.json() and len(published.commands) == sent
    assert post(client, token["operator"], f"{BASE}/credit", {**body, "points": 4}).status_code == 409
    assert post(client, token["operator"], f"{BASE}/debit", body).status_code == 409
    assert post(client, token["approver"], f"{BASE}/credit", body).status_code == 409  # someone else's id


@pytest.mark.parametrize(("path", "body", "field"), [
    ("credit", {"points": 0, "reason": "x"}, "points"),
    ("debit", {"points": -5, "reason": "x"}, "points"),
    ("credit", {"points": 5, "reason": "   "}, "reason"),
    ("credit", {"points": 5}, "reason"),
    ("lock", {"reason": ""}, "reason"),
    ("tier-override", {"tier": "GOLD", "until": "2026-06-01T00:00:00", "reason": "x"}, "until"),
])
def test_bad_input_is_422_with_the_field_path(client, token, path, body, field):
    answer = post(client, token["operator"], f"{BASE}/{path}", {"request_id": rid(), **body})
    assert answer.status_code == 422
    assert ["body", field] in [e["loc"] for e in answer.json()["detail"]]


def test_an_unknown_member_is_404(client, token, published):
    sent = len(published.commands)
    answer = post(client, token["operator"], f"/tenants/{TENANT}/members/nobody/credit",
                  {"points": 5, "reason": "x", "request_id": rid()})
    assert answer.status_code == 404 and len(published.commands) == sent


def test_over_the_limit_a_second_person_approves_and_the_entry_names_both(client, token, published, worker, audit):
    request_id = rid()
    answer = post(client, token["operator"], f"{BASE}/credit", {"points": LIMITS.per_adjustment + 1,
                                                                "reason": "big goodwill", "request_id": request_id})
    assert answer.status_code == 202 and answer.json()["state"] == "pending_approval"
    approval_id = answer.json()["approval_id"]
    sent = len(published.commands)
    queue = client.get(f"/tenants/{TENANT}/approvals", params={"state": "pending"}, headers=auth(token["viewer"]))
    (row,) = [a for a in queue.json()["items"] if a["approval_id"] == approval_id]
    assert (row["points"], row["maker"].endswith(":t-operator"), row["state"]) == (101, True, "pending")
    assert "over the 100 points" in row["why"]
    assert command_row(client, token["viewer"], request_id)["state"] == "pending_approval"
    assert audit.records[-1].outcome == "pending"

    decision = {"reason": "checked the parcel", "request_id": rid("d")}
    path = f"/tenants/{TENANT}/approvals/{approval_id}/approve"
    assert post(client, token["operator"], path, decision).status_code == 403  # not an approver
    approved = post(client, token["approver"], path, decision)
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert post(client, token["approver"], path, decision).json() == approved.json()  # a retry
    assert post(client, token["admin"], path, {**decision, "request_id": rid("d")}).status_code == 409
    (command,) = published.commands[sent:]
    assert command.approver.endswith(":t-approver") and command.command_id == answer.json()["command_id"]

    (entry,) = [o.value for o in worker.run()
                if o.topic == "points-ledger" and o.value.cause_event_id == command.command_id]
    assert (entry.delta, entry.operator, entry.approver) == (101, command.actor, command.approver)
    row = client.get(f"/tenants/{TENANT}/approvals", params={"state": "applied"},
                     headers=auth(token["viewer"])).json()["items"]
    assert approval_id in {a["approval_id"] for a in row}
    assert command_row(client, token["viewer"], request_id)["state"] == "applied"


def test_the_maker_cannot_approve_their_own(client, token, published, audit):
    answer = post(client, token["approver"], f"{BASE}/credit", {"points": 500, "reason": "mine",
                                                                "request_id": rid()})
    path = f"/tenants/{TENANT}/approvals/{answer.json()['approval_id']}/approve"
    sent = len(published.commands)
    refused = post(client, token["approver"], path, {"reason": "self", "request_id": rid("d")})
    assert refused.status_code == 403 and "maker" in refused.json()["detail"] and len(published.commands) == sent
    assert (audit.records[-1].action, audit.records[-1].outcome) == ("approval.approve", "refused")
    rejected = post(client, token["admin"], path.replace("/approve", "/reject"), {"reason": "no",
                                                                                  "request_id": rid("d")})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected" and len(published.commands) == sent


def test_an_operator_s_day_is_limited_too(client, filled, token):
    made = [post(client, token["admin"], f"{BASE}/credit", {"points": 100, "reason": "day", "request_id": rid()})
            for _ in range(3)]
    assert [a.json()["state"] for a in made] == ["published", "published", "pending_approval"]
    assert "today is over the 250 points" in made[-1].json()["detail"]


def test_a_debit_that_would_overdraw_is_refused_and_the_operator_sees_why(client, token, worker):
    worker.run()  # what earlier tests published
    spendable = page(client, token["viewer"])["member"]["spendable"]
    request_id = rid()
    answer = post(client, token["operator"], f"{BASE}/debit", {"points": spendable + 1, "reason": "too much",
                                                               "request_id": request_id}).json()
    if answer["state"] == "pending_approval":  # over the limit: approved, and still refused by the engine
        post(client, token["approver"], f"/tenants/{TENANT}/approvals/{answer['approval_id']}/approve",
             {"reason": "ok", "request_id": rid("d")})
    (letter,) = [o.value for o in worker.run() if o.topic == "dead-letters"]
    assert letter.reason == "insufficient_points" and letter.cause_event_id == answer["command_id"]
    row = command_row(client, token["viewer"], request_id)
    assert row["state"] == "refused" and "would overdraw" in row["refusal"]
    assert page(client, token["viewer"])["member"]["spendable"] == spendable


def test_lock_then_unlock_shows_why_and_since_when(client, token, worker):
    locked = post(client, token["operator"], f"{BASE}/lock", {"reason": "card fraud suspected", "request_id": rid()})
    assert locked.status_code == 202
    worker.run()
    shown = page(client, token["viewer"])
    assert (shown["member"]["status"], shown["member"]["status_reason"]) == ("locked", "card fraud suspected")
    assert shown["member"]["status_since"] and shown["summary"]["status_reason"] == "card fraud suspected"
    assert shown["account_changes"][0]["status"] == "locked"
    post(client, token["operator"], f"{BASE}/unlock", {"reason": "appeal upheld", "request_id": rid()})
    worker.run()
    shown = page(client, token["viewer"])
    assert (shown["member"]["status"], shown["member"]["status_reason"]) == ("active", "appeal upheld")
    assert [c["status"] for c in shown["account_changes"][:2]] == ["active", "locked"]
    assert shown["operator_commands"][0]["state"] == "applied"


def test_a_tier_override_and_a_benefit_wait_for_an_approver_then_apply(client, token, worker):
    override = post(client, token["operator"], f"{BASE}/tier-override",
                    {"tier": "DIAMOND", "until": "2027-06-01T00:00:00+08:00", "reason": "VIP", "request_id": rid()})
    grant = post(client, token["operator"], f"{BASE}/benefits",
                 {"benefit": "free_shipping", "value": "12.50", "reason": "VIP", "request_id": rid()})
    for answer in (override, grant):
        assert answer.json()["state"] == "pending_approval"
        post(client, token["approver"], f"/tenants/{TENANT}/approvals/{answer.json()['approval_id']}/approve",
             {"reason": "ok", "request_id": rid("d")})
    worker.run()
    shown = page(client, token["viewer"])
    assert shown["member"]["tier"] == "DIAMOND" and shown["member"]["tier_override_until"]
    assert "free_shipping" in {g["benefit"] for g in shown["grants"]}
    states = {c["action"]: c["state"] for c in shown["operator_commands"]}
    assert states["tier_override"] == states["benefit_grant"] == "applied", (states, shown["member"])


def test_a_membership_grant_waits_for_an_approver_and_the_engine_s_refusal_is_shown(client, token, published, worker,
                                                                                   audit):
    request_id = rid()
    answer = post(client, token["operator"], f"{BASE}/memberships",
                  {"merchant_id": "coffee", "plan_id": "club", "level_id": "green",
                   "until": "2027-06-01T00:00:00+08:00", "reason": "goodwill", "request_id": request_id})
    assert answer.status_code == 202 and answer.json()["state"] == "pending_approval"
    assert (audit.records[-1].action, audit.records[-1].outcome) == ("member.membership_grant", "pending")
    post(client, token["approver"], f"/tenants/{TENANT}/approvals/{answer.json()['approval_id']}/approve",
         {"reason": "ok", "request_id": rid("d")})
    command = published.commands[-1]
    assert (command.type, command.merchant_id, command.plan_id, command.level_id, command.reason) == (
        "membership_grant", "coffee", "club", "green", "goodwill")
    worker.run()  # these rules define no merchant: the engine refuses it, with the reason
    row = command_row(client, token["viewer"], request_id)
    assert row["state"] == "refused" and row["refusal"] == "merchant coffee is not defined"


def test_a_membership_grant_needs_an_aware_until(client, token):
    answer = post(client, token["operator"], f"{BASE}/memberships",
                  {"merchant_id": "coffee", "plan_id": "club", "level_id": "green", "until": "2027-06-01T00:00:00",
                   "reason": "x", "request_id": rid()})
    assert answer.status_code == 422 and ["body", "until"] in [e["loc"] for e in answer.json()["detail"]]


def test_the_console_names_a_membership_grant_in_the_approval_queue(client, token):
    answer = post(client, token["operator"], f"{BASE}/memberships",
                  {"merchant_id": "coffee", "plan_id": "club", "level_id": "green",
                   "until": "2027-06-01T00:00:00+08:00", "reason": "console label", "request_id": rid()})
    assert answer.json()["state"] == "pending_approval"
    queue = signed_in(client.app, token["viewer"]).get(f"/console/{TENANT}/approvals")
    assert queue.status_code == 200 and "<td>membership grant</td>" in queue.text


def _orders(amounts: list[str]) -> tuple[tuple[str, dict], ...]:
    """Paid orders an hour apart, the last one a minute ago (operators' commands happen now)."""
    start = datetime.now(UTC) - timedelta(hours=len(amounts), minutes=-59)
    return tuple(("orders", {"type": "order_paid", "event_id": f"risk-o{i}", "order_id": f"risk-o{i}",
                             "member_id": MEMBER, "amount": amount,
                             "occurred_at": (start + timedelta(hours=i)).isoformat()})
                 for i, amount in enumerate(amounts))


def test_an_abnormal_order_s_hold_is_released_by_an_operator_audited(client, token, worker, audit, published):
    """Ten orders of 10, then one of 1000 (over 10x the median of the last ten: the shipped amount_spike
    holds it): its points stay pending until an operator's release, which is audited and shows as applied."""
    outputs = worker.run(_orders(["10"] * 10 + ["1000"]))
    (flag,) = [o.value for o in outputs if o.topic == "risk-flags"]
    assert (flag.rule, flag.action, flag.order_id) == ("amount_spike", "hold", "risk-o10")
    earned = [o.value for o in outputs if o.topic == "points-ledger" and o.value.order_id == "risk-o10"]
    held = sum(e.delta for e in earned)
    assert held > 0 and {e.pending_until.year for e in earned} == {9999}
    shown = page(client, token["viewer"])
    before = shown["member"]
    assert [f["flag_id"] for f in shown["summary"]["risk"]["open_flags"]] == [flag.flag_id]  # found on the page
    assert shown["summary"]["risk"]["held_for_review"] == held
    request_id = rid()
    path = f"{BASE}/risk-flags/{flag.flag_id}"
    assert post(client, token["viewer"], f"{path}/release", {"reason": "x", "request_id": rid()}).status_code == 403
    answer = post(client, token["operator"], f"{path}/release", {"reason": "customer called", "request_id": request_id})
    assert answer.status_code == 202 and answer.json()["action"] == "risk_release"
    command = published.commands[-1]
    assert (command.type, command.flag_id) == ("risk_release", flag.flag_id)
    assert (audit.records[-1].action, audit.records[-1].detail["flag_id"]) == ("member.risk_release", flag.flag_id)
    (entry,) = [o.value for o in worker.run() if o.topic == "points-ledger"]
    assert (entry.rule, entry.delta, entry.order_id, entry.operator) == ("risk_release", 0, "risk-o10", command.actor)
    after = page(client, token["viewer"])["member"]
    assert after["spendable"] == before["spendable"] + held
    assert command_row(client, token["viewer"], request_id)["state"] == "applied"
    today = command.occurred_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    figures = client.get(f"/tenants/{TENANT}/statistics", headers=auth(token["viewer"]), params={
        "from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}).json()
    assert figures["risk"] == {"released": 1, "confirmed": 0, "points_cancelled": 0, "release_rate": "1.0000"}
    # deciding again: the flag is closed, the engine refuses and the operator sees why
    again = rid()
    post(client, token["approver"], f"{path}/dismiss", {"reason": "again", "request_id": again})
    (letter,) = [o.value for o in worker.run() if o.topic == "dead-letters"]
    assert letter.reason == "invalid_command"
    assert "no open risk flag" in command_row(client, token["viewer"], again)["refusal"]
