"""The projector through the real worker and broker into a real PostgreSQL: the read model
holds the ledger entries in force on the topic, members as the worker keeps them, a second
pass changes nothing, ``memberflow readmodel run`` reports its lag back to zero, and business-line
versions published on the topic are kept and listed with the one in force."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from config.rules import RuleBook
from memberflow.admin.business_lines import line_histories
from memberflow.dev.postgres import free_port
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database, prepare
from memberflow.readmodel.projection import SOURCES
from memberflow.readmodel.projector import Projector
from tests.integration.fixtures import consumed_total, effective, mixed_events, wait_until

MEMBERS = 30


@pytest.fixture(scope="module")
def fed(cluster, stream_rules):
    """A worker that has applied a mixed stream; the ledger entries in force on the topic."""
    worker = cluster.add_worker("rm1")
    events = mixed_events(600, MEMBERS, seed=18)
    cluster.produce(events)
    wait_until(lambda: consumed_total(worker) >= len(events), timeout=120)
    ledger = cluster.consume(["points-ledger"], idle=2.0)
    return worker, effective(v for _, v in ledger)


@pytest.fixture
def readmodel(postgres_url):
    engine = open_database(postgres_url)
    schema.metadata.drop_all(engine)
    prepare(engine)
    yield engine
    engine.dispose()


def catch_up(cluster, stream_rules, engine) -> int:
    return asyncio.run(Projector(cluster.settings(), engine, RuleBook.from_path(stream_rules)).catch_up())


def ledger_rows(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {r.entry_id: (r.member_id, r.kind, r.delta) for r in conn.execute(sa.select(schema.ledger))}


def test_the_projector_writes_what_the_worker_published(cluster, stream_rules, fed, readmodel):
    worker, in_force = fed
    assert catch_up(cluster, stream_rules, readmodel) > 0
    assert ledger_rows(readmodel) == {k: (v["member_id"], v["kind"], v["delta"]) for k, v in in_force.items()}
    with readmodel.connect() as conn:
        rows = {r.member_id: r for r in conn.execute(sa.select(schema.members))}
    assert len(rows) == MEMBERS
    for member_id, row in list(rows.items())[:5]:
        _, page = worker.get_json(f"/members/{member_id}")
        assert (row.tier, row.balance, row.growth) == (page["tier"], page["points"]["balance"], page["growth"])
    before = ledger_rows(readmodel)
    assert catch_up(cluster, stream_rules, readmodel) == 0  # positions kept: nothing read twice
    assert ledger_rows(readmodel) == before


def test_memberflow_readmodel_run_follows_and_its_lag_returns_to_zero(cluster, stream_rules, fed, readmodel,
                                                                      postgres_url):
    _, in_force = fed
    port = free_port()
    env = {**cluster.env("projector"), "MEMBERFLOW_READMODEL_URL": postgres_url,
           "MEMBERFLOW_PROJECTOR_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "memberflow.cli", "readmodel", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: len(ledger_rows(readmodel)) == len(in_force), timeout=60)

        def lag() -> float | None:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                return None
            values = re.findall(r'^memberflow_readmodel_lag_records\{topic="[^"]+"\} (\S+)$', text, re.M)
            return sum(map(float, values)) if len(values) == len(SOURCES) else None

        wait_until(lambda: lag() == 0.0, timeout=30)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_memberflow_readmodel_rebuild_replays_into_a_fresh_projection(cluster, stream_rules, fed, readmodel,
                                                                      postgres_url):
    _, in_force = fed
    with readmodel.begin() as conn:  # a stale row a rebuild must not keep
        conn.execute(sa.insert(schema.ledger).values(entry_id="le-stale", tenant_id="default", member_id="x",
                                                     occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                                                     cause_event_id="x", kind="earn", rule="base", delta=1,
                                                     balance=1))
    env = {**cluster.env("rebuild"), "MEMBERFLOW_READMODEL_URL": postgres_url}
    run = subprocess.run([sys.executable, "-m", "memberflow.cli", "readmodel", "rebuild"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert re.search(r"read model rebuilt: [1-9]\d* records applied", run.stdout)
    assert set(ledger_rows(readmodel)) == set(in_force)


def test_business_line_versions_published_through_the_broker_are_listed(cluster, stream_rules, fed, readmodel):
    line = {"tenant_id": "default", "line_id": "rm_plus", "name": "RM Plus", "fields": {"plus_score": "int"},
            "levels": [{"level": 1, "name": "Plus", "rule": {"field": "plus_score", "op": ">=", "value": 100},
                        "rights": [{"benefit": "plus_coupon", "value": 5, "valid_days": 7}]}]}
    two_levels = [*line["levels"], {**line["levels"][0], "level": 2, "name": "Plus Plus",
                                    "rule": {"field": "plus_score", "op": ">=", "value": 200}}]
    cluster.produce([("business-lines", "default/rm_plus", {**line, "version": 1}),
                     ("business-lines", "default/rm_plus", {**line, "version": 2, "levels": []}),  # invalid
                     ("business-lines", "default/rm_plus", {**line, "version": 2, "levels": two_levels}),
                     ("business-lines", "default/rm_plus", {**line, "version": 2, "name": "a repeat"})])
    v = schema.business_line_versions.c

    def kept() -> list[tuple]:
        catch_up(cluster, stream_rules, readmodel)
        with readmodel.connect() as conn:
            return [(r.version, r.definition["name"], len(r.definition["levels"]), r.first_offset)
                    for r in conn.execute(sa.select(v.version, v.definition, v.first_offset)
                                          .where(v.line_id == "rm_plus").order_by(v.version))]

    wait_until(lambda: len(kept()) == 2, timeout=30)
    first = kept()
    assert [row[:3] for row in first] == [(1, "RM Plus", 1), (2, "RM Plus", 2)]
    histories = {h.line_id: h for h in line_histories(readmodel, "default",
                                                       RuleBook.from_path(stream_rules).default.business_lines)}
    assert (histories["rm_plus"].in_force.version, histories["rm_plus"].in_force.levels) == (2, 2)
    assert [lv.version for lv in histories["rm_plus"].versions] == [2, 1]
    assert histories["wealth"].in_force.source == "rules"
    assert kept() == first  # read again (the worker's dead letter for the invalid one may follow): the same rows
