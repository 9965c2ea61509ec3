"""Raw Kafka payload -> validated event, or the reason it is a dead letter.

Pure and cheap: one pydantic ``validate_json`` per payload, adapters built once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from config.topics import MEMBER_EVENTS
from models.events import MemberEvent
from models.outputs import DeadLetterReason

#: logical topic -> the contract of its values (a plain dict: looked up per event)
CONTRACTS: dict[str, TypeAdapter] = {topic: topic.adapter for topic in MEMBER_EVENTS}


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: DeadLetterReason
    detail: str


def describe(exc: ValidationError) -> tuple[DeadLetterReason, str]:
    """A refused payload's dead-letter reason, and its detail: the first errors, each with its field path."""
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] in ("json_invalid", "json_type"):
        return DeadLetterReason.MALFORMED_JSON, errors[0]["msg"]
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]]
    implausible = any(e["type"] == "implausible_time" for e in errors)
    return DeadLetterReason.IMPLAUSIBLE_TIME if implausible else DeadLetterReason.INVALID_EVENT, "; ".join(parts)


def parse_event(topic: str, raw: bytes | None, max_bytes: int) -> MemberEvent | Invalid:
    if raw is None:
        return Invalid(DeadLetterReason.MALFORMED_JSON, "empty message")
    if len(raw) > max_bytes:
        return Invalid(DeadLetterReason.OVERSIZE_PAYLOAD, f"{len(raw)} bytes > {max_bytes}")
    try:
        return CONTRACTS[topic].validate_json(raw)
    except ValidationError as exc:
        reason, detail = describe(exc)
        return Invalid(reason, detail)
