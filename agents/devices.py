"""The device agent: the second kind of actor, one state per (tenant, device).

It reads ``device-activity`` -- the members agent's reports of registrations
and logins, re-keyed by ``tenant/device`` so every report of one device lands
on one partition whatever partition its member is on -- applies each with the
pure ``engine.devices.apply_activity``, sends the outputs (verdict commands to
the members on ``member-commands``, ``risk-flags``) and waits for the broker's
acknowledgements, and only then writes the device's state.  A report it cannot
read is dead-lettered.  The member agent stays the one writer of member state:
the device agent only sends it commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import faust
from pydantic import ValidationError

from agents.metrics import Metrics
from agents.records import Record, dead_letter, refused
from agents.rules_in_force import RulesInForce
from config.rules import RuleBook
from config.settings import Settings
from config.topics import Topic
from engine.devices import apply_activity
from engine.outcome import Emitted
from models.devices import DeviceActivity, DeviceState, device_key
from models.json_twins import output_json
from models.outputs import DeadLetterReason
from tables import devices as devices_table

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Judged:
    """A report's outcome: what to send, then the device state to store (None: nothing to store)."""

    outputs: list[Emitted]
    key: bytes | None = None
    state: DeviceState | None = None
    reason: DeadLetterReason | None = None


def judge(record: Record, load: Callable[[bytes], DeviceState | None], book: RuleBook,
          activity: DeviceActivity | None = None) -> Judged:
    """One ``device-activity`` record through the device rules, or its dead letter (shared with the
    offline replay, which passes the report it made itself as ``activity``: what parsing the record
    gives).  ``load`` gives the device's stored state (a copy the rules may change)."""
    if activity is None:
        try:
            activity = DeviceActivity.model_validate_json(record.value or b"")
        except ValidationError as exc:
            letter, reason = refused(record, exc)
            return Judged([letter], reason=reason)
    key = device_key(activity.tenant_id, activity.device_id).encode()
    try:
        state, outputs = apply_activity(load(key), activity, book.for_tenant(activity.tenant_id))
    except Exception:
        log.exception("device rules failed on %s", activity.activity_id)
        reason = DeadLetterReason.PROCESSING_ERROR
        return Judged([dead_letter(record, reason, "the device rules failed on this report")], reason=reason)
    return Judged(outputs, key, state)


class DeviceHandler:
    """Sends a report's outputs, waits for the broker, then stores the device's state."""

    def __init__(self, app: faust.App, settings: Settings, rules: RulesInForce, devices: faust.Table,
                 metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.rules = rules
        self.devices = devices
        self.metrics = metrics

    def load(self, key: bytes) -> DeviceState | None:
        raw = self.devices.get(key)
        return None if raw is None else devices_table.decode(raw)

    async def send(self, outputs: list[Emitted]) -> None:
        producer = self.app.producer
        sent = [await producer.send(self.settings.topic(out.topic), out.key.encode(),
                                    output_json(out.value), out.partition, None, None)
                for out in outputs]
        await asyncio.gather(*sent)
        for out in outputs:
            self.metrics.outputs_sent.labels(out.topic).inc()
        self.metrics.risk.observe(outputs)

    async def handle(self, record: Record) -> None:
        judged = judge(record, self.load, self.rules.book)
        await self.send(judged.outputs)
        if judged.reason is not None:
            self.metrics.dead_letters.labels(judged.reason.value).inc()
        if judged.key is not None and judged.state is not None:
            self.devices[judged.key] = devices_table.encode(judged.state)


def register(app: faust.App, topic: faust.TopicT, handler: DeviceHandler) -> faust.types.AgentT:
    @app.agent(topic, name="devices")
    async def devices(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await handler.handle(Record(Topic.DEVICE_ACTIVITY, event.value, event.key, message.partition,
                                        message.offset, message.timestamp and int(message.timestamp * 1000)))

    return devices
