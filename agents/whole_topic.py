"""A reader of one whole topic on every worker: no consumer group, every partition, from the beginning.

The rules every worker evaluates with are folded from such topics
(``business-lines``, ``tenant-rules``).  ``start`` returns once the topic
has been read up to its end as of start-up (the end offsets, then one fetch
that returns nothing -- Tansu under-reports end offsets), then the reader
goes on applying what arrives.  A reconnect resumes where it was.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka import AIOKafkaConsumer

from agents.kafka.positions import partitions_of, reached
from agents.rules_in_force import RulesInForce
from config.settings import Settings
from config.topics import Topic

log = logging.getLogger(__name__)

POLL_MS = 500
RETRY_SECONDS = 2.0


class WholeTopicReader:
    """Subclasses say which ``topic`` and how to ``apply`` each value."""

    topic: Topic

    def __init__(self, settings: Settings, rules: RulesInForce) -> None:
        self.settings = settings
        self.rules = rules
        #: partition -> next offset to read, so a reconnect resumes where it was
        self.positions: dict[int, int] = {}
        self.read_to_end = False
        self._future: asyncio.Future | None = None

    def apply(self, raw: bytes | None) -> None:
        raise NotImplementedError

    def apply_at(self, raw: bytes | None, partition: int, offset: int) -> None:
        """``apply``, for readers that also need where the value was (``agents.membership_plans``)."""
        self.apply(raw)

    def describe(self) -> str:
        raise NotImplementedError

    async def start(self, app: faust.App) -> None:
        """Follow the topic from now on (returns at once: ``RulesInForce.wait_ready`` waits for every reader)."""
        if self._future is None:
            self._future = app.add_future(self.run())

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s reader failed; reconnecting", self.topic)
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        settings = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{settings.app_id}-{self.topic}",
        )
        await consumer.start()
        try:
            partitions = await partitions_of(consumer, [settings.topic(self.topic)], RETRY_SECONDS)
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
                        self.apply_at(message.value, tp.partition, message.offset)
                        self.positions[tp.partition] = message.offset + 1
                if not batches and not self.read_to_end and await reached(consumer, ends):
                    log.info("%s read: %s", self.topic, self.describe())
                    self.read_to_end = True
                    self.rules.read_to_end(self.topic)
        finally:
            await consumer.stop()
