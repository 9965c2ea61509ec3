"""Helpers of the admin service's tests: audit, command and rules publishers that keep what they are given,
tokens of every role, and the read model filled with the projected test stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from config.rules_versions import RulesVersion
from memberflow.admin.app import create_app
from memberflow.admin.operations import Limits
from memberflow.admin.tokens import create_token
from memberflow.readmodel.projection import Projection
from models.admin import AuditRecord, Role
from models.commands import MemberCommandBase
from tests.readmodel.fixtures import rules, stream

TENANT, FOREIGN = "default", "acme"
NOW = datetime(2025, 3, 24, tzinfo=UTC)


@dataclass
class KeptVersions:
    """A rules publisher that keeps what it was given (the versions a topic would carry)."""

    versions: list[RulesVersion] = field(default_factory=list)

    def publish(self, version: RulesVersion) -> None:
        self.versions.append(version)


@dataclass
class KeptAudit:
    records: list[AuditRecord] = field(default_factory=list)

    def publish(self, record: AuditRecord) -> None:
        self.records.append(record)


@dataclass
class KeptCommands:
    """The admin service's command publisher in tests: keeps what it was given."""

    commands: list[MemberCommandBase] = field(default_factory=list)

    def publish(self, command: MemberCommandBase) -> None:
        self.commands.append(command)

    def send(self, command: MemberCommandBase) -> int:
        self.commands.append(command)
        return len(self.commands)

    def wait(self, sent: list) -> None:
        assert all(1 <= n <= len(self.commands) for n in sent)


@dataclass
class KeptSteps:
    """The admin service's membership-plan step publisher in tests: keeps (key, step) as given."""

    steps: list[tuple[str, Any]] = field(default_factory=list)

    def publish(self, key: str, step: Any) -> None:
        self.steps.append((key, step))


#: the limits the admin tests run with: 100 points an adjustment, 250 an operator's day
LIMITS = Limits(per_adjustment=100, per_operator_day=250)


def admin_app(engine: sa.Engine, audit: KeptAudit | None, versions: KeptVersions | None = None) -> FastAPI:
    """The admin service with publishers that keep what they are given, ``LIMITS`` and the shipped rules."""
    return create_app(engine, audit, KeptCommands(), LIMITS, rules(),
                      versions if versions is not None else KeptVersions())


def fill(engine: sa.Engine) -> None:
    _, records = stream()
    with engine.begin() as conn:
        Projection(rules(), now=lambda: NOW).apply(conn, records)


def tokens(engine: sa.Engine) -> dict[str, str]:
    """Name -> token: one per role for the tenant, a platform admin, and a foreign tenant's admin."""
    made = {role.value: create_token(engine, f"t-{role.value}", role, TENANT)[0] for role in Role}
    made["platform"] = create_token(engine, "platform", Role.ADMIN, None)[0]
    made["foreign"] = create_token(engine, "foreign", Role.ADMIN, FOREIGN)[0]
    return made


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
