"""The ``memberflow admin`` commands: serve the admin service; create the first token; ``memberflow import``."""

from __future__ import annotations

import getpass
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from kafka.errors import KafkaError

from config.rules import RuleBook
from config.settings import Settings
from config.topics import Topic
from memberflow.admin.app import create_app, openapi_document
from memberflow.admin.audit import AuditLog, KafkaAuditPublisher
from memberflow.admin.commands import KafkaCommandPublisher
from memberflow.admin.imports import ProgressBar, run_import
from memberflow.admin.operations import Limits
from memberflow.admin.plan_steps import KafkaPlanStepPublisher
from memberflow.admin.rules import KafkaRulesPublisher
from memberflow.admin.tokens import Principal, create_token
from memberflow.readmodel.database import open_database, prepare
from models.admin import AuditOutcome, AuditRecord, Role
from models.imports import format_of


def _publisher(settings: Settings) -> KafkaAuditPublisher:
    return KafkaAuditPublisher(settings.bootstrap, settings.topic(Topic.AUDIT), settings.producer_request_timeout_s)


def serve() -> int:
    settings = Settings.from_env()
    engine = open_database(settings.readmodel_url)
    prepare(engine)
    publisher = _publisher(settings)
    commands = KafkaCommandPublisher(settings.bootstrap, settings.topic(Topic.MEMBER_COMMANDS), settings.partitions,
                                     settings.producer_request_timeout_s)
    rules_publisher = KafkaRulesPublisher(settings.bootstrap, settings.topic(Topic.TENANT_RULES),
                                          settings.producer_request_timeout_s)
    plan_steps = KafkaPlanStepPublisher(settings.bootstrap, settings.topic(Topic.MEMBERSHIP_PLANS),
                                        settings.producer_request_timeout_s)
    print(f"admin service: http://{settings.web_host}:{settings.admin_port}/docs "
          f"(OpenAPI: /openapi.json)", flush=True)
    try:
        app = create_app(engine, publisher, commands, Limits.of(settings), RuleBook.from_path(settings.rules_dir),
                         rules_publisher)
        app.state.plan_steps = plan_steps
        uvicorn.run(app, host=settings.web_host, port=settings.admin_port, log_level=settings.log_level.lower())
    finally:
        plan_steps.close()
        commands.close()
        publisher.close()
        rules_publisher.close()
    return 0


class _Unpublished:
    """Records the publisher could not reach the broker with (they stay in the read model)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def publish(self, record: AuditRecord) -> None:
        try:
            publisher = _publisher(self.settings)
        except KafkaError as exc:
            print(f"warning: the audit record stays in the read model only; the broker is unreachable ({exc})",
                  file=sys.stderr)
            return
        try:
            publisher.publish(record)
        finally:
            publisher.close()


def token_create(tenant: str | None, role: str, name: str, reason: str) -> int:
    """Create a token straight in the read model (the first admin token); print it once."""
    settings = Settings.from_env()
    engine = open_database(settings.readmodel_url)
    prepare(engine)
    secret, info = create_token(engine, name, Role(role), None if tenant in (None, "*") else tenant)
    who = Principal("cli", getpass.getuser(), Role.ADMIN, None)
    AuditLog(engine, _Unpublished(settings)).record(who, info.tenant_id or "*", "token.create", info.token_id, reason,
                                                    f"cli-{uuid.uuid4().hex}", AuditOutcome.DONE,
                                                    {"name": name, "role": role})
    print(f"token {info.token_id} ({info.role}, tenant {info.tenant_id or 'every tenant'}); shown once, keep it:")
    print(secret)
    return 0


def import_file(path: Path, tenant_id: str, fmt: str | None) -> int:
    """``memberflow import FILE``: send each good row as an import command, report the bad ones by line;
    exit 1 when a row was bad.  The run is recorded on the ``audit`` topic."""
    settings = Settings.from_env()
    try:
        fmt = fmt or format_of(path.name)
        total = sum(1 for _ in path.open(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        print(f"memberflow import: {exc}", file=sys.stderr)
        return 2
    sink = KafkaCommandPublisher(settings.bootstrap, settings.topic(Topic.MEMBER_COMMANDS), settings.partitions,
                                 settings.producer_request_timeout_s)
    bar = ProgressBar(total)
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:  # a spreadsheet's byte order mark is dropped
            report = run_import(lines, fmt, tenant_id, datetime.now(UTC), sink, bar)
    finally:
        sink.close()
    bar(total, final=True)
    for row in report.bad:
        print(f"{path}:{row.line}: {row.reason}", file=sys.stderr)
    print(f"{report.rows} rows: {report.sent} sent as import commands, {report.bad_count} bad (nothing of them "
          f"sent)")
    who = Principal("cli", getpass.getuser(), Role.ADMIN, None)
    _Unpublished(settings).publish(AuditRecord(
        audit_id=f"au-{uuid.uuid4().hex[:24]}", tenant_id=tenant_id, at=datetime.now(UTC), actor=who.actor,
        role=Role.ADMIN, action="member.import", target=str(path), reason="memberflow import",
        request_id=f"cli-{uuid.uuid4().hex}", outcome=AuditOutcome.DONE,
        detail={"rows": report.rows, "sent": report.sent, "bad": report.bad_count}))
    return 1 if report.bad_count else 0


def write_openapi(out: Path, check: bool) -> int:
    """Write the OpenAPI document to ``out``; with ``check``, exit 1 when ``out`` differs."""
    text = openapi_document()
    if check:
        stale = not out.exists() or out.read_text(encoding="utf-8") != text
        if stale:
            print(f"stale: {out} (memberflow admin openapi)", file=sys.stderr)
        return 1 if stale else 0
    out.write_text(text, encoding="utf-8")
    print(out)
    return 0
