"""The ``commands`` agent and the evaluation schedule.

An ``evaluate`` command fans out one evaluation slice per partition; the
crontab that issues it runs on the leader only, once per tenant schedule.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from pydantic import ValidationError

from config.rules import TenantRules
from engine.evaluation import evaluation_id
from engine.records import Record, dead_letter
from models.evaluation import EvaluateCommand, EvaluateSlice
from models.outputs import DeadLetterReason
from streams import EVALUATION_TOPIC, Topology

log = logging.getLogger(__name__)


def slices_for(command: EvaluateCommand, partitions: int) -> list[EvaluateSlice]:
    eid = evaluation_id(command.tenant_id, command.as_of)
    return [
        EvaluateSlice(evaluation_id=eid, tenant_id=command.tenant_id, as_of=command.as_of, partition=p)
        for p in range(partitions)
    ]


def register(topology: Topology) -> None:
    app, settings = topology.app, topology.settings
    commands_topic = app.topic(settings.topic("commands"), key_type=bytes, value_type=bytes,
                               key_serializer="raw", value_serializer="raw")

    async def send(topic: str, key: bytes, value: bytes, partition: int | None) -> None:
        fut = await app.producer.send(settings.topic(topic), key, value, partition, None, None)
        await fut

    @app.agent(commands_topic, name="commands")
    async def commands(stream):  # noqa: ANN001
        async for event in stream.events():
            try:
                command = EvaluateCommand.model_validate_json(event.value or b"")
            except ValidationError as exc:
                record = Record("commands", event.value, event.key, event.message.partition, event.message.offset)
                letter = dead_letter(record, DeadLetterReason.INVALID_EVENT, str(exc.errors()[0]["msg"]))
                await send("dead-letters", b"", letter.value.model_dump_json().encode(), None)
                topology.metrics.dead_letters.labels(DeadLetterReason.INVALID_EVENT.value).inc()
                continue
            pieces = slices_for(command, settings.partitions)
            await asyncio.gather(*(
                send(EVALUATION_TOPIC, f"slice-{p.partition}".encode(), p.model_dump_json().encode(), p.partition)
                for p in pieces
            ))
            log.info("evaluation %s as of %s: %d slices", pieces[0].evaluation_id, command.as_of, len(pieces))

    for tenant_id, rules in [(None, topology.rulebook.default), *topology.rulebook.tenants.items()]:
        _schedule(topology, tenant_id, rules, send)


def _schedule(topology: Topology, tenant_id: str | None, rules: TenantRules, send) -> None:  # noqa: ANN001
    async def issue() -> None:
        as_of = datetime.now(rules.tz).replace(second=0, microsecond=0)
        command = EvaluateCommand(type="evaluate", tenant_id=tenant_id, as_of=as_of)
        await send("commands", (tenant_id or "*").encode(), command.model_dump_json().encode(), None)

    topology.app.crontab(rules.evaluation.schedule, timezone=rules.tz, on_leader=True)(issue)
