"""Publishing member commands: the admin service never writes member state, it puts a command
on ``member-commands``, keyed by the member id and on the member's partition, and the members
agent applies it in order with the member's events (engine/operator_actions.py, engine/imports.py).

``publish`` sends one command and waits for the broker (an operator's request); ``send`` and
``wait`` send many and wait once (an import of a file)."""

from __future__ import annotations

from typing import Any, Protocol

from kafka import KafkaProducer

from agents.kafka.routing import partition_for
from models.commands import MemberCommandBase


class CommandPublisher(Protocol):
    def publish(self, command: MemberCommandBase) -> None:
        """Put ``command`` on ``member-commands``; return once the broker acknowledged it."""

    def send(self, command: MemberCommandBase) -> Any:
        """Put ``command`` on ``member-commands``; a handle ``wait`` takes."""

    def wait(self, sent: list[Any]) -> None:
        """Return once the broker acknowledged every command of ``sent``."""


class KafkaCommandPublisher:
    def __init__(self, bootstrap: str, topic: str, partitions: int, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                      request_timeout_ms=wait_ms, max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms)
        self.topic = topic
        self.partitions = partitions
        self.timeout_s = timeout_s

    def send(self, command: MemberCommandBase) -> Any:
        return self.producer.send(self.topic, key=command.member_id.encode(),
                                  value=command.model_dump_json().encode(),
                                  partition=partition_for(command.member_id, self.partitions))

    def wait(self, sent: list[Any]) -> None:
        self.producer.flush(self.timeout_s)
        for future in sent:
            future.get(timeout=self.timeout_s)  # raises if one was not acknowledged

    def publish(self, command: MemberCommandBase) -> None:
        self.wait([self.send(command)])

    def close(self) -> None:
        self.producer.close()
