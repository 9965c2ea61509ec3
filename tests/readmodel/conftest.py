"""The read model's tests run on both databases: SQLite in a temporary file, and a real
PostgreSQL started for the session on loopback (``postgres_url``, tests/conftest.py),
emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.readmodel.fixtures import empty_read_model


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty read model, prepared, on each database."""
    engine = empty_read_model(request, request.param, tmp_path / "run")
    yield engine
    engine.dispose()
