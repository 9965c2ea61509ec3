"""The consumer: a static member still leaves when it stops cleanly; a fetch reads everything buffered."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.protocol.group import LeaveGroupRequest
from faust.transport.drivers import aiokafka as driver

from agents.kafka.consumer import ConsumerThread, _leave_group


class Coordinator:
    def __init__(self, member_id: str) -> None:
        self.group_id, self.member_id, self.generation = "memberflow", member_id, 0
        self.sent: list[Any] = []

    async def _send_req(self, request: Any) -> None:
        self.sent.append(request)

    def reset_generation(self) -> None:
        self.member_id, self.generation = "", -1


def test_a_static_member_that_stops_leaves_the_group_whatever_its_generation() -> None:
    coordinator = Coordinator("memberflow@http://127.0.0.1:6066-1")
    asyncio.run(_leave_group(coordinator))
    [request] = coordinator.sent
    assert isinstance(request, LeaveGroupRequest)
    assert (request._group, request._member_id) == ("memberflow", "memberflow@http://127.0.0.1:6066-1")
    assert coordinator.member_id == ""


def test_a_member_that_never_joined_sends_nothing() -> None:
    coordinator = Coordinator("")
    asyncio.run(_leave_group(coordinator))
    assert coordinator.sent == []


def test_the_worker_reads_every_buffered_partition_not_the_first_max_poll_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Capped, aiokafka hands out the partitions buffered first: a quiet topic's record waited
    behind a busy topic's backlog while reading in step held every partition back for it."""
    made = SimpleNamespace(_max_poll_records=500, _fetch_max_wait_ms=1500)
    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "_create_worker_consumer", lambda self, transport: made)
    thread = ConsumerThread.__new__(ConsumerThread)  # not started: only its app's setting is read
    thread.app = SimpleNamespace(fetch_max_wait_ms=20)
    consumer = thread._create_worker_consumer(None)
    assert consumer is made
    assert (consumer._max_poll_records, consumer._fetch_max_wait_ms) == (None, 20)
