"""The read model's tests run on both databases: SQLite in a temporary file, and a real
PostgreSQL started for the session on loopback (``postgres_url``, tests/conftest.py),
emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.database import open_database, prepare


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty read model, prepared, on each database."""
    if request.param == "sqlite":
        engine = open_database(f"sqlite:///{tmp_path / 'run' / 'readmodel.sqlite'}")
    else:
        engine = open_database(request.getfixturevalue("postgres_url"))
        schema.metadata.drop_all(engine)
    prepare(engine)
    yield engine
    engine.dispose()
