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


#: ``Journal.newest`` of a journal without entries (before any event time)
EMPTY = -(1 << 63)


def _keys_of(blob: bytes | bytearray, count: int) -> list[Key]:
    keys, at = [], 0
    for _ in range(count):
        micros, rank, seq, length, size = HEADER.unpack_from(blob, at)
        keys.append((micros, rank, seq))
        at += HEADER_SIZE + length + size
    return keys


@dataclass(slots=True)
class Journal:
    """A member's recent entries, kept as stored: an in-order event is written at the end of
    ``blob``, and nothing else is built for it (its key is read back from its frame if a rare
    path asks: ``keys``)."""

    #: the state's JSON before the first entry (``NEW_MEMBER``: there was none); None when there are no
    #: entries.  Kept as it came (most often the state's JSON as last stored): never copied
    base: bytes | None = None
    #: the entries' frames (``frame``) one after another, in their keys' order: as stored, one object to keep
    #: (an entry is written at its end, the others not copied)
    blob: bytearray = field(default_factory=bytearray)
    #: how many entries there are
    count: int = 0
    #: the newest entry's event time in microseconds since the epoch (``EMPTY``: no entries)
    newest: int = EMPTY
    #: where the newest entry's frame starts in ``blob``
    tail: int = 0
    #: key -> the entry's outputs in the history as it stands, as a rewind last worked them out (never stored)
    outputs: dict[Key, list[Any]] = field(default_factory=dict, repr=False, compare=False)
    #: (an entry's key, the state's JSON after it and the entries before it), oldest first: a base to fold
    #: to without replaying anything, once the entry is older than any late event may be (never stored)
    checkpoints: list[tuple[Key, bytes]] = field(default_factory=list, repr=False, compare=False)
    #: the entries' keys once ``keys`` read them, kept up to date from then on (None: not read)
    known_keys: list[Key] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.count

    @property
    def keys(self) -> list[Key]:
        """The entries' keys, ascending (read from the frames the first time: a member with few
        entries never needs them)."""
        if self.known_keys is None:
            self.known_keys = _keys_of(self.blob, self.count)
        return self.known_keys

    @property
    def frames(self) -> list[bytes]:
        """The entries' frames, one each (for what replays them)."""
        blob, at, out = self.blob, 0, []
        for _ in range(self.count):
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

    def last_key(self) -> Key:
        """The newest entry's key (there is one)."""
        micros, rank, seq, _, _ = HEADER.unpack_from(self.blob, self.tail)
        return micros, rank, seq

    def copy(self) -> Journal:
        return Journal(self.base, bytearray(self.blob), self.count, self.newest, self.tail, dict(self.outputs),
                       list(self.checkpoints), None if self.known_keys is None else list(self.known_keys))

    def add(self, micros: int, rank: int, seq: int, topic: bytes, payload: bytes) -> None:
        """An entry after every other (``frame``, written in place), its key (micros, rank, seq)."""
        blob = self.blob
        self.tail = len(blob)
        blob += HEADER.pack(micros, rank, seq, len(topic), len(payload))
        blob += topic
        blob += payload
        self.count += 1
        self.newest = micros
        if self.known_keys is not None:
            self.known_keys.append((micros, rank, seq))

    def insert(self, at: int, key: Key, framed: bytes) -> None:
        """A late entry in its place: the checkpoints after it no longer hold."""
        keys, cut = self.keys, self.offset(at)
        self.blob[cut:cut] = framed
        keys.insert(at, key)
        self.count += 1
        self.newest = keys[-1][0]
        self.tail = self.offset(self.count - 1)
        self.checkpoints = [point for point in self.checkpoints if point[0] < key]

    def rebase(self, base: bytes | None, start: int | None = None) -> None:
        """A new base (None: no journal), with the entries from ``start`` on (None: none)."""
        self.base = base
        if start is None:  # the containers are emptied, not made anew (no allocation on the hot path)
            self.blob.clear()
            self.count, self.newest, self.tail, self.known_keys = 0, EMPTY, 0, None
            if self.outputs:
                self.outputs = {}
            if self.checkpoints:
                self.checkpoints = []
        else:
            keys, cut = self.keys[start:], self.offset(start)
            del self.blob[:cut]
            self.count, self.known_keys = len(keys), keys
            self.tail = max(self.tail - cut, 0)
            if not keys:
                self.newest = EMPTY
            first = keys[0] if keys else None
            self.outputs = {key: out for key, out in self.outputs.items() if key >= first} if first else {}
            self.checkpoints = [point for point in self.checkpoints if point[0] >= first] if first else []


@dataclass(slots=True)
class MemberRecord:
    """What is stored per member: the state, and its journal."""

    state: MemberState
    journal: Journal = field(default_factory=Journal)
    #: the state's JSON as last stored, while the state is unchanged since (saves encoding it again for ``base``)
    stored_json: bytes | None = None
    #: the state's watermark when ``latest_micros`` was worked out from it (``engine.event_time``)
    latest_at: datetime | None = field(default=None, repr=False, compare=False)
    #: the member's latest event time in microseconds since the epoch (0: none), so an event's lateness
    #: is an integer comparison
    latest_micros: int = field(default=0, repr=False, compare=False)

    def copy(self) -> MemberRecord:
        return MemberRecord(copy_state(self.state), self.journal.copy(), self.stored_json)
