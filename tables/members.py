"""The ``members`` table: one MemberState per (tenant, member).

Keys and values are raw bytes; the codec is pydantic's JSON (Rust-backed, no
per-field Python work), every field written so a value survives a round trip
as it was.  The changelog partition of a key is the partition of
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
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import faust

from models.state import MemberState

TABLE_VERSION = 1
TABLE_NAME = f"members-v{TABLE_VERSION}"
SEPARATOR = "\x1f"


def state_key(tenant_id: str, member_id: str) -> bytes:
    return f"{tenant_id}{SEPARATOR}{member_id}".encode()


MARK = b"D"  # a value that starts with "{" has no mark
_MARK = struct.Struct(">qqQ")  # since, due (microseconds since the epoch), rules fingerprint
MARK_SIZE = len(MARK) + _MARK.size
NEVER = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


class DueMark(NamedTuple):
    """Evaluating the member as of any moment in ``[since, due)`` under the rules
    with this fingerprint does nothing (``engine.evaluation.next_due``)."""

    since: int
    due: int  # NEVER: nothing scheduled until an event changes the state
    rules: int

    @classmethod
    def of(cls, since: datetime, due: datetime | None, rules: int) -> DueMark:
        return cls(micros(since), NEVER if due is None else micros(due), rules)


def encode(state: MemberState, mark: DueMark | None = None) -> bytes:
    body = state.model_dump_json().encode()
    return body if mark is None else MARK + _MARK.pack(mark.since, mark.due, mark.rules) + body


def unmarked(raw: bytes) -> bytes:
    """A stored value without its due mark (if it has one): the state's JSON."""
    return raw[MARK_SIZE:] if raw[:1] == MARK else raw


def decode(raw: bytes) -> MemberState:
    return MemberState.model_validate_json(unmarked(raw))


def not_due(raw: bytes, as_of: int, rules: int) -> bool:
    """Whether the due mark at the front of a stored value says an evaluation as
    of ``as_of`` (``micros``) under the rules with fingerprint ``rules`` has
    nothing to do.  The evaluation asks this of every member it scans, so it
    builds no objects."""
    if raw[:1] != MARK:
        return False
    since, due, fingerprint = _MARK.unpack_from(raw, len(MARK))
    return fingerprint == rules and since <= as_of < due


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
