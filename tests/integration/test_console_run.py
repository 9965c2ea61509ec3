"""``make run``'s console through the real worker, broker and projector, in chromium: the demo
stream goes in, the projector fills the SQLite read model, the sign-in link ``make run`` prints
opens the console as the demo admin, and an operator searches a member of the demo stream, opens
it, sees its newest ledger entries as the topic has them, and exports the search as CSV and XLSX."""

from __future__ import annotations

import csv
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
