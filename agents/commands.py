"""The ``commands`` agent and the evaluation schedule.

An ``evaluate`` command fans out one evaluation slice per partition; the
leader issues it on each tenant's schedule in the rules in force
(``EvaluationSchedule``), so a schedule published at run time applies
without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import faust
from croniter import croniter
from pydantic import ValidationError

from agents.metrics import Metrics
from agents.records import Record, refused
from agents.rules_in_force import RulesInForce
from config.settings import Settings
from config.topics import Topic
from engine.evaluation import evaluation_id
from models.evaluation import EvaluateCommand, EvaluateSlice
from models.json_twins import output_json

log = logging.getLogger(__name__)

#: how often every worker looks at the schedule (a cron schedule's resolution is a minute)
TICK_SECONDS = 20.0


def slices_for(command: EvaluateCommand, partitions: int) -> list[EvaluateSlice]:
    eid = evaluation_id(command.tenant_id, command.as_of)
    return [
        EvaluateSlice(evaluation_id=eid, tenant_id=command.tenant_id, as_of=command.as_of, partition=p)
        for p in range(partitions)
    ]


class CommandHandler:
    """Turns each record of ``commands`` into its evaluation slices (or a dead letter)."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def send(self, topic: Topic, key: bytes, value: bytes, partition: int | None) -> None:
        fut = await self.app.producer.send(self.settings.topic(topic), key, value, partition, None, None)
        await fut

    async def handle(self, record: Record) -> None:
        try:
            command = EvaluateCommand.model_validate_json(record.value or b"")
        except ValidationError as exc:
            letter, reason = refused(record, exc)
            await self.send(Topic.DEAD_LETTERS, b"", output_json(letter.value), None)
            self.metrics.dead_letters.labels(reason.value).inc()
            return
        pieces = slices_for(command, self.settings.partitions)
        await asyncio.gather(*(
            self.send(Topic.EVALUATION_SLICES, f"slice-{p.partition}".encode(), p.model_dump_json().encode(),
                      p.partition)
            for p in pieces
        ))
        log.info("evaluation %s as of %s: %d slices", pieces[0].evaluation_id, command.as_of, len(pieces))

    async def issue_evaluation(self, tenant_id: str | None, as_of: datetime) -> None:
        """The schedule's command: evaluate as of ``as_of`` (the scheduled minute, in the tenant's zone)."""
        command = EvaluateCommand(type="evaluate", tenant_id=tenant_id, as_of=as_of)
        await self.send(Topic.COMMANDS, (tenant_id or "*").encode(), command.model_dump_json().encode(), None)


class EvaluationSchedule:
    """When each periodic evaluation is due, read from the rules in force at every look: a tenant's
    own ``evaluation.schedule`` (in its zone) for each tenant with rules of its own -- from a file, or
    published at run time -- and the default rules' for every other tenant.

    Every worker looks every ``TICK_SECONDS``; the leader issues the command of each schedule whose
    latest moment is after its previous look (a moment missed while no worker looked is issued once,
    late).  Repeating an evaluation grants nothing twice, so a change of leader between two looks is harmless.
    """

    def __init__(self, rules: RulesInForce, handler: CommandHandler, is_leader: Callable[[], bool],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.rules = rules
        self.handler = handler
        self.is_leader = is_leader
        self.now = now
        self.since = now()

    def due(self) -> list[tuple[str | None, datetime]]:
        """(tenant selector, scheduled moment) of every evaluation due since the previous look."""
        now, since = self.now(), self.since
        self.since = now
        book = self.rules.book
        out = []
        for tenant_id, rules in [(None, book.default), *book.tenants.items()]:
            local = now.astimezone(rules.tz).replace(microsecond=0) + timedelta(seconds=1)
            moment = croniter(rules.evaluation.schedule, local).get_prev(datetime)
            if moment > since:
                out.append((tenant_id, moment))
        return out

    async def tick(self) -> None:
        due = self.due()
        if not self.is_leader():
            return
        for tenant_id, as_of in due:
            log.info("evaluation of %s due as of %s", tenant_id or "the default-rules tenants", as_of)
            await self.handler.issue_evaluation(tenant_id, as_of)


def register(app: faust.App, topic: faust.TopicT, handler: CommandHandler,
             rules: RulesInForce) -> tuple[faust.types.AgentT, EvaluationSchedule]:
    """The commands agent over ``topic``, and the evaluation schedule every worker looks at (the leader issues)."""

    @app.agent(topic, name="commands")
    async def commands(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await handler.handle(Record(Topic.COMMANDS, event.value, event.key, message.partition, message.offset))

    schedule = EvaluationSchedule(rules, handler, lambda: app.is_leader())
    app.timer(TICK_SECONDS, name="evaluation-schedule")(schedule.tick)
    return commands, schedule
