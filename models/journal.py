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
complaint's verdict) and by a periodic evaluation that acted on the member.
Entries older than ``limits.max_lateness`` are folded into ``base``: at a
checkpoint when one has aged so (the state's JSON as it was stored after an
entry, kept in memory: no event is applied again), else by replaying them once
``retention.journal_entries`` of them have aged (``engine.event_time.fold``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.state import MemberState, copy_state

#: (event time in microseconds since the epoch, the topic's rank, the event's number among the journal's events
#: of that topic and microsecond: the topic's own order breaks the tie)
Key = tuple[int, int, int]

#: an entry's frame: its key, its topic's length, its payload's length; then the topic and the payload
HEADER = struct.Struct(">qBIBI")
HEADER_SIZE = HEADER.size


def frame(key: Key, topic: str, payload: bytes) -> bytes:
    """An entry as kept and stored: a few bytes the garbage collector never looks at."""
    name = topic.encode()
    return HEADER.pack(key[0], key[1], key[2], len(name), len(payload)) + name + payload


def read_frame(blob: bytes, at: int = 0) -> tuple[Key, str, bytes, int]:
    """(key, topic, payload, where the next frame starts) of the frame at ``at``."""
    micros, rank, seq, length, size = HEADER.unpack_from(blob, at)
    at += HEADER_SIZE
    topic = blob[at:at + length].decode()
    at += length
    return (micros, rank, seq), topic, blob[at:at + size], at + size


#: a journal's base when the member did not exist before its first entry
NEW_MEMBER = b""


def frame_size(blob: bytes, at: int) -> int:
    """The size of the frame at ``at``."""
    _, _, _, length, size = HEADER.unpack_from(blob, at)
    return HEADER_SIZE + length + size


#: a base as stored: its length, then it
BASE_LENGTH = struct.Struct(">I")


@dataclass(slots=True)
class Journal:
    #: the state's JSON before the first entry as stored (``BASE_LENGTH``, then it: a base is kept once);
    #: None when there are no entries
    base_frame: bytes | None = None
    #: the entries' keys, ascending
    keys: list[Key] = field(default_factory=list)
    #: the entries' frames (``frame``) one after another, in the keys' order: as stored, one object to keep
    #: (a ``bytearray`` once ``add`` wrote to it: an entry is written at its end, the others not copied)
    blob: bytes | bytearray = b""
    #: key -> the entry's outputs in the history as it stands, as a rewind last worked them out (never stored)
    outputs: dict[Key, list[Any]] = field(default_factory=dict, repr=False, compare=False)
    #: (an entry's key, the state's JSON after it and the entries before it), oldest first: a base to fold
    #: to without replaying anything, once the entry is older than any late event may be (never stored)
    checkpoints: list[tuple[Key, bytes]] = field(default_factory=list, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def base(self) -> bytes | None:
        """The state's JSON before the first entry (``NEW_MEMBER``: there was none); None when there are
        no entries."""
        return None if self.base_frame is None else self.base_frame[BASE_LENGTH.size:]

    @property
    def frames(self) -> list[bytes]:
        """The entries' frames, one each (for what replays them)."""
        blob, at, out = self.blob, 0, []
        for _ in self.keys:
            end = at + frame_size(blob, at)
            out.append(bytes(blob[at:end]))
            at = end
        return out

    def offset(self, index: int) -> int:
        """Where the frame of entry ``index`` starts in ``blob``."""
        blob, at = self.blob, 0
        for _ in range(index):
            at += frame_size(blob, at)
        return at

    def copy(self) -> Journal:
        return Journal(self.base_frame, list(self.keys), bytes(self.blob), dict(self.outputs), list(self.checkpoints))

    def add(self, key: Key, topic: bytes, payload: bytes) -> None:
        """An entry after every other (``frame``, written in place)."""
        self.keys.append(key)
        blob = self.blob
        if type(blob) is not bytearray:
            blob = self.blob = bytearray(blob)
        blob += HEADER.pack(*key, len(topic), len(payload))
        blob += topic
        blob += payload

    def insert(self, at: int, key: Key, framed: bytes) -> None:
        """A late entry in its place: the checkpoints after it no longer hold."""
        cut = self.offset(at)
        self.keys.insert(at, key)
        self.blob = b"".join((self.blob[:cut], framed, self.blob[cut:]))
        self.checkpoints = [point for point in self.checkpoints if point[0] < key]

    def rebase(self, base: bytes | None, start: int | None = None) -> None:
        """A new base (None: no journal), with the entries from ``start`` on (None: none)."""
        self.base_frame = None if base is None else BASE_LENGTH.pack(len(base)) + base
        if start is None:
            self.keys, self.blob, self.outputs, self.checkpoints = [], b"", {}, []
        else:
            self.blob = self.blob[self.offset(start):]
            self.keys = self.keys[start:]
            first = self.keys[0] if self.keys else None
            self.outputs = {key: out for key, out in self.outputs.items() if key >= first} if first else {}
            self.checkpoints = [point for point in self.checkpoints if point[0] >= first] if first else []


@dataclass(slots=True)
class MemberRecord:
    """What is stored per member: the state, and its journal."""

    state: MemberState
    journal: Journal = field(default_factory=Journal)
    #: the state's JSON as last stored, while the state is unchanged since (saves encoding it again for ``base``)
    stored_json: bytes | None = None
    #: (the state's watermark, it in microseconds), so an event's lateness is an integer comparison
    latest: tuple[datetime, int] | None = field(default=None, repr=False, compare=False)

    def copy(self) -> MemberRecord:
        return MemberRecord(copy_state(self.state), self.journal.copy(), self.stored_json)
