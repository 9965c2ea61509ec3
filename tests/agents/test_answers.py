"""The redemption API's waiters (agents.answers): each HTTP request waits for
its answer, or its dead letter, from the batch that processed it."""

from __future__ import annotations

import asyncio

from agents.answers import RedemptionAnswers
from engine.outcome import Emitted
from models.outputs import DeadLetter, DeadLetterReason
from tests.engine.redemption_fixtures import request, result_of

AT = "2026-03-01T10:00:00+08:00"


def test_waiters_resolve_on_the_answer_or_a_dead_letter(base_rules, member):
    m = member(base_rules)
    answer = result_of(m.apply(request("coupon", "r1", AT, denomination="10")))
    letter = DeadLetter(dead_letter_id="dl", source_topic="redemptions", partition=0, offset=1, key="m1",
                        payload="{}", reason=DeadLetterReason.INVALID_EVENT, detail="x", tenant_id="default",
                        member_id="m1", cause_event_id="r2")

    async def scenario():
        waiters = RedemptionAnswers()
        first, same, other = waiters.wait("default", "r1"), waiters.wait("default", "r1"), waiters.wait("default", "r2")
        elsewhere = waiters.wait("t2", "r1")
        waiters.resolve([Emitted("redemption-results", "m1", answer), Emitted("dead-letters", "m1", letter)])
        assert first.result() is answer and same.result() is answer and other.result() is letter
        assert not elsewhere.done()
        waiters.forget("t2", "r1", elsewhere)
        assert waiters.pending == {}

    asyncio.run(scenario())
