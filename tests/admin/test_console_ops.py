"""The console's writing screens through FastAPI's test client: the member page's adjust and account
forms and the approvals queue -- CSRF, roles, errors at the field, request ids made per rendering (a
form posted twice is one request), and, with the published commands applied and projected as the
worker and projector would, "pending" until applied, then applied or refused with the reason."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from memberflow.readmodel import schema
from tests.admin.command_worker import Worker
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import LIMITS, TENANT
from tests.admin.test_operations import _orders

HOME = f"/console/{TENANT}"
MEMBER = "m0007"
PAGE = f"{HOME}/members/{MEMBER}"
FORMS = ("points", "benefit", "tier-override", "account")


@pytest.fixture(scope="module")
def app(filled, audit, published):
    return create_app(filled, audit, published, LIMITS)


@pytest.fixture(scope="module")
def as_role(app, token):
    made: dict[str, TestClient] = {}

    def client(name: str) -> TestClient:
        if name not in made:
            made[name] = signed_in(app, token[name])
        return made[name]

    return client


@pytest.fixture(scope="module")
def worker(filled, published) -> Worker:
    return Worker(filled, published)


def request_ids(page: str) -> dict[str, str]:
    """The request id of each form of the page, by the path it posts to."""
    found = {}
    for form in re.findall(r'<form method="post".*?</form>', page, re.S):
        rid = re.search(r'name="request_id" value="([^"]+)"', form)
        if rid:
            found[re.search(r'action="[^"]*/([^/"]+)"', form).group(1)] = rid.group(1)
    return found


def send(client: TestClient, path: str, data: dict, page: str = PAGE):
    """Post one of the page's forms as the browser would: with the page's CSRF token and request id."""
    text = client.get(page).text
    name = path.rsplit("/", 1)[-1]
    return client.post(path, data={"csrf": csrf_of(text), "request_id": request_ids(text)[name], **data})


def sent_id(answer) -> str:
    assert answer.status_code == 303, answer.text[:500]
    return parse_qs(urlsplit(answer.headers["location"]).query)["sent"][0]


def command_row(page: str, request_id: str) -> str:
    row = re.search(rf'<tr data-request="{re.escape(request_id)}">(.*?)</tr>', page, re.S)
    assert row, f"no row of {request_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1))).strip()


def test_only_roles_that_may_adjust_see_the_forms(as_role):
    viewer = as_role("viewer").get(PAGE).text
    assert not any(f'data-testid="form-{f}"' in viewer for f in ("points", "benefit", "tier", "account"))
    assert set(fields(viewer).buttons) == {"Filter", "Sign out"}
    assert 'data-testid="commands"' in viewer  # a viewer sees the requests, not the forms
    operator = as_role("operator").get(PAGE).text
    assert set(request_ids(operator)) == set(FORMS)
    assert {"Send", "Grant", "Override", "Apply"} <= set(fields(operator).buttons)
    parsed = fields(operator)
    assert all(f.get("id") in parsed.labelled for f in parsed.fields), parsed.fields


def test_every_rendering_makes_new_request_ids(as_role):
    first, second = (request_ids(as_role("operator").get(PAGE).text) for _ in range(2))
    assert len(set(first.values())) == len(FORMS) and not set(first.values()) & set(second.values())


VALID = {"points": {"direction": "credit", "points": "5"}, "benefit": {"benefit": "lounge"},
         "tier-override": {"tier": "GOLD", "until": "2025-12-31"}, "account": {"action": "lock"}}


@pytest.mark.parametrize("form", FORMS)
def test_a_forged_post_is_403_and_a_viewer_s_post_too(as_role, published, audit, form):
    before, audited = len(published.commands), len(audit.records)
    body = {**VALID[form], "reason": "forged", "request_id": f"forged-{form}"}
    operator = as_role("operator")
    assert operator.post(f"{PAGE}/{form}", data=body).status_code == 403
    assert operator.post(f"{PAGE}/{form}", data={**body, "csrf": "x" * 64}).status_code == 403
    viewer = as_role("viewer")
    answer = viewer.post(f"{PAGE}/{form}", data={**body, "csrf": csrf_of(viewer.get(PAGE).text)})
    assert answer.status_code == 403 and "needs operator" in answer.text
    assert (len(published.commands), len(audit.records)) == (before, audited)


@pytest.mark.parametrize(("form", "data", "field", "message"), [
    ("points", {"direction": "credit", "points": "0", "reason": "r"}, "points", "greater than or equal to 1"),
    ("points", {"direction": "credit", "points": "5", "reason": "  "}, "reason", "required"),
    ("points", {"direction": "sideways", "points": "5", "reason": "r"}, "direction", "'credit' or 'debit'"),
    ("benefit", {"benefit": "bad benefit!", "reason": "r"}, "benefit", "match pattern"),
    ("benefit", {"benefit": "lounge", "valid_until": "2025-02-30", "reason": "r"}, "valid_until", "datetime"),
    ("tier-override", {"tier": "GOLD", "reason": "r"}, "until", "required"),
    ("account", {"action": "delete", "reason": "r"}, "action", "'lock', 'unlock', 'freeze' or 'unfreeze'"),
])
def test_bad_input_is_422_with_the_error_at_its_field(as_role, published, form, data, field, message):
    before = len(published.commands)
    client = as_role("operator")
    text = client.get(PAGE).text
    request_id = request_ids(text)[form]
    answer = client.post(f"{PAGE}/{form}", data={"csrf": csrf_of(text), "request_id": request_id, **data})
    assert answer.status_code == 422
    error = re.search(rf'<span class="error" id="{form}-{field}-error">([^<]*)</span>', answer.text)
    assert error and message in html.unescape(error.group(1)), error
    assert re.search(rf'id="{form}-{field}"[^>]*aria-invalid="true"', answer.text, re.S)
    assert request_ids(answer.text)[form] == request_id  # the corrected form is the same request
    kept = [v for k, v in data.items() if k != field and k != "direction" and v.strip()]
    assert all(f'value="{v}"' in answer.text for v in kept)
    assert len(published.commands) == before


def test_a_credit_shows_pending_until_applied_and_posting_twice_is_one_request(as_role, published, worker,
                                                                             filled):
    client = as_role("operator")
    text = client.get(PAGE).text
    body = {"csrf": csrf_of(text), "request_id": request_ids(text)["points"], "direction": "credit",
            "points": "40", "reason": "goodwill for a late parcel"}
    before = len(published.commands)
    first = client.post(f"{PAGE}/points", data=body)
    again = client.post(f"{PAGE}/points", data=body)  # a double click, or a reload of the answer
    request_id = sent_id(first)
    assert sent_id(again) == request_id and len(published.commands) == before + 1
    credit = published.commands[-1]
    assert (credit.type, credit.points, credit.reason, credit.request_id) == (
        "points_credit", 40, "goodwill for a late parcel", request_id)
    page = client.get(first.headers["location"])
    assert "Your credit request: pending until the engine applies it" in page.text
    assert command_row(page.text, request_id).endswith("goodwill for a late parcel t-operator pending")
    worker.run()
    page = client.get(PAGE).text
    assert command_row(page, request_id).endswith("applied")
    with filled.connect() as conn:
        entry = conn.execute(sa.select(schema.ledger).where(schema.ledger.c.cause_event_id == credit.command_id)).one()
    assert (entry.delta, entry.reason) == (40, "goodwill for a late parcel")
    assert re.search(r'<td class="num plus">\+40</td>', page)


def test_a_debit_that_would_overdraw_is_refused_with_the_engine_s_reason(as_role, worker, filled):
    m = schema.members.c
    with filled.connect() as conn:
        poorest, balance = conn.execute(sa.select(m.member_id, m.balance).where(m.tenant_id == TENANT)
                                        .order_by(m.balance, m.member_id).limit(1)).one()
    assert balance < LIMITS.per_adjustment  # the debit below stays within the limit
    client = as_role("operator")
    page = f"{HOME}/members/{poorest}"
    request_id = sent_id(send(client, f"{page}/points", {"direction": "debit", "points": str(balance + 1),
                                                         "reason": "typo"}, page))
    assert command_row(client.get(page).text, request_id).endswith("pending")
    worker.run()
    row = command_row(client.get(page).text, request_id)
    assert re.search(rf"refused: a debit of {balance + 1} points would overdraw", row), row


def test_lock_then_unlock_shows_the_status_with_its_reason_and_since(as_role, worker):
    client = as_role("operator")
    sent_id(send(client, f"{PAGE}/account", {"action": "lock", "reason": "card reported stolen"}))
    worker.run()
    page = client.get(PAGE).text
    assert 'data-testid="status">locked<' in page
    status = re.search(r'data-testid="status-reason">([^<]*)<', page).group(1)
    assert re.fullmatch(r"Locked since \d{4}-\d\d-\d\d \d\d:\d\d UTC: card reported stolen", status), status
    assert "→ locked" in page
    sent_id(send(client, f"{PAGE}/account", {"action": "unlock", "reason": "the member called back"}))
    worker.run()
    page = client.get(PAGE).text
    assert 'data-testid="status">active<' in page and "the member called back" in page


def test_over_the_limit_an_approver_other_than_the_maker_approves_from_the_queue(as_role, published, worker,
                                                                                audit):
    approver, admin = as_role("approver"), as_role("admin")
    mine = sent_id(send(approver, f"{PAGE}/points", {"direction": "credit", "points": str(LIMITS.per_adjustment + 1),
                                                      "reason": "my own big credit"}))
    theirs = sent_id(send(as_role("operator"), f"{PAGE}/points",
                          {"direction": "credit", "points": str(LIMITS.per_adjustment + 5), "reason": "big goodwill"}))
    page = approver.get(PAGE).text
    assert "Your credit request: waits for an approver" not in page  # the notice is on the redirect's page only
    assert command_row(page, mine).endswith("waits for an approver")

    queue = approver.get(f"{HOME}/approvals").text
    rows = dict(re.findall(r'<tbody data-approval="([^"]+)">(.*?)</tbody>', queue, re.S))
    own = next(a for a, row in rows.items() if "my own big credit" in row)
    other = next(a for a, row in rows.items() if "big goodwill" in row)
    assert "Approve" not in rows[own] and "Your own request" in rows[own]  # not offered to the maker
    assert "Approve" in rows[other] and "Reject" in rows[other]
    operator_queue = as_role("operator").get(f"{HOME}/approvals").text
    assert "big goodwill" in operator_queue and ">Approve<" not in operator_queue  # an operator may not decide

    csrf = csrf_of(queue)
    forged = as_role("operator").post(f"{HOME}/approvals/{other}", data={
        "csrf": csrf_of(operator_queue), "decision": "approve", "reason": "x", "request_id": "op-1"})
    assert forged.status_code == 403
    assert approver.post(f"{HOME}/approvals/{other}", data={"decision": "approve", "reason": "x",
                                                            "request_id": "a-1"}).status_code == 403
    blank = approver.post(f"{HOME}/approvals/{other}", data={"csrf": csrf, "decision": "approve", "reason": " ",
                                                             "request_id": "a-2"})
    assert blank.status_code == 422
    assert re.search(rf'id="decide-{other}-reason-error">required<', blank.text)
    own_post = approver.post(f"{HOME}/approvals/{own}", data={"csrf": csrf, "decision": "approve",
                                                              "reason": "sure", "request_id": "a-3"})
    assert own_post.status_code == 403 and "maker" in own_post.text
    assert audit.records[-1].action == "approval.approve" and audit.records[-1].outcome == "refused"

    before = len(published.commands)
    decided = approver.post(f"{HOME}/approvals/{other}", data={"csrf": csrf, "decision": "approve",
                                                               "reason": "checked the parcel", "request_id": "a-4"})
    assert decided.status_code == 303 and decided.headers["location"].endswith(f"decided={other}")
    assert len(published.commands) == before + 1 and published.commands[-1].approver.endswith(":t-approver")
    record = audit.records[-1]
    assert (record.action, record.outcome, record.reason) == ("approval.approve", "done", "checked the parcel")
    assert command_row(approver.get(PAGE).text, theirs).endswith("pending")
    rejected = admin.post(f"{HOME}/approvals/{own}", data={"csrf": csrf_of(admin.get(f"{HOME}/approvals").text),
                                                           "decision": "reject", "reason": "no", "request_id": "a-5"})
    assert rejected.status_code == 303
    worker.run()
    page = approver.get(PAGE).text
    assert command_row(page, theirs).endswith("applied")
    assert command_row(page, mine).endswith("rejected by an approver")
    every = approver.get(f"{HOME}/approvals?state=").text
    assert "checked the parcel" in every and "applied" in every


def test_a_tier_override_and_a_benefit_wait_for_an_approver(as_role):
    client = as_role("operator")
    tier = sent_id(send(client, f"{PAGE}/tier-override", {"tier": "GOLD", "until": "2025-12-31", "reason": "vip"}))
    grant = sent_id(send(client, f"{PAGE}/benefit", {"benefit": "lounge", "quantity": "2", "valid_until": "2025-06-30",
                                                     "reason": "apology"}))
    page = client.get(PAGE).text
    assert command_row(page, tier) == command_row(page, tier)  # present
    assert "tier override" in command_row(page, tier) and command_row(page, tier).endswith("waits for an approver")
    assert command_row(page, grant).endswith("waits for an approver")


def test_an_unknown_member_is_404_and_a_reused_request_id_409(as_role):
    client = as_role("operator")
    text = client.get(PAGE).text
    unknown = client.post(f"{HOME}/members/nobody/points", data={
        "csrf": csrf_of(text), "request_id": "u-1", "direction": "credit", "points": "1", "reason": "r"})
    assert unknown.status_code == 404
    body = {"csrf": csrf_of(text), "request_id": request_ids(text)["points"], "direction": "credit", "reason": "r"}
    assert client.post(f"{PAGE}/points", data={**body, "points": "1"}).status_code == 303
    reused = client.post(f"{PAGE}/points", data={**body, "points": "2"})
    assert reused.status_code == 409 and "used already" in reused.text


def test_an_open_hold_is_listed_and_released_from_the_member_page(as_role, worker):
    """Ten orders of 10 a hour apart, then one of 1000: the shipped amount_spike holds its points; the page
    lists the open flag (operators only) and its form's release makes them spendable."""
    outputs = worker.run(tuple(("orders", {**value, "member_id": MEMBER, "event_id": f"c-{value['event_id']}",
                                           "order_id": f"c-{value['order_id']}"})
                               for _, value in _orders(["10"] * 10 + ["1000"])))
    (flag,) = [o.value for o in outputs if o.topic == "risk-flags"]
    assert 'data-testid="form-risk"' not in as_role("viewer").get(PAGE).text
    client = as_role("operator")
    page = client.get(PAGE).text
    assert 'data-testid="form-risk"' in page and f'<option value="{flag.flag_id}"' in page
    request_id = sent_id(send(client, f"{PAGE}/risk", {"flag_id": flag.flag_id, "decision": "release",
                                                       "reason": "the customer bought a fridge"}))
    assert command_row(client.get(PAGE).text, request_id).endswith("pending")
    (entry,) = [o.value for o in worker.run() if o.topic == "points-ledger"]
    assert (entry.rule, entry.order_id) == ("risk_release", flag.order_id)
    page = client.get(PAGE).text
    assert command_row(page, request_id).endswith("applied") and 'data-testid="form-risk"' not in page
    assert "risk flag decided" in page
