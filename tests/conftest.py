"""Fixtures shared by several test folders: a real PostgreSQL for the session, started on
loopback from Debian's postgresql package only when a test asks for it, and stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memberflow.dev.postgres import local_postgres


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with local_postgres() as url:
        yield url
