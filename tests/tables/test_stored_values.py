"""Values stored before the state became a msgspec Struct read back, and write back byte for byte.

``stored_values_v1.json`` holds values the previous worker (state as a pydantic
model) stored for demo members chosen so every part of the state is filled in
somewhere: redemption answers, coupons, gifts both ways, merchandise, badges,
orders, day counters, nudges, a due mark and a journal.  A new worker reads
them, and -- the JSON being the same -- writes them as they were, so no
version byte is needed and old and new workers can share a changelog.  Fields
added to the state since are appended at its end with their defaults
(``ADDED``), which a worker that predates them skips when it reads them.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from models.state import state_json, state_of_json
from tables.members import decode, decode_record, encode, unmarked

VALUES = json.loads((Path(__file__).parent / "stored_values_v1.json").read_text())
#: state fields added after the fixture was stored, as a new worker writes their defaults
ADDED = b',"registration":null,"verifications":[]'


def with_added(state_json_bytes: bytes) -> bytes:
    """A state's JSON as stored by the previous worker, with the fields added since."""
    assert state_json_bytes.endswith(b"}")
    return state_json_bytes[:-1] + ADDED + b"}"


def as_written_now(raw: bytes) -> bytes:
    """A stored value as this worker writes it: the added fields in the state's JSON, the rest as it was."""
    mark = raw[:25] if raw[:1] == b"D" else b""
    body = unmarked(raw)
    cut = body.find(b"\x00")
    state, rest = (body, b"") if cut < 0 else (body[:cut], body[cut:])
    return mark + with_added(state) + rest


@pytest.mark.parametrize("stored", VALUES, ids=[v["why"] for v in VALUES])
def test_a_value_the_previous_worker_stored_reads_and_encodes_as_it_was(stored):
    raw = base64.b64decode(stored["value"])
    record = decode_record(raw)
    assert f"{record.state.tenant_id}\x1f{record.state.member_id}" == stored["key"]
    assert decode(raw) == record.state
    record.stored_json = None  # encode the decoded state, not the bytes it was read from
    record.journal.base_frame = None
    mark = raw[:25] if raw[:1] == b"D" else b""
    assert mark + encode(record) == as_written_now(raw)
    if record.journal.base:  # the journal's base state, as the previous worker encoded it
        assert state_json(state_of_json(record.journal.base)) == with_added(record.journal.base)


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
