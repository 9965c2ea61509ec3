"""Offline replay: the agents' evaluation code over a JSONL file, no broker.

Each input line is ``{"topic": ..., "key": ..., "value": {...}}`` (``value`` may
also be a string holding the raw payload; an optional ``timestamp`` is when the
broker received it, in milliseconds since the epoch); each output line is
``{"topic": ..., "key": ..., "value": {...}}`` in the order the engine emitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from agents.devices import judge
from agents.records import Record, dead_letter, offer_record, offer_rules_record, process
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings
from config.topics import Topic
from engine.evaluation import evaluate_record, evaluation_id, rules_for
from engine.outcome import Emitted
from engine.published_rules import LiveRules
from models.devices import DeviceState
from models.evaluation import EvaluateCommand
from models.journal import MemberRecord
from models.outputs import DeadLetterReason
from models.state import MemberState
from tables.members import SEPARATOR


class MemoryStore:
    """Member records in a dict; ``get`` hands out a copy so a failed apply changes nothing."""

    def __init__(self) -> None:
        self.records: dict[bytes, MemberRecord] = {}
        #: the device agent's states (``device-activity`` lines), by key
        self.devices: dict[bytes, DeviceState] = {}

    def get(self, key: bytes) -> MemberRecord | None:
        record = self.records.get(key)
        return record.copy() if record is not None else None

    def put(self, key: bytes, record: MemberRecord) -> None:
        self.records[key] = record

    @property
    def states(self) -> dict[bytes, MemberState]:
        """Every member's state, by key."""
        return {key: record.state for key, record in self.records.items()}


def to_record(line: dict, offset: int) -> Record:
    value = line.get("value")
    raw = value.encode() if isinstance(value, str) else json.dumps(value).encode()
    key = line.get("key")
    return Record(line["topic"], raw, key.encode() if key is not None else None, line.get("partition"),
                  line.get("offset"), line.get("timestamp"))


def output_line(out: Emitted) -> str:
    return json.dumps({"topic": out.topic, "key": out.key, "value": json.loads(out.value.model_dump_json())})


def replay(
    lines: Iterable[dict], rulebook: RuleBook, max_bytes: int | None = None, store: MemoryStore | None = None
) -> Iterator[Emitted]:
    """Outputs of the lines in order; pass ``store`` to look at the final states."""
    store = store if store is not None else MemoryStore()
    limit = max_bytes or Settings.model_fields["max_payload_bytes"].default
    live = LiveRules(rulebook)
    for offset, line in enumerate(lines):
        if line["topic"] == Topic.BUSINESS_LINES:  # definitions apply to what follows, as on every worker
            yield from offer_record(to_record(line, offset), live, limit)[1]
            rulebook = live.book
            continue
        if line["topic"] == Topic.TENANT_RULES:  # so do published tenant rules
            yield from offer_rules_record(to_record(line, offset), live, limit)[1]
            rulebook = live.book
            continue
        if line["topic"] == Topic.COMMANDS:
            yield from evaluate_all(to_record(line, offset), store, rulebook)
        elif line["topic"] == Topic.DEVICE_ACTIVITY:  # the device agent's part
            judged = judge(to_record(line, offset), store.devices.get, rulebook)
            if judged.key is not None and judged.state is not None:
                store.devices[judged.key] = judged.state
            yield from judged.outputs
        else:
            yield from process(to_record(line, offset), store, rulebook, limit).outputs


def evaluate_all(record: Record, store: MemoryStore, rulebook: RuleBook) -> Iterator[Emitted]:
    """An ``evaluate`` command: every member in key order, like the workers' slices."""
    try:
        command = EvaluateCommand.model_validate_json(record.value or b"")
    except ValidationError as exc:
        yield dead_letter(record, DeadLetterReason.INVALID_EVENT, str(exc.errors()[0]["msg"]))
        return
    cause = evaluation_id(command.tenant_id, command.as_of)
    for key in sorted(store.records):
        rules = rules_for(key.split(SEPARATOR.encode(), 1)[0].decode(), command.tenant_id, rulebook)
        if rules is None:
            continue
        record = store.get(key)
        assert record is not None
        changed, outputs = evaluate_record(record, rules, command.as_of, cause)
        if changed:
            store.put(key, record)
        yield from outputs


def replay_file(events: Path, rules: Path | None, out: IO[str]) -> int:
    rulebook = RuleBook.from_path(rules or SHIPPED_RULES_DIR)
    with events.open(encoding="utf-8") as fh:
        lines = (json.loads(text) for text in fh if text.strip())
        for emitted in replay(lines, rulebook):
            out.write(output_line(emitted) + "\n")
    return 0
