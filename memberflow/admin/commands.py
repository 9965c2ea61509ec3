"""Publishing operators' commands: the admin service never writes member state, it puts a
command on ``member-commands``, keyed by the member id and on the member's partition, and the
members agent applies it in order with the member's events (engine/operator_actions.py)."""

from __future__ import annotations

from typing import Protocol

from kafka import KafkaProducer

from agents.kafka.routing import partition_for
from models.commands import OperatorCommandBase


class CommandPublisher(Protocol):
    def publish(self, command: OperatorCommandBase) -> None:
        """Put ``command`` on ``member-commands``; return once the broker acknowledged it."""


class KafkaCommandPublisher:
    def __init__(self, bootstrap: str, topic: str, partitions: int, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=wait_ms,
                                      max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms)
        self.topic = topic
        self.partitions = partitions
        self.timeout_s = timeout_s

    def publish(self, command: OperatorCommandBase) -> None:
        future = self.producer.send(self.topic, key=command.member_id.encode(),
                                    value=command.model_dump_json().encode(),
                                    partition=partition_for(command.member_id, self.partitions))
        future.get(timeout=self.timeout_s)

    def close(self) -> None:
        self.producer.close()
