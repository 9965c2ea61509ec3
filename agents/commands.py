"""The ``commands`` agent and the evaluation schedule.

An ``evaluate`` command fans out one evaluation slice per partition; the
crontab that issues it runs on the leader only, once per tenant schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import faust
from pydantic import ValidationError

from agents.metrics import Metrics
from agents.records import Record, dead_letter
from config.rules import RuleBook, TenantRules
from config.settings import Settings
from config.topics import Topic
from engine.evaluation import evaluation_id
from models.evaluation import EvaluateCommand, EvaluateSlice
from models.outputs import DeadLetterReason

log = logging.getLogger(__name__)


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
            letter = dead_letter(record, DeadLetterReason.INVALID_EVENT, str(exc.errors()[0]["msg"]))
            await self.send(Topic.DEAD_LETTERS, b"", letter.value.model_dump_json().encode(), None)
            self.metrics.dead_letters.labels(DeadLetterReason.INVALID_EVENT.value).inc()
            return
        pieces = slices_for(command, self.settings.partitions)
        await asyncio.gather(*(
            self.send(Topic.EVALUATION_SLICES, f"slice-{p.partition}".encode(), p.model_dump_json().encode(),
                      p.partition)
            for p in pieces
        ))
        log.info("evaluation %s as of %s: %d slices", pieces[0].evaluation_id, command.as_of, len(pieces))

    async def issue_evaluation(self, tenant_id: str | None, rules: TenantRules) -> None:
        """The schedule's command: evaluate as of now (this minute, in the tenant's zone)."""
        as_of = datetime.now(rules.tz).replace(second=0, microsecond=0)
        command = EvaluateCommand(type="evaluate", tenant_id=tenant_id, as_of=as_of)
        await self.send(Topic.COMMANDS, (tenant_id or "*").encode(), command.model_dump_json().encode(), None)


def register(app: faust.App, topic: faust.TopicT, handler: CommandHandler, book: RuleBook) -> faust.types.AgentT:
    """The commands agent over ``topic``, and one leader-only crontab per tenant schedule in ``book``."""

    @app.agent(topic, name="commands")
    async def commands(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await handler.handle(Record(Topic.COMMANDS, event.value, event.key, message.partition, message.offset))

    for tenant_id, rules in [(None, book.default), *book.tenants.items()]:
        app.crontab(rules.evaluation.schedule, timezone=rules.tz, on_leader=True)(
            _issuer(handler, tenant_id, rules))
    return commands


def _issuer(handler: CommandHandler, tenant_id: str | None, rules: TenantRules) -> Callable[[], Awaitable[None]]:
    async def issue() -> None:
        await handler.issue_evaluation(tenant_id, rules)

    return issue
