"""What applying one event produced: the outputs and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel

from models.outputs import DeadLetterReason
from models.state import MemberState


class Applied(StrEnum):
    APPLIED = "applied"
    REWOUND = "rewound"  # applied in its place in time: the later events replayed, corrections emitted
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Emitted:
    """One output message: logical topic name, Kafka key, value."""

    topic: str
    key: str
    value: BaseModel
    partition: int | None = None  # None: the key's partition


@dataclass(slots=True)
class Outcome:
    state: MemberState
    result: Applied = Applied.APPLIED
    outputs: list[Emitted] = field(default_factory=list)
    reason: DeadLetterReason | None = None
    detail: str = ""


class Reject(Exception):
    """Raised by an event handler, before it changes state, to dead-letter the event."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
