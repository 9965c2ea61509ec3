"""Business-line definitions on every worker (seed 000's runtime onboarding).

Every worker must evaluate snapshots with *all* definitions, not only those
of the partitions it owns, so each worker runs its own consumer of
``business-lines``: no consumer group, every partition assigned, read from the
beginning, folded into :class:`engine.lines.LiveLines` (the highest valid
version per tenant and line wins; Tansu does not compact, so the whole topic
is read).  Each applied definition swaps ``topology.rulebook`` for a book
carrying it, which the next batch evaluates with -- no restart.

Why not a Faust GlobalTable: the topic already is the replicated log every
worker can read (compacted by key ``tenant/line`` in production); a global
table would add a second copy, its changelog, written by whichever worker
consumed the record, and its start-up recovery, to end with the same fold.

Start-up: the app's start waits, before its consumer and agents start, until
the follower has read the topic up to its end as of start-up (the end
offsets, then one fetch that returns nothing -- Tansu under-reports end
offsets), so a worker that starts later evaluates with the current
definitions; the members agent also checks it before each batch (then a
no-op).  Afterwards a new definition applies from the next batch on; a
snapshot evaluated just before it names the older version in its badge change.

Invalid definitions are dead-lettered by a Faust agent in the consumer group,
so one worker writes each (at-least-once: a redelivery repeats the same
``dead_letter_id``); every worker's follower just skips them.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from engine.definitions import check_definition
from engine.lines import LiveLines, Verdict
from engine.outcome import Emitted
from engine.records import Record
from memberflow import badge_web
from memberflow.metrics import BadgeMetrics
from memberflow.topics import bootstrap_of
from models.outputs import BadgeChange, DeadLetterReason
from streams import Topology

log = logging.getLogger(__name__)

TOPIC = "business-lines"
POLL_MS = 500
RETRY_SECONDS = 2.0


class DefinitionFollower:
    """This worker's reader of the whole ``business-lines`` topic."""

    def __init__(self, topology: Topology, live: LiveLines, metrics: BadgeMetrics) -> None:
        self.t = topology
        self.live = live
        self.metrics = metrics
        self.ready = asyncio.Event()
        #: partition -> next offset to read, so a reconnect resumes where it was
        self.positions: dict[int, int] = {}
        self._future: asyncio.Future | None = None

    async def start(self) -> None:
        """Follow the topic from now on, and return once it is read up to its end."""
        if self._future is None:
            self._future = self.t.app.add_future(self.run())
        await self.wait_ready()

    async def wait_ready(self) -> None:
        if not self.ready.is_set():
            log.info("waiting for the business-line definitions")
            await self.ready.wait()

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("business-lines reader failed; reconnecting")
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        settings = self.t.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_of(settings.broker_url),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{settings.app_id}-business-lines",
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, settings.topic(TOPIC))
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            for tp in partitions:
                if tp.partition in self.positions:
                    consumer.seek(tp, self.positions[tp.partition])
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=500)
                for tp, messages in batches.items():
                    for message in messages:
                        self.apply(message.value)
                        self.positions[tp.partition] = message.offset + 1
                if not batches and not self.ready.is_set() and await self._reached(consumer, ends):
                    log.info("business-line definitions read: %s", self.describe())
                    self.ready.set()
        finally:
            await consumer.stop()

    @staticmethod
    async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        while True:
            await consumer.topics()  # refreshes the metadata
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, p) for p in sorted(found)]
            log.warning("topic %s not found yet", topic)
            await asyncio.sleep(RETRY_SECONDS)

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def apply(self, raw: bytes | None) -> None:
        offer = self.live.offer(raw, self.t.settings.max_payload_bytes)
        self.metrics.definitions.labels(offer.verdict.value).inc()
        if offer.verdict is Verdict.APPLIED:
            assert offer.definition is not None
            self.t.rulebook = self.live.book
            self.metrics.declare(offer.definition.line_id, offer.definition.top)
            log.info("business line %s", offer.detail)
        elif offer.verdict is Verdict.IGNORED:
            log.info("business line definition ignored: %s", offer.detail)
        else:
            log.warning("invalid business line definition (the previous version stays): %s", offer.detail)

    def describe(self) -> str:
        return ", ".join(f"{tenant}/{line}=v{d.version}" for tenant, lines in sorted(self.live.published.items())
                         for line, d in sorted(lines.items())) or "none published"


def observe(metrics: BadgeMetrics, outputs: list[Emitted]) -> None:
    """Keep the per-worker badge gauge from the badge changes this worker sent."""
    for out in outputs:
        change = out.value
        if not isinstance(change, BadgeChange):
            continue
        if change.from_level > 0:
            metrics.members.labels(change.line_id, str(change.from_level)).dec()
        if change.to_level > 0:
            metrics.members.labels(change.line_id, str(change.to_level)).inc()
        metrics.changes.labels(change.line_id, change.direction.value).inc()


def register(topology: Topology) -> None:
    app, settings = topology.app, topology.settings
    metrics = BadgeMetrics(topology.metrics.registry)
    live = LiveLines(topology.rulebook)
    for rules in (topology.rulebook.default, *topology.rulebook.tenants.values()):
        for line_id, line in rules.business_lines.items():
            metrics.declare(line_id, line.top)
    follower = DefinitionFollower(topology, live, metrics)
    topology.on_outputs.append(lambda outputs: observe(metrics, outputs))
    # Read the definitions when the app starts, before its consumer and agents
    # start (mode starts them after on_first_start), so no agent ever holds
    # events while it waits; the members agent's check is then a no-op.
    first_start = app.on_first_start

    async def on_first_start() -> None:
        await first_start()
        await follower.start()

    app.on_first_start = on_first_start  # type: ignore[method-assign]
    topology.before_batch.append(follower.wait_ready)

    topic = app.topic(settings.topic(TOPIC), key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    consumed = topology.metrics.events_consumed

    @app.agent(topic, name="business-line-definitions")
    async def definitions(stream):  # noqa: ANN001 - Faust passes a stream
        async for event in stream.events():
            msg = event.message
            record = Record(TOPIC, event.value, event.key, msg.partition, msg.offset)
            letter = check_definition(record, settings.max_payload_bytes)
            if letter is None:
                consumed.labels(TOPIC, "applied").inc()
                continue
            fut = await app.producer.send(settings.topic(letter.topic), letter.key.encode(),
                                          letter.value.model_dump_json().encode(), None, None, None)
            await fut
            topology.metrics.dead_letters.labels(DeadLetterReason.INVALID_DEFINITION.value).inc()
            consumed.labels(TOPIC, "dead_lettered").inc()

    badge_web.register(topology, follower)
