"""The engine offline: input lines through the agents' record processing, members in a dict.

One place for what ``memberflow replay`` and ``memberflow simulate`` run.  A line
is ``{"topic": ..., "key": ..., "value": {...}}`` (``value`` may also be a string
holding the raw payload; optional ``partition``/``offset``, and ``timestamp``,
when the broker received it, in milliseconds since the epoch).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
from pydantic import ValidationError

from agents.devices import judge
from agents.records import Record, dead_letter, offer_record, offer_rules_record, process, refused
from config.rules import RuleBook, TenantRules
from config.settings import Settings
from config.topics import Topic
from engine.clock import micros
from engine.evaluation import evaluate_marked, evaluation_id, rules_for
from engine.event_time import replay
from engine.outcome import Emitted
from engine.plans import EMPTY, fold, missing, parse_step, with_facts
from engine.published_rules import LiveRules
from models.devices import DeviceState
from models.evaluation import EvaluateCommand
from models.journal import Journal, MemberRecord
from models.json_twins import output_json
from models.outputs import DeadLetterReason
from models.state import MemberState, state_json, state_of_json
from tables.members import SEPARATOR, DueMark


class MemoryStore:
    """Member records in a dict; ``get`` hands out a copy so a failed apply changes nothing.
    ``marks`` holds the due mark the last evaluation left (``tables.members.DueMark``); an
    event's ``put`` drops it, as the members agent does."""

    def __init__(self) -> None:
        self.records: dict[bytes, MemberRecord] = {}
        self.marks: dict[bytes, DueMark] = {}
        #: the device agent's states (``device-activity`` lines), by key
        self.devices: dict[bytes, DeviceState] = {}

    def get(self, key: bytes) -> MemberRecord | None:
        record = self.records.get(key)
        return record.copy() if record is not None else None

    def put(self, key: bytes, record: MemberRecord) -> None:
        self.records[key] = record
        self.marks.pop(key, None)

    @property
    def states(self) -> dict[bytes, MemberState]:
        """Every member's state, by key."""
        return {key: record.state for key, record in self.records.items()}

    def restore(self, rulebook: RuleBook | None = None) -> None:
        """After an engine failure: nothing to do, the failed apply changed a copy."""


class LentStore(MemoryStore):
    """Hands out the stored record itself, having kept what gives its state back and its
    journal; ``restore`` puts them back after an engine failure.  Cheaper than a copy: a
    member with a journal is its journal's base and entries replayed (``engine.event_time``,
    what a late event's rewind relies on), one without keeps its state's JSON with the record
    (``stored_json``), which the journal then takes as its base."""

    def __init__(self) -> None:
        super().__init__()
        self.lent: tuple[bytes, bytes | None, Journal] | None = None

    def get(self, key: bytes) -> MemberRecord | None:
        record = self.records.get(key)
        if record is None:
            self.lent = None
            return None
        raw = None
        if not record.journal.keys:
            if record.stored_json is None:
                record.stored_json = state_json(record.state)
            raw = record.stored_json
        self.lent = (key, raw, record.journal.copy())
        return record

    def restore(self, rulebook: RuleBook | None = None) -> None:
        if self.lent is None:
            return
        key, raw, journal = self.lent
        if raw is not None:
            self.records[key] = MemberRecord(state_of_json(raw), journal, raw)
            return
        assert rulebook is not None, "a member with a journal is restored by replaying it under the rules"
        lent = MemberRecord(self.records[key].state, journal)
        state, _ = replay(lent, journal.frames, rulebook.for_tenant(lent.state.tenant_id))
        self.records[key] = MemberRecord(state, journal)


class _RawLine(msgspec.Struct):
    topic: str
    value: msgspec.Raw = msgspec.Raw(b"null")
    key: str | None = None
    partition: Any = None
    offset: Any = None
    timestamp: Any = None


_RAW_LINE = msgspec.json.Decoder(_RawLine)


def read_line(text: bytes) -> dict:
    """A JSONL line with its ``value`` left as the JSON text it is (``msgspec.Raw``): the engine
    parses a payload itself, so parsing it here and writing it again for the engine is waste.
    Raises ``ValueError`` when the line is not such an object."""
    try:
        line = _RAW_LINE.decode(text)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"not an input line: {exc}") from exc
    return {"topic": line.topic, "key": line.key, "value": line.value, "partition": line.partition,
            "offset": line.offset, "timestamp": line.timestamp}


def payload(value: object) -> bytes:
    """A line's ``value`` as the payload the workers would read: an object as its JSON, a string
    as the raw payload it holds."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, msgspec.Raw):
        raw = bytes(value)
        return msgspec.json.decode(raw).encode() if raw[:1] == b'"' else raw
    return json.dumps(value).encode()


def to_record(line: dict) -> Record:
    raw = payload(line.get("value"))
    key = line.get("key")
    return Record(line["topic"], raw, key.encode() if key is not None else None, line.get("partition"),
                  line.get("offset"), line.get("timestamp"))


#: the internal topics the workers read back what they wrote to
FED_BACK = frozenset({Topic.MEMBER_COMMANDS, Topic.DEVICE_ACTIVITY})


def command_line(out: Emitted) -> dict:
    """A member command the engine emitted, as the line a worker would read back: its value the
    payload as the workers publish it (``output_json``), not parsed only to be dumped again,
    and the model itself under ``"model"`` (what parsing the payload gives back)."""
    return {"topic": out.topic, "key": out.key, "value": output_json(out.value).decode(), "model": out.value}


class OfflineEngine:
    """The members agent and the commands agent over one in-memory member table.

    With ``feedback`` the member commands the engine emits (gift hand-offs, device
    verdicts) and its device reports are applied after the line that caused them, in
    the order emitted, as the workers would read them back from ``member-commands``
    and ``device-activity``; without it they are only output."""

    def __init__(self, rulebook: RuleBook, max_bytes: int | None = None, store: MemoryStore | None = None,
                 feedback: bool = False) -> None:
        self.store = store if store is not None else LentStore()
        self.limit = max_bytes or Settings.model_fields["max_payload_bytes"].default
        self.live = LiveRules(rulebook)
        self.plans = EMPTY  # the merchants' membership plans folded so far (engine/plans.py)
        self.rulebook = rulebook
        self.feedback = feedback

    def feed(self, line: dict) -> Iterator[Emitted]:
        """The outputs of one input line (and, with feedback, of the commands it caused)."""
        if not self.feedback:
            yield from self._one(line)
            return
        pending = deque([line])
        while pending:
            for out in self._one(pending.popleft()):
                if out.topic in FED_BACK:
                    pending.append(command_line(out))
                yield out

    def evaluate(self, command: EvaluateCommand) -> Iterator[Emitted]:
        """A periodic evaluation: every member in key order, like the workers' slices, passing
        over a member whose due mark says it has nothing to do (as the workers do)."""
        cause = evaluation_id(command.tenant_id, command.as_of)
        as_of = micros(command.as_of)
        store = self.store
        commands: list[dict] = []
        for key in sorted(store.records):
            rules = rules_for(key.split(SEPARATOR.encode(), 1)[0].decode(), command.tenant_id, self.rulebook)
            if rules is None:
                continue
            mark = store.marks.get(key)
            if mark is not None and mark.passes_over(as_of, rules.due_fingerprint):
                continue
            record = store.records[key]  # changed in place: an evaluation that fails ends the run
            likely = mark is not None and mark.says_due(as_of, rules.due_fingerprint)
            outputs = self._evaluate_member(key, record, rules, command.as_of, cause, likely)
            for out in outputs:
                if self.feedback and out.topic in FED_BACK:
                    commands.append(command_line(out))
                yield out
        for line in commands:
            yield from self.feed(line)

    def _evaluate_member(self, key: bytes, record: MemberRecord, rules: TenantRules, as_of: datetime,
                         cause: str, likely_due: bool = False) -> list[Emitted]:
        """One member's evaluation and its new due mark, as the workers' slices do it
        (``evaluate_marked``: a member with nothing due is not evaluated, only folded; one whose
        mark says it is due is evaluated without looking first)."""
        changed, outputs, since, due = evaluate_marked(record, rules, as_of, cause, likely_due)
        if changed:
            self.store.put(key, record)
        self.store.marks[key] = DueMark.of(since, due, rules.due_fingerprint)
        return outputs

    def _one(self, line: dict) -> Iterator[Emitted]:
        topic = line["topic"]
        if topic == Topic.BUSINESS_LINES:  # definitions apply to what follows, as on every worker
            yield from offer_record(to_record(line), self.live, self.limit)[1]
            self.rulebook = self._book()
        elif topic == Topic.TENANT_RULES:  # so do published tenant rules
            yield from offer_rules_record(to_record(line), self.live, self.limit)[1]
            self.rulebook = self._book()
        elif topic == Topic.MEMBERSHIP_PLANS:  # merchants' plan steps, folded in any order as on every worker
            yield from self._plan_step(to_record(line))
        elif topic == Topic.DEVICE_ACTIVITY:  # the device agent's part
            judged = judge(to_record(line), self.store.devices.get, self.rulebook, line.get("model"))
            if judged.key is not None and judged.state is not None:
                self.store.devices[judged.key] = judged.state
            yield from judged.outputs
        elif topic == Topic.COMMANDS:
            record = to_record(line)
            try:
                command = EvaluateCommand.model_validate_json(record.value or b"")
            except ValidationError as exc:
                yield refused(record, exc)[0]
                return
            yield from self.evaluate(command)
        else:
            result = process(to_record(line), self.store, self.rulebook, self.limit)
            if result.reason is DeadLetterReason.PROCESSING_ERROR:
                self.store.restore(self.rulebook)
            yield from result.outputs

    def _book(self) -> RuleBook:
        """The published rules and lines, carrying the membership plans folded so far."""
        return self.live.book if self.plans is EMPTY else with_facts(self.live.book, self.plans)

    def _plan_step(self, record: Record) -> Iterator[Emitted]:
        """One ``membership-plans`` step: folded, and dead-lettered as the workers' checker does
        when it is invalid or refers to something not yet defined (it still waits, folded)."""
        step = parse_step(record.value, self.limit)
        if isinstance(step, str):
            yield dead_letter(record, DeadLetterReason.INVALID_DEFINITION, step)
            return
        absent = missing(self.plans, step)
        if absent is not None:
            yield dead_letter(record, DeadLetterReason.MISSING_REFERENCE, absent)
        facts = fold(self.plans, step)
        if facts is not self.plans:
            self.plans = facts
            self.rulebook = self._book()
