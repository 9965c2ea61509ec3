"""The ``members`` table: one MemberState per (tenant, member).

Keys and values are raw bytes; the codec is pydantic's JSON (Rust-backed, no
per-field Python work), every field written so a value survives a round trip
as it was.  The changelog partition of a key is the partition of
the event that wrote it, which is the member id's partition on every input
topic (they are co-partitioned), so lookups can route by member id.

Bump ``TABLE_VERSION`` when the meaning of stored state changes.
"""

from __future__ import annotations

import faust

from models.state import MemberState

TABLE_VERSION = 1
TABLE_NAME = f"members-v{TABLE_VERSION}"
SEPARATOR = "\x1f"


def state_key(tenant_id: str, member_id: str) -> bytes:
    return f"{tenant_id}{SEPARATOR}{member_id}".encode()


def encode(state: MemberState) -> bytes:
    return state.model_dump_json().encode()


def decode(raw: bytes) -> MemberState:
    return MemberState.model_validate_json(raw)


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
