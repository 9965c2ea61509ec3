"""Merchants' membership plans on every worker (seed 002), read like the business lines.

Each worker runs its own consumer of ``membership-plans`` -- no consumer group,
every partition, from the beginning -- and folds the steps into
:class:`engine.plans.PlanFacts` (order and repetition do not matter), which
``RulesInForce`` carries in the rules the next batch applies events with.  The
app's first start waits until the topic is read to its end as of start-up
(``agents.whole_topic``; ``streams.MemberflowApp.on_first_start``), so a worker
never sells with older plans than those in force when it started.

A step is keyed ``tenant/merchant``, and a step only refers to its own
merchant's definitions, so all it refers to precedes it in its partition:
whether it refers to something missing is decided in partition order, the same
on every worker.  The follower remembers that reason per (partition, offset);
the checker -- a Faust agent in the consumer group, so one worker handles each
record -- dead-letters invalid steps at once and steps that refer to something
missing once its own worker's follower has read past them.  Such a step is kept
in the fold and applies when what it refers to arrives.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from agents.checked_topic import report
from agents.metrics import Metrics
from agents.records import Record, dead_letter
from agents.rules_in_force import RulesInForce
from agents.whole_topic import WholeTopicReader
from config.settings import Settings
from config.topics import Topic
from engine.plans import EMPTY, PlanFacts, fold, missing, parse_step
from models.outputs import DeadLetterReason

log = logging.getLogger(__name__)

#: how often the checker looks whether its worker's reader has read a record it was handed, and when it says it waits
POLL_SECONDS = 0.05
SLOW_SECONDS = 30.0


class PlanFollower(WholeTopicReader):
    """This worker's reader of the whole ``membership-plans`` topic."""

    topic = Topic.MEMBERSHIP_PLANS

    def __init__(self, settings: Settings, rules: RulesInForce) -> None:
        super().__init__(settings, rules)
        self.facts: PlanFacts = EMPTY
        #: (partition, offset) -> why the step there was not applicable when read (invalid or missing a reference)
        self.problems: dict[tuple[int, int], tuple[DeadLetterReason, str]] = {}

    def apply(self, raw: bytes | None) -> None:
        raise TypeError("a membership plan step is applied with its partition and offset (apply_at)")

    def apply_at(self, raw: bytes | None, partition: int, offset: int) -> None:
        step = parse_step(raw, self.settings.max_payload_bytes)
        if isinstance(step, str):
            self.problems[(partition, offset)] = (DeadLetterReason.INVALID_DEFINITION, step)
            log.warning("invalid membership plan step at %d/%d: %s", partition, offset, step)
            return
        absent = missing(self.facts, step)
        if absent is not None:
            self.problems[(partition, offset)] = (DeadLetterReason.MISSING_REFERENCE, absent)
            log.warning("membership plan step at %d/%d kept until it applies: %s", partition, offset, absent)
        facts = fold(self.facts, step)
        if facts is not self.facts:
            self.facts = facts
            self.rules.set_plans(facts)

    def describe(self) -> str:
        return f"{len(self.facts.definitions)} definitions, {len(self.facts.statuses)} lifecycle statuses"

    async def problem_of(self, partition: int, offset: int) -> tuple[DeadLetterReason, str] | None:
        """Why the step at ``offset`` was not applicable, once this follower has read it (it reads the
        same topic on the same worker, so it gets there; a warning says when it is slow)."""
        waited = 0.0
        while self.positions.get(partition, 0) <= offset:
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            if waited >= SLOW_SECONDS:
                log.warning("the membership-plans reader is %.0f s behind the checker at %d/%d", waited, partition,
                            offset)
                waited = 0.0
        return self.problems.get((partition, offset))


class PlanChecker:
    """Dead-letters the steps its worker's follower could not apply, one worker per partition
    (at-least-once: a redelivery repeats the same ``dead_letter_id``)."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics, follower: PlanFollower) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.follower = follower

    async def check(self, record: Record) -> None:
        assert record.partition is not None and record.offset is not None
        problem = await self.follower.problem_of(record.partition, record.offset)
        letter = dead_letter(record, *problem) if problem is not None else None
        await report(self.app, self.settings, self.metrics, Topic.MEMBERSHIP_PLANS, letter)


def register(app: faust.App, topic: faust.TopicT, checker: PlanChecker) -> faust.types.AgentT:
    @app.agent(topic, name="membership-plan-steps")
    async def steps(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await checker.check(Record(Topic.MEMBERSHIP_PLANS, event.value, event.key, message.partition,
                                       message.offset))

    return steps
