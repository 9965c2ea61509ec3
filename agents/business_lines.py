"""Business-line definitions on every worker (seed 000's runtime onboarding).

Every worker must evaluate snapshots with *all* definitions, not only those
of the partitions it owns, so each worker runs its own consumer of
``business-lines``: no consumer group, every partition assigned, read from the
beginning, folded into :class:`engine.published_lines.PublishedLines` (the highest valid
version per tenant and line wins; Tansu does not compact, so the whole topic
is read).  Each applied definition swaps the book in ``RulesInForce`` for one
carrying it, which the next batch evaluates with -- no restart.

Why not a Faust GlobalTable: the topic already is the replicated log every
worker can read (compacted by key ``tenant/line`` in production); a global
table would add a second copy, its changelog, written by whichever worker
consumed the record, and its start-up recovery, to end with the same fold.

Start-up: the app's first start (``streams.MemberflowApp.on_first_start``)
waits, before its consumer and agents start, until the follower has read the
topic up to its end as of start-up (the end offsets, then one fetch that
returns nothing -- Tansu under-reports end offsets), so a worker that starts
later evaluates with the current definitions; the members agent also checks
``RulesInForce.ready`` before each batch (then a no-op).  Afterwards a new definition applies from the next batch on; a
snapshot evaluated just before it names the older version in its badge change.

Invalid definitions are dead-lettered by a Faust agent in the consumer group,
so one worker writes each (at-least-once: a redelivery repeats the same
``dead_letter_id``); every worker's follower just skips them.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka import AIOKafkaConsumer

from agents.kafka.positions import partitions_of, reached
from agents.metrics import BadgeMetrics, Metrics
from agents.records import Record, check_definition
from agents.rules_in_force import RulesInForce
from config.settings import Settings
from config.topics import Topic
from engine.published_lines import PublishedLines, Verdict
from models.outputs import DeadLetterReason

log = logging.getLogger(__name__)

POLL_MS = 500
RETRY_SECONDS = 2.0


class DefinitionFollower:
    """This worker's reader of the whole ``business-lines`` topic."""

    def __init__(self, settings: Settings, rules: RulesInForce, metrics: BadgeMetrics) -> None:
        self.settings = settings
        self.rules = rules
        self.live = PublishedLines(rules.book)
        self.metrics = metrics
        #: partition -> next offset to read, so a reconnect resumes where it was
        self.positions: dict[int, int] = {}
        self._future: asyncio.Future | None = None
        for tenant_rules in (rules.book.default, *rules.book.tenants.values()):
            for line_id, line in tenant_rules.business_lines.items():
                metrics.declare(line_id, line.top)

    async def start(self, app: faust.App) -> None:
        """Follow the topic from now on, and return once it is read up to its end."""
        if self._future is None:
            self._future = app.add_future(self.run())
        await self.rules.wait_ready()

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
        settings = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{settings.app_id}-business-lines",
        )
        await consumer.start()
        try:
            partitions = await partitions_of(consumer, [settings.topic(Topic.BUSINESS_LINES)], RETRY_SECONDS)
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
                if not batches and not self.rules.ready.is_set() and await reached(consumer, ends):
                    log.info("business-line definitions read: %s", self.describe())
                    self.rules.ready.set()
        finally:
            await consumer.stop()

    def apply(self, raw: bytes | None) -> None:
        offer = self.live.offer(raw, self.settings.max_payload_bytes)
        self.metrics.definitions.labels(offer.verdict.value).inc()
        if offer.verdict is Verdict.APPLIED:
            assert offer.definition is not None
            self.rules.book = self.live.book
            self.metrics.declare(offer.definition.line_id, offer.definition.top)
            log.info("business line %s", offer.detail)
        elif offer.verdict is Verdict.IGNORED:
            log.info("business line definition ignored: %s", offer.detail)
        else:
            log.warning("invalid business line definition (the previous version stays): %s", offer.detail)

    def describe(self) -> str:
        return ", ".join(f"{tenant}/{line}=v{d.version}" for tenant, lines in sorted(self.live.published.items())
                         for line, d in sorted(lines.items())) or "none published"


class DefinitionChecker:
    """Dead-letters invalid definitions: run by one worker of the group per partition
    (at-least-once: a redelivery repeats the same ``dead_letter_id``)."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def check(self, record: Record) -> None:
        consumed = self.metrics.events_consumed
        letter = check_definition(record, self.settings.max_payload_bytes)
        if letter is None:
            consumed.labels(Topic.BUSINESS_LINES, "applied").inc()
            return
        fut = await self.app.producer.send(self.settings.topic(letter.topic), letter.key.encode(),
                                           letter.value.model_dump_json().encode(), None, None, None)
        await fut
        self.metrics.dead_letters.labels(DeadLetterReason.INVALID_DEFINITION.value).inc()
        consumed.labels(Topic.BUSINESS_LINES, "dead_lettered").inc()


def register(app: faust.App, topic: faust.TopicT, checker: DefinitionChecker) -> faust.types.AgentT:
    """The group agent that dead-letters invalid definitions on ``topic``."""

    @app.agent(topic, name="business-line-definitions")
    async def definitions(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await checker.check(Record(Topic.BUSINESS_LINES, event.value, event.key, message.partition,
                                       message.offset))

    return definitions
