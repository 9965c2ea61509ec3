"""The admin service in-process (FastAPI's test client) over a read model on SQLite and on
PostgreSQL (``postgres_url``, tests/conftest.py), filled once per database and module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from tests.admin.fixtures import LIMITS, KeptAudit, KeptCommands, KeptSteps, KeptVersions, fill, tokens
from tests.readmodel.fixtures import empty_read_model, rules


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = empty_read_model(request, request.param, tmp_path_factory.mktemp("admin"))
    fill(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def audit() -> KeptAudit:
    return KeptAudit()


@pytest.fixture(scope="module")
def published() -> KeptCommands:
    return KeptCommands()


@pytest.fixture(scope="module")
def rules_published() -> KeptVersions:
    return KeptVersions()


@pytest.fixture(scope="module")
def client(filled: sa.Engine, audit: KeptAudit, published: KeptCommands,
           rules_published: KeptVersions) -> Iterator[TestClient]:
    app = create_app(filled, audit, published, LIMITS, rules(), rules_published)
    app.state.plan_steps = KeptSteps()
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def token(filled: sa.Engine) -> dict[str, str]:
    return tokens(filled)
