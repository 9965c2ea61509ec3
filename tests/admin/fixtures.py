"""Helpers of the admin service's tests: an audit publisher that keeps what it was given,
tokens of every role, and the read model filled with the projected test stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from memberflow.admin.tokens import create_token
from memberflow.readmodel.projection import Projection
from models.admin import AuditRecord, Role
from tests.readmodel.fixtures import rules, stream

TENANT, FOREIGN = "default", "acme"
NOW = datetime(2025, 3, 24, tzinfo=UTC)


@dataclass
class KeptAudit:
    records: list[AuditRecord] = field(default_factory=list)

    def publish(self, record: AuditRecord) -> None:
        self.records.append(record)


@dataclass
class KeptCommands:
    """A command sink that keeps what it was sent (the admin service's imports)."""

    commands: list = field(default_factory=list)

    def send(self, command) -> int:
        self.commands.append(command)
        return len(self.commands)

    def wait(self, sent: list) -> None:
        assert all(1 <= n <= len(self.commands) for n in sent)


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
