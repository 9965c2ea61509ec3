"""Fixtures of the engine tests: the helpers of ``tests/engine/fixtures.py``, session-scoped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from config.rules import RuleBook, TenantRules
from config.settings import SHIPPED_RULES_DIR
from tests.engine.fixtures import (
    Member,
    complaint,
    item,
    login,
    make_rules,
    paid,
    profile,
    refunded,
    review,
    values,
    when,
)


@pytest.fixture(scope="session", name="make_rules")
def _make_rules() -> Any:
    return make_rules


@pytest.fixture(scope="session")
def base_rules() -> TenantRules:
    return make_rules()


@pytest.fixture(scope="session")
def shipped_rules() -> TenantRules:
    return RuleBook.load(SHIPPED_RULES_DIR).default


@pytest.fixture(scope="session")
def ev() -> SimpleNamespace:
    return SimpleNamespace(
        paid=paid,
        refunded=refunded,
        review=review,
        login=login,
        complaint=complaint,
        profile=profile,
        item=item,
        when=when,
        values=values,
    )


@pytest.fixture(scope="session")
def member() -> type[Member]:
    return Member
