"""Values stored before the state became a msgspec Struct read back, and write back without their defaults.

``stored_values_v1.json`` holds values the previous worker (state as a pydantic
model) stored for demo members chosen so every part of the state is filled in
somewhere: redemption answers, coupons, gifts both ways, merchandise, badges,
orders, day counters, nudges, a due mark and a journal.  A new worker reads
them as they are, and writes the same state with every field at its default
left out (``omit_defaults``): a quarter smaller on the demo stream, and read
back, by this worker or by one of the previous version (whose pydantic model
has the same defaults), as the same state.  So no version byte is needed and
old and new workers can share a changelog -- and a field's default, once
released, is part of the stored format.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import msgspec
import pytest

from models.state import MemberState, state_json, state_of_json
from tables.members import decode, decode_record, encode, unmarked

VALUES = json.loads((Path(__file__).parent / "stored_values_v1.json").read_text())


def defaults(struct: type[msgspec.Struct]) -> dict[str, object]:
    """A Struct's fields that have a default, with it."""
    return {f.encode_name: f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
            for f in msgspec.structs.fields(struct) if f.required is False}


def left_out(old: bytes, new: bytes) -> dict[str, object]:
    """The state's fields the old JSON wrote and the new one does not, with their old values."""
    before, after = json.loads(old), json.loads(new)
    assert set(after) <= set(before) | set(defaults(MemberState))
    return {name: value for name, value in before.items() if name not in after}


def at_default(name: str, value: object) -> bool:
    """Whether ``value``, as the previous worker wrote the state's field ``name``, is that field's default."""
    default = defaults(MemberState)[name]
    return value is None if default is None else msgspec.convert(value, type(default)) == default


@pytest.mark.parametrize("stored", VALUES, ids=[v["why"] for v in VALUES])
def test_a_value_the_previous_worker_stored_reads_back_and_writes_without_its_defaults(stored):
    raw = base64.b64decode(stored["value"])
    record = decode_record(raw)
    assert f"{record.state.tenant_id}\x1f{record.state.member_id}" == stored["key"]
    assert decode(raw) == record.state
    old_state = record.stored_json
    record.stored_json = None  # encode the decoded state, not the bytes it was read from
    mark = raw[:25] if raw[:1] == b"D" else b""
    written = mark + encode(record)
    again = decode_record(written)
    assert again.state == record.state
    assert (again.journal.keys, again.journal.frames) == (record.journal.keys, record.journal.frames)
    assert len(written) < len(raw)
    # what is left out is a field at its default, whatever the previous worker wrote for it
    omitted = left_out(old_state, again.stored_json)
    assert omitted and all(at_default(name, value) for name, value in omitted.items())
    if record.journal.base:  # the journal's base state: kept as the previous worker wrote it, until it moves on
        assert again.journal.base == record.journal.base
        base = state_of_json(record.journal.base)
        assert state_of_json(state_json(base)) == base and len(state_json(base)) < len(record.journal.base)


def test_a_field_at_its_default_is_left_out_and_read_back_as_it() -> None:
    state = state_of_json(b'{"tenant_id":"t","member_id":"m"}')
    written = state_json(state)
    assert json.loads(written) == {"tenant_id": "t", "member_id": "m", "redemption": {}}  # a Struct is written
    assert state_of_json(written) == state


def test_the_fixture_covers_every_part_of_the_state():
    states = [decode(base64.b64decode(v["value"])) for v in VALUES]
    redemption = [s.redemption for s in states]
    assert any(r.results for r in redemption) and any(r.coupons for r in redemption)
    assert any(g.pieces for r in redemption for g in r.gifts_sent.values())
    assert any(r.gifts_received for r in redemption) and any(r.merchandise for r in redemption)
    assert any(s.badges for s in states) and any(s.orders for s in states) and any(s.counters for s in states)
    assert any(unmarked(base64.b64decode(v["value"])) != base64.b64decode(v["value"]) for v in VALUES)
    assert any(b"\x00" in base64.b64decode(v["value"]) for v in VALUES)


def test_a_decoded_state_does_not_keep_its_stored_value_alive():
    raw = next(base64.b64decode(v["value"]) for v in VALUES if v["why"] == "results")
    body = unmarked(raw)
    state_json_bytes = body[:body.find(b"\x00")] if b"\x00" in body else bytes(body)
    before = sys.getrefcount(state_json_bytes)
    state = state_of_json(state_json_bytes)
    assert state.redemption.results and sys.getrefcount(state_json_bytes) == before
