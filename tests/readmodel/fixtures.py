"""Helpers of the read-model tests: a stream of real outputs and member states
(the demo stream through the engine, offline, with some events arriving late so
that corrections are among the outputs), as the Kafka records the projector reads."""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.corrections import effective
from engine.outcome import Emitted
from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.stream import generate
from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database, prepare
from memberflow.readmodel.projection import MEMBERS_CHANGELOG, SOURCES, Record
from memberflow.tools.replay import MemoryStore, replay
from tables.members import encode

START = datetime(2025, 3, 3, tzinfo=CST)
MEMBERS, DAYS, SEED = 60, 21, 5
LATE_EVERY, LATE_BY = 4, 150  # every 4th order reaches the engine 150 events after its place
CHANGELOG = f"memberflow-{MEMBERS_CHANGELOG}"


def rules() -> RuleBook:
    return RuleBook.load(SHIPPED_RULES_DIR)


def _lines() -> list[dict]:
    lines, held = [], deque()
    for i, (topic, key, value) in enumerate(generate(MEMBERS, SEED, START, days=DAYS)):
        line = {"topic": topic, "key": key, "value": value}
        if topic == "orders" and i % LATE_EVERY == 0:
            held.append((i + LATE_BY, line))
        else:
            lines.append(line)
        while held and held[0][0] <= i:
            lines.append(held.popleft()[1])
    lines += [line for _, line in held]
    return lines


@cache
def stream() -> tuple[tuple[Emitted, ...], tuple[Record, ...]]:
    """(the engine's outputs, in order; the records of the projector's topics: outputs, then changelog)."""
    store = MemoryStore()
    commands: deque[dict] = deque()

    def feed():  # the engine's own member commands go back in, as a worker would read them
        for line in _lines():
            while commands:
                yield commands.popleft()
            yield line
        while commands:
            yield commands.popleft()

    outputs: list[Emitted] = []
    for out in replay(feed(), rules(), store=store):
        outputs.append(out)
        if out.topic == "member-commands":
            commands.append({"topic": out.topic, "key": out.key, "value": json.loads(out.value.model_dump_json())})
    records: list[Record] = []
    offsets: dict[str, int] = {}
    for out in outputs:
        if out.topic in SOURCES:
            offset = offsets[out.topic] = offsets.get(out.topic, -1) + 1
            records.append(Record(out.topic, out.topic, 0, offset, out.key.encode(),
                                  out.value.model_dump_json().encode(), 1_700_000_000_000 + offset))
    for offset, (key, record) in enumerate(sorted(store.records.items())):
        records.append(changelog(offset, key, encode(record)))
    return tuple(outputs), tuple(records)


def changelog(offset: int, key: bytes, value: bytes | None) -> Record:
    return Record(MEMBERS_CHANGELOG, CHANGELOG, 0, offset, key, value, 1_700_000_000_000)


def in_force(topic: str) -> dict[str, object]:
    """Output id -> the output in force on ``topic`` after the whole stream."""
    outputs, _ = stream()
    return {key: out.value for key, out in effective(o for o in outputs if o.topic == topic).items()}


def dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every projection table's rows, sorted (a member row without when it was summarised)."""
    out = {}
    with engine.connect() as conn:
        for table in schema.PROJECTION:
            columns = [c for c in table.columns if c.name not in ("summarised_at", "page")]
            out[table.name] = sorted(tuple(map(str, row)) for row in conn.execute(sa.select(*columns)))
    return out


def empty_read_model(request: pytest.FixtureRequest, kind: str, sqlite_dir: Path) -> sa.Engine:
    """An empty, prepared read model: SQLite in ``sqlite_dir``, or the session's PostgreSQL emptied."""
    if kind == "sqlite":
        engine = open_database(f"sqlite:///{sqlite_dir / 'readmodel.sqlite'}")
    else:
        engine = open_database(request.getfixturevalue("postgres_url"))
        schema.metadata.drop_all(engine)
    prepare(engine)
    return engine
