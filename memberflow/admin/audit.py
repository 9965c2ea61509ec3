"""The audit trail: every write through the admin service, recorded before it is answered.

``AuditLog.record`` writes the record to the read model's ``audit`` table at
once (the operator sees it in the next read) and publishes it on the ``audit``
topic (``AuditPublisher``), which the projector reads into the same row: its
id is derived from the token, the action and the request id, so both paths and
any redelivery leave one row.  An audit row is only ever inserted: nothing
updates or deletes it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from kafka import KafkaProducer

from memberflow.admin.tokens import Principal
from memberflow.readmodel import schema
from memberflow.readmodel.projection import audit_row, insert_new
from models.admin import AuditOutcome, AuditRecord


class AuditPublisher(Protocol):
    def publish(self, record: AuditRecord) -> None:
        """Put ``record`` on the audit topic; return once the broker acknowledged it."""


class KafkaAuditPublisher:
    """Publishes audit records to the ``audit`` topic, keyed by tenant."""

    def __init__(self, bootstrap: str, topic: str, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=wait_ms,
                                      max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms)
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, record: AuditRecord) -> None:
        future = self.producer.send(self.topic, key=record.tenant_id.encode(), value=record.model_dump_json().encode())
        future.get(timeout=self.timeout_s)

    def close(self) -> None:
        self.producer.close()


class AuditLog:
    def __init__(self, engine: sa.Engine, publisher: AuditPublisher) -> None:
        self.engine = engine
        self.publisher = publisher

    def record(self, who: Principal, tenant_id: str, action: str, target: str | None, reason: str, request_id: str,
               outcome: AuditOutcome, detail: dict[str, Any] | None = None) -> AuditRecord:
        digest = hashlib.blake2b(f"{who.token_id}\x1f{action}\x1f{request_id}".encode(), digest_size=12).hexdigest()
        record = AuditRecord(audit_id=f"au-{digest}", tenant_id=tenant_id, at=datetime.now(UTC), actor=who.actor,
                             role=who.role, action=action, target=target, reason=reason, request_id=request_id,
                             outcome=outcome, detail=detail or {})
        self.publisher.publish(record)
        with self.engine.begin() as conn:
            insert_new(conn, schema.audit, [audit_row(record)])
        return record

    def find(self, who: Principal, action: str, request_id: str) -> sa.Row | None:
        """The record of an earlier request with this id from this token (a retry gets the first answer)."""
        digest = hashlib.blake2b(f"{who.token_id}\x1f{action}\x1f{request_id}".encode(), digest_size=12).hexdigest()
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema.audit).where(schema.audit.c.audit_id == f"au-{digest}")).first()
