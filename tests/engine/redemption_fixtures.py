"""Helpers for the redemption tests (tests/unit/test_redemptions*.py).

``request(kind, request_id, at, member=..., **fields)`` builds a validated
redemption request; :class:`Hub` holds several members and delivers the
``member-commands`` they send each other, as the members agent would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from config.topics import Topic
from engine.outcome import Emitted, Outcome
from models.journal import MemberRecord
from models.redemptions import RedemptionRequest, RedemptionResult
from tables.members import decode, encode
from tests.engine.fixtures import Member

REQUESTS: TypeAdapter = TypeAdapter(RedemptionRequest)


def request(kind: str, request_id: str, at: str | datetime, *, member: str = "m1", tenant: str = "default",
            **fields: Any) -> Any:
    return REQUESTS.validate_python(
        {"kind": kind, "request_id": request_id, "member_id": member, "tenant_id": tenant,
         "occurred_at": at, **fields}
    )


def result_of(outcome: Outcome) -> RedemptionResult:
    results = [o.value for o in outcome.outputs if o.topic == Topic.REDEMPTION_RESULTS]
    assert len(results) == 1, outcome.outputs
    return results[0]


def commands(outcome_or_outputs: Outcome | list[Emitted]) -> list[Any]:
    outputs = outcome_or_outputs.outputs if isinstance(outcome_or_outputs, Outcome) else outcome_or_outputs
    return [o.value for o in outputs if o.topic == Topic.MEMBER_COMMANDS]


class Hub:
    """Members that send each other member commands; ``deliver`` applies them."""

    def __init__(self, rules: Any, *member_ids: str, stored: bool = False) -> None:
        self.members = {m: Member(rules, m) for m in member_ids}
        self.stored = stored  # keep state as the members table does: JSON between events
        self.outbox: list[Any] = []
        self.delivered: list[tuple[Any, Outcome]] = []

    def __getitem__(self, member_id: str) -> Member:
        return self.members[member_id]

    def apply(self, member_id: str, event: Any) -> Outcome:
        member = self.members[member_id]
        if self.stored and member.state is not None:
            member.state = decode(encode(MemberRecord(member.state)))
        outcome = member.apply(event)
        self.outbox += commands(outcome)
        return outcome

    def ask(self, kind: str, request_id: str, at: str, member: str, **fields: Any) -> RedemptionResult:
        return result_of(self.apply(member, request(kind, request_id, at, member=member, **fields)))

    def deliver(self, *, twice: bool = False) -> list[Outcome]:
        """Apply every pending command to its target (and again with ``twice``), until none are left."""
        outcomes = []
        while self.outbox:
            command = self.outbox.pop(0)
            for _ in range(2 if twice else 1):
                outcome = self.apply(command.member_id, command)
                self.delivered.append((command, outcome))
                outcomes.append(outcome)
        return outcomes
