"""``make run``'s console through the real worker, broker and projector, in chromium: the demo
stream goes in, the projector fills the SQLite read model, the sign-in link ``make run`` prints
opens the console as the demo admin, and an operator searches a member of the demo stream, opens
it, sees its newest ledger entries as the topic has them, and exports the search as CSV and XLSX; then the
path of a credit over the limit: an operator sends it from the member page, a viewer sees no adjust button
and a forged POST of it is 403, an approver approves it in the queue, and the member page shows the
worker's ledger entry, as the topic has it, and the request applied; and an admin imports a CSV file,
sees its bad row by line, confirms, and watches the members arrive; and an admin checks a rules candidate
(an error at its field path, then the changes) and publishes it on the tenant-rules topic."""

from __future__ import annotations

import csv
import json
import re
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.stream import generate
from memberflow.dev.operators import start_operators
from memberflow.dev.run import console_url
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database
from tests.browser.fixtures import artifacts_dir, chromium
from tests.integration.fixtures import effective, wait_until

MEMBERS, DAYS, SEED = 12, 10, 3
START = datetime(2025, 3, 3, tzinfo=CST)


def settled_ledger(cluster) -> dict[str, dict]:
    """The ledger in force on the topic once the worker has published it all: two reads alike."""
    before: dict[str, dict] | None = None
    for _ in range(10):
        now = effective(v for _, v in cluster.consume(["points-ledger"], until=1, idle=3.0, timeout=60))
        if now and now == before:
            return now
        before = now
    raise AssertionError("the worker's ledger did not settle")


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def run(cluster, tmp_path_factory):
    """(the operators of a run, its read model, the ledger in force on the topic)."""
    cluster.add_worker("console1")
    run_dir = tmp_path_factory.mktemp("run")
    with ExitStack() as stack:
        ops = start_operators(stack, cluster.env("console"), run_dir, fresh=True)
        cluster.produce(generate(MEMBERS, SEED, START, days=DAYS))
        ledger = settled_ledger(cluster)
        engine = open_database(f"sqlite:///{run_dir / 'readmodel.sqlite'}")

        def projected() -> int:
            with engine.connect() as conn:
                return conn.scalar(sa.select(sa.func.count()).select_from(schema.ledger))

        wait_until(lambda: projected() == len(ledger), timeout=90)
        try:
            yield ops, engine, ledger
        finally:
            engine.dispose()


def test_the_printed_link_signs_in_and_an_operator_finds_a_demo_member_s_ledger(browser, run, tmp_path):
    ops, engine, ledger = run
    entries: dict[str, list[dict]] = {}
    for entry in ledger.values():
        entries.setdefault(entry["member_id"], []).append(entry)
    member, theirs = max(entries.items(), key=lambda kv: (len(kv[1]), kv[0]))
    newest = sorted(theirs, key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["entry_id"]), reverse=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(console_url(ops))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/default/members")
    assert page.get_by_test_id("role").inner_text() == "admin"

    page.get_by_label("Member id starts with").fill(member)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"**id_prefix={member}**")
    files = {}
    for fmt in ("csv", "xlsx"):
        with page.expect_download() as info:
            page.get_by_test_id(f"export-{fmt}").click()
        files[fmt] = tmp_path / f"members.{fmt}"
        info.value.save_as(files[fmt])
    with engine.connect() as conn:
        balance = conn.scalar(sa.select(schema.members.c.balance).where(schema.members.c.member_id == member))
    assert balance == sum(e["delta"] for e in theirs)  # points are money: the member's row agrees with the ledger
    in_csv = {r["member_id"]: int(r["balance"]) for r in csv.DictReader(files["csv"].open(encoding="utf-8"))}
    header, *rows = openpyxl.load_workbook(files["xlsx"], read_only=True).active.iter_rows(values_only=True)
    in_xlsx = {r[header.index("member_id")]: r[header.index("balance")] for r in rows}
    assert in_csv[member] == in_xlsx[member] == balance

    page.get_by_test_id("members").get_by_role("link", name=member, exact=True).click()
    page.wait_for_url(f"**/members/{member}")
    shown = page.get_by_test_id("ledger").locator("tbody tr")
    assert shown.count() == min(25, len(theirs))
    for row, entry in zip(shown.all()[:5], newest, strict=False):
        cells = row.locator("td").all_inner_texts()
        moment = datetime.fromisoformat(entry["occurred_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        assert cells[:4] == [moment, entry["kind"], entry["rule"], f"{entry['delta']:+d}"]
    page.screenshot(path=artifacts_dir() / "run-console-member.png", full_page=True)
    context.close()


def make_token(ops, name: str, role: str) -> str:
    """A token for the demo tenant, made with the demo admin token through the API."""
    body = json.dumps({"name": name, "role": role, "tenant_id": "default", "reason": "console e2e",
                       "request_id": f"console-e2e-{name}"}).encode()
    request = urllib.request.Request(f"{ops.admin_url}/tokens", body, method="POST", headers={
        "Authorization": f"Bearer {ops.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["token"]


def signed_in(browser, ops, token: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{ops.admin_url}/console/sign-in")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/default/members")
    return context, page


CREDIT = 1200  # over the admin service's default MEMBERFLOW_ADJUSTMENT_LIMIT_POINTS (1000)


def test_a_credit_over_the_limit_is_approved_by_a_second_person_and_shows_in_the_member_s_ledger(
        browser, run, cluster):
    ops, engine, _ = run
    with engine.connect() as conn:
        member = conn.scalar(sa.select(schema.members.c.member_id).where(schema.members.c.status == "active")
                             .order_by(schema.members.c.member_id).limit(1))
    operator, approver, viewer = (make_token(ops, name, role) for name, role in (
        ("olga", "operator"), ("anna", "approver"), ("vic", "viewer")))

    context, page = signed_in(browser, ops, operator)
    page.get_by_label("Member id starts with").fill(member)
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("members").get_by_role("link", name=member, exact=True).click()
    page.wait_for_url(f"**/members/{member}")
    form = page.get_by_test_id("form-points")
    form.get_by_label("Points").fill(str(CREDIT))
    form.get_by_label("Reason").fill("welcome back")
    form.get_by_role("button", name="Send").click()
    page.wait_for_url("**sent=console-**")
    assert page.get_by_test_id("sent").inner_text() == "Your credit request: waits for an approver."
    context.close()

    context, page = signed_in(browser, ops, viewer)
    page.goto(f"{ops.admin_url}/console/default/members/{member}")
    assert page.get_by_role("heading", name="Adjust").count() == 0
    assert page.get_by_role("button", name="Send").count() == 0
    forged = context.request.post(f"{ops.admin_url}/console/default/members/{member}/points", form={
        "csrf": "forged", "direction": "credit", "points": "5", "reason": "x", "request_id": "forged-1"})
    assert forged.status == 403
    context.close()

    context, page = signed_in(browser, ops, approver)
    page.get_by_role("link", name="Approvals").click()
    row = page.get_by_test_id("approvals").locator("tbody", has_text="welcome back")
    row.get_by_label("Reason for the decision").fill("the member's complaint checked")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_url("**decided=**")
    page.goto(f"{ops.admin_url}/console/default/members/{member}")
    state = page.get_by_test_id("commands").locator("tr", has_text="welcome back").locator("td.state")

    def applied() -> bool:
        page.reload()
        return state.inner_text() == "applied"

    wait_until(applied, timeout=90)
    newest = page.get_by_test_id("ledger").locator("tbody tr").first.locator("td").all_inner_texts()
    assert newest[1:4] == ["adjustment", "operator_credit", f"+{CREDIT}"]
    entries: list[dict] = []

    def shown_as_on_the_topic() -> bool:
        """The balance shown is the sum of the member's entries on the topic (a registration's +5 may still
        follow the device agent's verdict on a busy machine: both catch up with it)."""
        entries[:] = [e for e in settled_ledger(cluster).values() if e["member_id"] == member]
        page.reload()
        return page.get_by_test_id("balance").inner_text() == f"{sum(e['delta'] for e in entries):,}"

    wait_until(shown_as_on_the_topic, timeout=90, interval=1.0)
    on_topic = [e for e in entries if e["rule"] == "operator_credit"]
    assert len(on_topic) == 1 and on_topic[0]["delta"] == CREDIT and on_topic[0]["reason"] == "welcome back"
    assert re.search(r":olga$", on_topic[0]["operator"]) and re.search(r":anna$", on_topic[0]["approver"])
    page.screenshot(path=artifacts_dir() / "run-console-approved.png", full_page=True)
    context.close()


IMPORTED = """member_id,name,tier,lots
mig-001,Ann Lee,GOLD,300 2025-01-05T10:00:00+08:00
mig-002,Bo Chen,,75 2025-02-01T09:00:00+08:00
mig-003,Cy,,-5 2025-02-01T09:00:00+08:00
"""


def test_an_admin_imports_a_csv_and_watches_the_members_arrive(browser, run, tmp_path):
    ops, engine, _ = run
    path = tmp_path / "members.csv"
    path.write_text(IMPORTED, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(console_url(ops))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/default/members")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("File", exact=True).set_input_files(path)
    page.get_by_role("button", name="Check").click()
    assert page.get_by_test_id("to-send").inner_text() == "2"
    bad = page.get_by_test_id("bad-rows").locator("tbody tr td").all_inner_texts()
    assert bad[0] == "4" and bad[1].startswith("lots")
    page.get_by_label("Reason").fill("migration")
    page.get_by_role("button", name="Import 2 members").click()
    assert page.get_by_test_id("to-send").inner_text() == "2"

    def arrived() -> bool:
        page.get_by_role("button", name="Refresh progress").click()
        return page.get_by_test_id("progress").inner_text().startswith("2 of 2 members in the read model")

    wait_until(arrived, timeout=90)
    page.goto(f"{ops.admin_url}/console/default/members/mig-001")
    assert page.get_by_test_id("tier").inner_text() == "GOLD"
    assert page.get_by_test_id("balance").inner_text() == "300"
    with engine.connect() as conn:
        audited = conn.scalar(sa.select(sa.func.count()).select_from(schema.audit)
                              .where(schema.audit.c.action == "member.import"))
    assert audited == 1  # the refreshes sent nothing again
    context.close()


def test_an_admin_checks_and_publishes_a_rules_candidate_on_the_topic(browser, run, cluster):
    ops, _, _ = run
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(console_url(ops))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/default/members")
    page.get_by_role("link", name="Rules").click()
    assert page.get_by_test_id("rules-version").inner_text().startswith("file:")
    page.get_by_label("Candidate (YAML)").fill("tiers: {downgrade_warning_days: -1}")
    page.get_by_role("button", name="Check").click()
    assert page.get_by_test_id("problems").inner_text().startswith("tiers.downgrade_warning_days:")
    page.get_by_label("Candidate (YAML)").fill("tiers: {downgrade_warning_days: 9}")
    page.get_by_role("button", name="Check").click()
    changed = page.get_by_test_id("changes").locator("tbody tr td").all_inner_texts()
    assert changed[:2] == ["tiers.downgrade_warning_days", "changed"]
    page.get_by_label("Reason to publish").fill("warn earlier")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**published=1**")
    assert page.get_by_test_id("rules-version").inner_text() == "v1"
    on_topic = [v for _, v in cluster.consume(["tenant-rules"], until=1, idle=1.0, timeout=30)]
    assert [(v["tenant_id"], v["version"], v["reason"]) for v in on_topic] == [("default", 1, "warn earlier")]
    assert on_topic[0]["rules"]["tiers"]["downgrade_warning_days"] == 9
    page.screenshot(path=artifacts_dir() / "run-console-rules.png", full_page=True)
    context.close()
