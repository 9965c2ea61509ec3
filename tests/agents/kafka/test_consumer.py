"""The consumer's group membership: a static member still leaves when it stops cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.protocol.group import LeaveGroupRequest

from agents.kafka.consumer import _leave_group


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
