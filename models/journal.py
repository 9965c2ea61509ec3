"""A member's recent history in event time, kept beside the state so a late event can be put in its place.

Events of the time-ordered kinds (orders, refunds, reviews, logins, complaints
upheld or dismissed, profiles, business-line scores) are applied in event-time
order whatever order Kafka delivers them in.  For that the member keeps, since
the last moment its history was fixed, the state as it was then (``base``,
encoded) and the events applied after it (``entries``, sorted by ``key``).  An
event that arrives late is inserted at its key and the entries are replayed
from ``base`` (``engine.event_time``).

The history is fixed -- ``base`` moves to the current state and the entries
go -- by an arrival-ordered event (a redemption, a gift hand-off, a malicious
complaint's verdict) and by a periodic evaluation that acted on the member;
entries older than ``limits.max_lateness`` are folded into ``base`` when the
journal outgrows ``retention.journal_entries``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.state import MemberState

#: (event time in microseconds since the epoch, the topic's rank, the event's sequence number on its topic)
Key = tuple[int, int, int]


@dataclass(slots=True)
class JournalEntry:
    key: Key
    topic: str
    payload: bytes  # the event as it arrived (validated JSON)

    @property
    def micros(self) -> int:
        return self.key[0]


@dataclass(slots=True)
class Journal:
    base: bytes | None = None  # the state's JSON before the first entry; None when there are no entries
    entries: list[JournalEntry] = field(default_factory=list)
    #: topic -> events of that topic applied so far: the third part of the next key on it
    seq: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Journal:
        return Journal(self.base, list(self.entries), dict(self.seq))


@dataclass(slots=True)
class MemberRecord:
    """What is stored per member: the state, and its journal."""

    state: MemberState
    journal: Journal = field(default_factory=Journal)
    #: the state's JSON as last stored, while the state is unchanged since (saves encoding it again for ``base``)
    stored_json: bytes | None = None

    def copy(self) -> MemberRecord:
        return MemberRecord(self.state.model_copy(deep=True), self.journal.copy(), self.stored_json)
