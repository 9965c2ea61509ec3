"""A stand-in for the members agent and the projector in the admin tests: applies the commands the admin
service published as the agent would (``agents.records.process``) and projects what they did."""

from __future__ import annotations

import json

import sqlalchemy as sa

from agents.records import Record as InputRecord
from agents.records import process
from memberflow.readmodel.projection import TOPIC_TABLES, Projection, Record
from memberflow.tools.replay import MemoryStore
from tables.members import decode_record, encode, state_key
from tests.admin.fixtures import NOW
from tests.readmodel.fixtures import CHANGELOG, rules, stream


class Worker:
    """Applies the published commands as the members agent would, and projects what they did."""

    def __init__(self, engine: sa.Engine, published) -> None:
        self.engine, self.published, self.offset = engine, published, 1_000_000
        self.done = len(published.commands)  # the commands of the other database's run are not this one's
        self.store = MemoryStore()
        for record in stream()[1]:
            if record.physical == CHANGELOG and record.value is not None:
                self.store.records[record.key] = decode_record(record.value)

    def run(self, events: tuple[tuple[str, dict], ...] = ()) -> list:
        """Apply ``events`` (input topic, JSON value), then the commands published since the last run."""
        commands = self.published.commands[self.done:]
        self.done = len(self.published.commands)
        records, touched, outputs = [], set(), []
        inputs = [(topic, value, value["member_id"], value.get("tenant_id", "default")) for topic, value in events]
        inputs += [("member-commands", command.model_dump(mode="json"), command.member_id, command.tenant_id)
                   for command in commands]
        for topic, value, member_id, tenant_id in inputs:
            result = process(InputRecord(topic, json.dumps(value).encode(), member_id.encode()), self.store,
                             rules(), 65536)
            touched.add(state_key(tenant_id, member_id))
            outputs += result.outputs
        for out in outputs:
            if out.topic in TOPIC_TABLES:
                records.append(self._record(out.topic, out.topic, out.key.encode(),
                                            out.value.model_dump_json().encode()))
        records += [self._record("members-changelog", CHANGELOG, key, encode(self.store.records[key]))
                    for key in touched]
        with self.engine.begin() as conn:
            Projection(rules(), now=lambda: NOW).apply(conn, records)
        return outputs

    def _record(self, topic: str, physical: str, key: bytes, value: bytes) -> Record:
        self.offset += 1
        return Record(topic, physical, 0, self.offset, key, value, 1_700_000_000_000)
