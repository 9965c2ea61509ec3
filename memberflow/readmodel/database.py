"""Opening the read model's database and keeping its schema at the projection's version.

``MEMBERFLOW_READMODEL_URL`` is a SQLAlchemy URL: ``postgresql+psycopg://…``
in production, ``sqlite:///run/readmodel.sqlite`` (the default) embedded.
``prepare`` creates what is missing; when the stored projection version is
not the code's, it drops the projection tables (and the positions with them)
so the projector replays the topics from the start.  Service tables (API
tokens) are never dropped.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from pydantic_core import to_json

from memberflow.readmodel import schema

VERSION_KEY = "projection_version"


def _json_text(value: object) -> str:
    """JSON columns' text: pydantic's serializer, several times the standard library's speed (the projector
    writes a member's whole page per changelog record)."""
    return to_json(value).decode()


def open_database(url: str) -> sa.Engine:
    """An engine for ``url``; a SQLite file's directory is created, and SQLite waits for a writer
    instead of failing (the projector and the admin service share the file)."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_text)

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record) -> None:  # readers do not block the projector's writes
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_text)


def stored_version(engine: sa.Engine) -> int | None:
    if not sa.inspect(engine).has_table(schema.readmodel_meta.name):
        return None
    with engine.connect() as conn:
        value = conn.scalar(sa.select(schema.readmodel_meta.c.value).where(schema.readmodel_meta.c.key == VERSION_KEY))
    return int(value) if value is not None else None


def prepare(engine: sa.Engine, fresh: bool = False) -> bool:
    """Bring the schema to ``PROJECTION_VERSION``; with ``fresh``, or on another version, drop the
    projection first.  True when the projection starts empty (the topics must be replayed)."""
    rebuild = fresh or stored_version(engine) != schema.PROJECTION_VERSION
    with engine.begin() as conn:
        if rebuild:
            schema.metadata.drop_all(conn, tables=list(schema.PROJECTION))
        schema.metadata.create_all(conn)
        if rebuild:
            conn.execute(sa.insert(schema.readmodel_meta).values(key=VERSION_KEY, value=str(schema.PROJECTION_VERSION)))
    return rebuild


def positions(engine: sa.Engine) -> dict[tuple[str, int], int]:
    """(physical topic, partition) -> the next offset to read."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.positions)).all()
    return {(r.topic, r.partition): r.next_offset for r in rows}
