"""One input record through the engine: decode, evaluate, or dead-letter.

Shared by the agents and the offline replay, so both produce the same
outputs (and the same dead letters, with the same ids) for the same records.
State lives behind a two-method store so the agent can batch its table reads
and writes and the replay can use a dict.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from config.rules import RuleBook
from config.topics import Topic
from engine.event_time import Arrival, apply_in_time
from engine.ids import derive_id
from engine.intake import Invalid, describe, parse_event
from engine.outcome import Applied, Emitted
from engine.published_lines import Offer, Verdict, parse_definition
from engine.published_rules import LiveRules
from models.events import MemberEvent
from models.journal import MemberRecord
from models.outputs import DeadLetter, DeadLetterReason
from tables.members import state_key

PAYLOAD_TEXT_LIMIT = 4096


class MemberStore(Protocol):
    def get(self, key: bytes) -> MemberRecord | None: ...

    def put(self, key: bytes, record: MemberRecord) -> None: ...


@dataclass(slots=True)
class Record:
    """An input message as read from Kafka (``topic`` is the logical name)."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: int | None = None  # when the broker received it, milliseconds since the epoch


@dataclass(slots=True)
class Result:
    applied: Applied | None
    outputs: list[Emitted] = field(default_factory=list)
    reason: DeadLetterReason | None = None


def dead_letter(
    record: Record, reason: DeadLetterReason, detail: str, event: MemberEvent | None = None
) -> Emitted:
    raw = record.value or b""
    digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
    text = raw[:PAYLOAD_TEXT_LIMIT].decode("utf-8", errors="replace")
    key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
    value = DeadLetter(
        dead_letter_id=derive_id("dl", record.topic, digest, reason.value),
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        payload=text,
        reason=reason,
        detail=detail,
        tenant_id=event.tenant_id if event else None,
        member_id=event.member_id if event else None,
        cause_event_id=event.event_id if event else None,
    )
    return Emitted(Topic.DEAD_LETTERS, event.member_id if event else (key or ""), value)


def decode(record: Record, max_bytes: int) -> MemberEvent | Result:
    parsed = parse_event(record.topic, record.value, max_bytes)
    if isinstance(parsed, Invalid):
        return Result(None, [dead_letter(record, parsed.reason, parsed.detail)], parsed.reason)
    return parsed


def evaluate(record: Record, event: MemberEvent, store: MemberStore, rulebook: RuleBook) -> Result:
    """The event applied to its member as of its event time (``engine.event_time``)."""
    key = state_key(event.tenant_id, event.member_id)
    arrival = Arrival(record.topic, record.value or b"", record.timestamp)
    member, outcome = apply_in_time(store.get(key), event, arrival, rulebook.for_tenant(event.tenant_id))
    if outcome.result is Applied.REJECTED:
        assert outcome.reason is not None
        return Result(outcome.result, [dead_letter(record, outcome.reason, outcome.detail, event)], outcome.reason)
    if outcome.result in (Applied.APPLIED, Applied.REWOUND):
        store.put(key, member)
    return Result(outcome.result, outcome.outputs)


PROCESSING_DETAIL = "the engine failed on this event"


def engine_failure(record: Record, event: MemberEvent) -> Result:
    reason = DeadLetterReason.PROCESSING_ERROR
    return Result(None, [dead_letter(record, reason, PROCESSING_DETAIL, event)], reason)


def process(record: Record, store: MemberStore, rulebook: RuleBook, max_bytes: int) -> Result:
    """Decode and evaluate one record.  ``store.get`` must hand out a copy:
    an engine failure dead-letters the event and keeps the stored state."""
    decoded = decode(record, max_bytes)
    if isinstance(decoded, Result):
        return decoded
    try:
        return evaluate(record, decoded, store, rulebook)
    except Exception:
        return engine_failure(record, decoded)


def refused(record: Record, exc: ValidationError) -> tuple[Emitted, DeadLetterReason]:
    """The dead letter of a record its contract refused (a command, a slice, a device report), and its
    reason: the same reasons and field paths as a refused member event's."""
    reason, detail = describe(exc)
    return dead_letter(record, reason, detail), reason


# -- business-line definitions (read whole by every worker) --


def invalid_definition(record: Record, detail: str) -> Emitted:
    return dead_letter(record, DeadLetterReason.INVALID_DEFINITION, detail)


def check_definition(record: Record, max_bytes: int) -> Emitted | None:
    """The dead letter of an invalid definition, or None when it is valid."""
    parsed = parse_definition(record.value, max_bytes)
    return invalid_definition(record, parsed) if isinstance(parsed, str) else None


def offer_record(record: Record, live: LiveRules, max_bytes: int) -> tuple[Offer, list[Emitted]]:
    """Fold one definition record into ``live``; the outputs are its dead letter, if any."""
    offer = live.offer_lines(record.value, max_bytes)
    return offer, [invalid_definition(record, offer.detail)] if offer.verdict is Verdict.INVALID else []


# -- tenant rules versions (read whole by every worker) --


def offer_rules_record(record: Record, live: LiveRules, max_bytes: int) -> tuple[Offer, list[Emitted]]:
    """Fold one ``tenant-rules`` record into ``live``; the outputs are its dead letter, if any."""
    offer = live.offer_rules(record.value, max_bytes)
    letter = dead_letter(record, DeadLetterReason.INVALID_RULES, offer.detail)
    return offer, [letter] if offer.verdict is Verdict.INVALID else []
