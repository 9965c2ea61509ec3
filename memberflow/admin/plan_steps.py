"""Publishing merchants' membership-plan steps for the admin service: keyed ``tenant/merchant`` on
``membership-plans``, which every worker reads whole (agents/membership_plans.py)."""

from __future__ import annotations

from typing import Any, Protocol

from kafka import KafkaProducer


class PlanStepPublisher(Protocol):
    def publish(self, key: str, step: Any) -> None:
        """Put ``step`` on ``membership-plans``; return once the broker acknowledged it."""


def step_key(tenant_id: str, merchant_id: str) -> str:
    return f"{tenant_id}/{merchant_id}"


class KafkaPlanStepPublisher:
    def __init__(self, bootstrap: str, topic: str, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=wait_ms,
                                      max_block_ms=wait_ms)
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, key: str, step: Any) -> None:
        future = self.producer.send(self.topic, key=key.encode(), value=step.model_dump_json().encode())
        future.get(timeout=self.timeout_s)

    def close(self) -> None:
        self.producer.close()
