"""Fixtures of the agent tests: the rules and member harness of the engine tests,
and a worker for Faust's test utilities (helpers in ``tests/agents/fixtures.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from config.rules import TenantRules
from streams import Worker
from tests.agents.fixtures import build_worker
from tests.engine.fixtures import Member, make_rules


@pytest.fixture(scope="session", name="make_rules")
def _make_rules() -> Any:
    return make_rules


@pytest.fixture(scope="session")
def base_rules() -> TenantRules:
    return make_rules()


@pytest.fixture(scope="session")
def member() -> type[Member]:
    return Member


@pytest.fixture
def worker(tmp_path) -> Worker:
    """A one-partition worker on the memory store, its definitions taken as read."""
    return build_worker(tmp_path)
