"""Input lines read without parsing their payloads (memberflow.tools.offline.read_line,
memberflow.tools.simulate.lines): the engine gets the payload a parse and a dump would have
given it, and the simulation the same event time and member as from the parsed line."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from config.topics import Topic
from memberflow.tools.offline import OfflineEngine, command_line, read_line, to_record
from memberflow.tools.simulate.lines import event_time, head_of, member_of
from models.devices import DeviceActivity
from tests.tools.simulate_fixtures import demo_lines

LINES = [
    {"topic": "orders", "key": "m1", "value": {"member_id": "m1", "occurred_at": "2026-03-02T10:00:00+08:00",
                                                 "note": "näive \"quoted\"", "items": [{"sku": "s"}]}},
    {"topic": "orders", "key": "m2", "value": "{\"member_id\": \"m2\"}", "timestamp": 1772416800000},
    {"topic": "logins", "key": "k", "value": {"user_pin": "u1", "occurred_at": 12345}},
    {"topic": "logins", "key": "k", "value": {"member_id": 7, "user_pin": "u1", "occurred_at": "2026-03-02"}},
    {"topic": "reviews", "key": None, "value": [1, 2], "partition": 3, "offset": 9},
    {"topic": "reviews", "value": None},
]


@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
def test_a_raw_line_gives_the_engine_the_parsed_line_s_record(line):
    text = json.dumps(line, ensure_ascii=False).encode()
    raw, parsed = to_record(read_line(text)), to_record(json.loads(text))
    assert (raw.topic, raw.key, raw.partition, raw.offset, raw.timestamp) == \
        (parsed.topic, parsed.key, parsed.partition, parsed.offset, parsed.timestamp)
    if isinstance(line["value"], str):
        assert raw.value == parsed.value == line["value"].encode()  # a string is the raw payload itself
    else:
        assert json.loads(raw.value) == json.loads(parsed.value) == line["value"]


@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
def test_the_simulation_reads_the_same_time_and_member_from_a_raw_line(line):
    text = json.dumps(line).encode()
    raw, parsed = read_line(text), json.loads(text)
    assert event_time(head_of(raw)) == event_time(head_of(parsed))
    assert member_of(raw, head_of(raw)) == member_of(parsed, head_of(parsed))


def test_what_the_simulation_reads_of_a_line():
    first, login, odd = (read_line(json.dumps(LINES[i]).encode()) for i in (0, 2, 3))
    assert event_time(head_of(first)) == datetime.fromisoformat("2026-03-02T10:00:00+08:00")
    assert member_of(first, head_of(first)) == "m1"
    assert (event_time(head_of(login)), member_of(login, head_of(login))) == (None, "u1")  # a number is no time
    assert (event_time(head_of(odd)), member_of(odd, head_of(odd))) == (None, "k")  # a naive time; no string id


def test_a_line_that_is_not_an_object_with_a_topic_is_refused():
    for text in (b"[1]", b"{\"value\": {}}", b"{"):
        with pytest.raises(ValueError):
            read_line(text)


def test_a_fed_back_device_report_s_model_is_what_its_payload_parses_to():
    """The offline engine hands the device agent the reports the members' engine made
    (``"model"``) instead of parsing the payloads it wrote for them: the same values."""
    engine = OfflineEngine(RuleBook.load(SHIPPED_RULES_DIR), feedback=True)
    reports = 0
    for line in demo_lines(60, 20):
        for out in engine.feed(line):
            if out.topic == Topic.DEVICE_ACTIVITY:
                fed = command_line(out)
                assert DeviceActivity.model_validate_json(fed["value"]) == fed["model"]
                reports += 1
    assert reports > 100
