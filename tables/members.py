"""The ``members`` table: one MemberRecord (state and journal) per (tenant, member).

Keys and values are raw bytes.  A value is the state's JSON (msgspec's codec,
``models.state.state_json``: the JSON the pydantic model before it wrote, less
the fields at their defaults; each reads the other's), then -- when the member
has one -- a NUL byte and its journal in a binary framing (``models.journal``:
the base state's JSON and recent events as they arrived, one buffer never
decoded on the hot path).  The changelog partition of a key is the partition of
the event that wrote it, which is the member id's partition on every input
topic (they are co-partitioned), so lookups can route by member id.

A value the periodic evaluation wrote starts with a due mark (``DueMark``):
when the evaluation next has anything to do for the member, under which
rules, computed from which moment on.  The evaluation reads those 25 bytes and passes over a
member that is not due without decoding it.  A value without the mark (one
an event changed since, or written before marks existed) is always evaluated.

Bump ``TABLE_VERSION`` when the meaning of stored state changes.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import NamedTuple

import faust

from engine.clock import shared_micros
from models.journal import BASE_LENGTH, EMPTY, HEADER, HEADER_SIZE, Journal, MemberRecord
from models.state import MemberState, state_json, state_of_json

TABLE_VERSION = 1
TABLE_NAME = f"members-v{TABLE_VERSION}"
SEPARATOR = "\x1f"


def state_key(tenant_id: str, member_id: str) -> bytes:
    return f"{tenant_id}{SEPARATOR}{member_id}".encode()


MARK = b"D"  # a value that starts with "{" has no mark
_MARK = struct.Struct(">qqQ")  # since, due (microseconds since the epoch), rules fingerprint
MARK_SIZE = len(MARK) + _MARK.size
NEVER = 2**63 - 1
JOURNAL = b"\x00"  # no JSON text holds a raw NUL
_U32 = struct.Struct(">I")


class DueMark(NamedTuple):
    """Evaluating the member as of any moment in ``[since, due)`` under the rules
    with this fingerprint does nothing (``engine.evaluation.next_due``)."""

    since: int
    due: int  # NEVER: nothing scheduled until an event changes the state
    rules: int

    @classmethod
    def of(cls, since: datetime, due: datetime | None, rules: int) -> DueMark:
        return cls(shared_micros(since), NEVER if due is None else shared_micros(due), rules)

    def passes_over(self, as_of: int, rules: int) -> bool:
        """Whether an evaluation as of ``as_of`` under the rules with fingerprint ``rules`` has nothing
        to do for the member (``not_due`` of a stored value)."""
        return _passes_over(self.since, self.due, self.rules, as_of, rules)

    def says_due(self, as_of: int, rules: int) -> bool:
        """Whether, valid as of ``as_of`` under the rules with fingerprint ``rules``, the mark says the
        evaluation has something to do for the member (``evaluate_marked``'s ``likely_due``)."""
        return _says_due(self.since, self.due, self.rules, as_of, rules)


def _passes_over(since: int, due: int, fingerprint: int, as_of: int, rules: int) -> bool:
    return fingerprint == rules and since <= as_of < due


def _says_due(since: int, due: int, fingerprint: int, as_of: int, rules: int) -> bool:
    return fingerprint == rules and since <= due <= as_of


def encode(record: MemberRecord, mark: DueMark | None = None) -> bytes:
    """The stored value of a record; remembers the state's JSON in ``record.stored_json``."""
    body = record.stored_json
    if body is None:
        body = record.stored_json = state_json(record.state)
    journal = record.journal
    base = journal.base
    if base is not None:  # most often: one join, no list
        body = b"".join((body, JOURNAL, BASE_LENGTH.pack(len(base)), base, _U32.pack(journal.count), journal.blob))
    return body if mark is None else b"".join((MARK, _MARK.pack(mark.since, mark.due, mark.rules), body))


def _decode_journal(blob: bytes) -> Journal:
    (base_size,), at = BASE_LENGTH.unpack_from(blob, 0), BASE_LENGTH.size
    base = blob[at:at + base_size]
    at += base_size
    (count,) = _U32.unpack_from(blob, at)
    at += _U32.size
    first, newest, tail = at, EMPTY, at
    for _ in range(count):
        tail = at
        newest, _, _, topic_size, payload_size = HEADER.unpack_from(blob, at)
        at += HEADER_SIZE + topic_size + payload_size
    return Journal(base, bytearray(memoryview(blob)[first:at]), count, newest, tail - first)


def unmarked(raw: bytes) -> bytes:
    """A stored value without its due mark (if it has one)."""
    return raw[MARK_SIZE:] if raw[:1] == MARK else raw


def decode_record(raw: bytes) -> MemberRecord:
    body = unmarked(raw)
    cut = body.find(JOURNAL)
    if cut < 0:
        return MemberRecord(state_of_json(body), Journal(), body)
    state_json = body[:cut]
    return MemberRecord(state_of_json(state_json), _decode_journal(body[cut + 1:]), state_json)


def decode(raw: bytes) -> MemberState:
    """The member state of a stored value (its journal left aside)."""
    body = unmarked(raw)
    cut = body.find(JOURNAL)
    return state_of_json(body if cut < 0 else body[:cut])


def not_due(raw: bytes, as_of: int, rules: int) -> bool:
    """Whether the due mark at the front of a stored value says an evaluation as
    of ``as_of`` (``micros``) under the rules with fingerprint ``rules`` has
    nothing to do.  The evaluation asks this of every member it scans, so it
    builds no objects."""
    if raw[:1] != MARK:
        return False
    since, due, fingerprint = _MARK.unpack_from(raw, len(MARK))
    return _passes_over(since, due, fingerprint, as_of, rules)


def due_by_mark(raw: bytes, as_of: int, rules: int) -> bool:
    """Whether the due mark at the front of a stored value, valid as of ``as_of`` under the rules
    with fingerprint ``rules``, says the evaluation has something to do for the member."""
    if raw[:1] != MARK:
        return False
    since, due, fingerprint = _MARK.unpack_from(raw, len(MARK))
    return _says_due(since, due, fingerprint, as_of, rules)


def raw_table(app: faust.App, name: str, partitions: int, help: str) -> faust.Table:
    """A table of raw bytes keys and values (the codec is ours, not Faust's)."""
    table = app.Table(name, default=None, key_type=bytes, value_type=bytes, partitions=partitions, help=help)
    # Faust derives serializers from the types (json for bytes); we store the
    # codec's bytes as they are.  Set before the store or changelog is built.
    table.key_serializer = "raw"
    table.value_serializer = "raw"
    return table


def declare(app: faust.App, partitions: int) -> faust.Table:
    return raw_table(app, TABLE_NAME, partitions, "member state (points lots, growth, spend windows, tier, dedupe)")
