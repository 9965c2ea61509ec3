"""The offline replay (memberflow.tools.replay): the agents' record processing over
JSONL lines, deterministic, and folding business-line definitions in order like
the workers.  (The demo stream's replay pinned to a digest: test_replay_golden.py.)"""

from __future__ import annotations

import io
import json

import pytest

from agents import records
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.event_time import fix_history
from memberflow.tools.offline import LentStore, OfflineEngine
from memberflow.tools.replay import replay, replay_file
from models.outputs import BadgeChange, DeadLetter, LedgerEntry
from models.state import state_json
from tests.engine.badge_fixtures import shipped, wealth, wealth_v
from tests.engine.fixtures import make_rules
from tests.engine.intake_fixtures import MAX_BYTES, order


@pytest.fixture
def book() -> RuleBook:
    return RuleBook.single(make_rules())


def test_replay_is_deterministic(book):
    lines = [
        {"topic": "orders", "key": "m1", "value": order(event_id="e1", order_id="o1", amount="600")},
        {"topic": "orders", "key": "m1", "value": "{broken"},
        {"topic": "reviews", "key": "m1",
         "value": {"event_id": "r1", "member_id": "m1", "occurred_at": "2026-03-02T11:00:00+08:00",
                   "review_id": "rv1"}},
        {"topic": "orders", "key": "m1",
         "value": {**order(event_id="e2", type="order_refunded", order_id="o1", amount="100"), "items": []}},
        {"topic": "orders", "key": "m1", "value": order(event_id="e1", order_id="o1", amount="600")},
    ]
    first = [o.value.model_dump_json() for o in replay(lines, book, MAX_BYTES)]
    second = [o.value.model_dump_json() for o in replay(lines, book, MAX_BYTES)]
    assert first == second
    outs = list(replay(lines, book, MAX_BYTES))
    assert sum(isinstance(o.value, DeadLetter) for o in outs) == 1
    assert [o.value.delta for o in outs if isinstance(o.value, LedgerEntry)] == [600, 5, -100]


def test_replay_folds_business_lines_records_in_order():
    lines = [
        {"topic": "business-scores", "key": "r1", "value": {"user_pin": "r1", "dt": "2022-11-01", **wealth(200, 0)}},
        {"topic": "business-lines", "key": "default/wealth", "value": wealth_v(2, 150)},
        {"topic": "business-lines", "key": "default/wealth", "value": {**wealth_v(3, 100), "levels": []}},
        {"topic": "business-scores", "key": "r1", "value": {"user_pin": "r1", "dt": "2022-11-02", **wealth(200, 0)}},
    ]
    outputs = list(replay(lines, shipped()))
    letters = [o.value for o in outputs if o.topic == "dead-letters"]
    assert [(d.reason.value, d.source_topic) for d in letters] == [("invalid_definition", "business-lines")]
    assert letters[0].detail.startswith("levels:")
    changes = [o.value for o in outputs if isinstance(o.value, BadgeChange)]
    assert [(c.line_id, c.to_level, c.rule_version, c.occurred_at.date().isoformat()) for c in changes] == [
        ("wealth", 1, 2, "2022-11-02")]


@pytest.mark.parametrize("journal", [True, False], ids=["replayed-from-journal", "from-stored-json"])
def test_an_engine_failure_leaves_the_lent_member_as_it_was(book, monkeypatch, journal):
    """The offline engine lends out the stored record itself (``LentStore``): a failure
    half-way puts back the state and journal it had (a member with a journal by replaying it,
    one without from its state's JSON)."""
    store = LentStore()
    engine = OfflineEngine(book, MAX_BYTES, store)
    list(engine.feed({"topic": "orders", "key": "m1", "value": order(event_id="e1", order_id="o1", amount="600")}))
    (key, before), = store.records.items()
    assert before.journal.keys
    if not journal:
        fix_history(before)
    state, entries = state_json(before.state), list(before.journal.keys)
    real = records.apply_in_time

    def half_done(record, event, arrival, rules):
        record.state.growth += 1000
        record.journal.keys.append((0, 0, 0))
        raise RuntimeError("boom")

    monkeypatch.setattr(records, "apply_in_time", half_done)
    outs = list(engine.feed({"topic": "orders", "key": "m1", "value": order(event_id="e2", order_id="o2")}))
    assert [o.value.reason.value for o in outs] == ["processing_error"]
    assert state_json(store.records[key].state) == state and store.records[key].journal.keys == entries
    monkeypatch.setattr(records, "apply_in_time", real)
    again = list(engine.feed({"topic": "orders", "key": "m1", "value": order(event_id="e2", order_id="o2")}))
    assert [o.value.delta for o in again if isinstance(o.value, LedgerEntry)] == [100]


def test_a_bad_evaluate_command_gives_the_workers_dead_letter(book):
    """The same reasons and field paths as the commands agent (``tests/agents/test_commands_agent.py``)."""
    lines = [{"topic": "commands", "key": "*", "value": {"type": "evaluate", "as_of": 12345}},
             {"topic": "commands", "key": "*", "value": {"type": "evaluate", "as_of": "2026-03-01T10:00:00"}},
             {"topic": "commands", "key": "*", "value": "{nope"}]
    letters = [o.value for o in replay(lines, book, MAX_BYTES)]
    assert [(d.reason.value, d.detail.split(":")[0], d.source_topic) for d in letters] == [
        ("implausible_time", "as_of", "commands"), ("invalid_event", "as_of", "commands"),
        ("malformed_json", "Invalid JSON", "commands")]


def test_the_replay_command_prints_each_output_as_a_worker_publishes_it(tmp_path):
    """``memberflow replay events.jsonl``: a JSONL line per output, its value the published JSON."""
    events = tmp_path / "events.jsonl"
    lines = [{"topic": "orders", "key": "m1", "value": order(event_id="e1", order_id="o1", amount="600")},
             {"topic": "orders", "key": "m1", "value": "{broken"}]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert replay_file(events, None, out) == 0
    printed = [json.loads(text) for text in out.getvalue().splitlines()]
    expected = list(replay(lines, RuleBook.load(SHIPPED_RULES_DIR)))
    assert [(p["topic"], p["key"]) for p in printed] == [(o.topic, o.key) for o in expected]
    assert [p["value"] for p in printed] == [json.loads(o.value.model_dump_json()) for o in expected]
    assert {p["topic"] for p in printed} >= {"points-ledger", "dead-letters"}
