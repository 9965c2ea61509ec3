"""Fixtures of the agent tests: rules and the member harness of the engine tests."""

from __future__ import annotations

from typing import Any

import pytest

from config.rules import TenantRules
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
