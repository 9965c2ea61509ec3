"""The projector: follows the output topics and the member table's changelog into the read model.

It reads every partition of its topics with its own consumer (no consumer
group: it keeps its positions in the read model, written in the same
transaction as the rows of each batch, so a crash replays at most the batches
it was preparing and writing, and a replayed batch writes the same rows).  A
fetch's rows are prepared (members summarised) while the previous fetch's are
written, in order, one transaction each: the database's work and Python's
overlap.  ``run`` follows
the topics for ever; ``catch_up`` stops once it has read to the ends the
topics had when it started (``memberflow readmodel rebuild``).

Metrics (``/metrics`` on ``MEMBERFLOW_WEB_HOST:MEMBERFLOW_PROJECTOR_PORT``):
``memberflow_readmodel_lag_records{topic}`` and
``memberflow_readmodel_records_total{topic}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from agents.kafka.positions import partitions_of, reached
from config.rules import RuleBook
from config.settings import Settings
from memberflow.readmodel.database import positions
from memberflow.readmodel.projection import MEMBERS_CHANGELOG, SOURCES, Batch, Projection, Record
from tables.members import TABLE_NAME

log = logging.getLogger(__name__)
POLL_MS = 200
RETRY_SECONDS = 1.0
#: the most records one fetch -- one transaction -- holds.  Caught up, a fetch holds what arrived since the
#: last; behind, it fills up, and a member whose state changed many times in it is summarised once
#: (``Projection.prepare``), so the further behind, the less each record costs: a burst is caught up with.
FETCH_RECORDS = 5000
#: bytes per partition per fetch request: room for a full fetch of member states (a few KiB each)
PARTITION_FETCH_BYTES = 8 * 1024 * 1024


class ProjectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.lag = Gauge("memberflow_readmodel_lag_records", "records on the projector's topics not yet in the "
                         "read model", ["topic"], registry=self.registry)
        self.records = Counter("memberflow_readmodel_records", "records the projector applied to the read model",
                               ["topic"], registry=self.registry)


def source_topics(settings: Settings) -> dict[str, str]:
    """Physical topic name -> the projection's logical name, for every topic the projector reads."""
    names = {settings.topic(topic): str(topic) for topic in SOURCES if topic != MEMBERS_CHANGELOG}
    names[f"{settings.app_id}-{TABLE_NAME}-changelog"] = MEMBERS_CHANGELOG
    return names


class Projector:
    def __init__(self, settings: Settings, engine: sa.Engine, rules: RuleBook,
                 metrics: ProjectorMetrics | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.projection = Projection(rules, max_bytes=settings.max_payload_bytes)
        self.metrics = metrics or ProjectorMetrics()
        self.topics = source_topics(settings)
        self.applied = 0
        #: (physical topic, partition) -> the next offset the read model holds (written with the rows)
        self.written: dict[tuple[str, int], int] = {}

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Follow the topics until ``stop`` is set."""
        await self._consume(stop or asyncio.Event(), until_end=False)

    async def catch_up(self) -> int:
        """Read to the ends the topics have now; the records applied."""
        await self._consume(asyncio.Event(), until_end=True)
        return self.applied

    async def _consume(self, stop: asyncio.Event, until_end: bool) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
                                    max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
                                    client_id=f"{self.settings.app_id}-readmodel")
        await consumer.start()
        try:
            partitions = await partitions_of(consumer, self.topics, RETRY_SECONDS)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            stored = await asyncio.to_thread(positions, self.engine)
            for tp in partitions:
                if (tp.topic, tp.partition) in stored:
                    consumer.seek(tp, stored[(tp.topic, tp.partition)])
            ends = await consumer.end_offsets(partitions) if until_end else None
            self.written = {(tp.topic, tp.partition): await consumer.position(tp) for tp in partitions}
            writing: asyncio.Future | None = None  # the previous batch's write, while this one is prepared
            try:
                while not stop.is_set():
                    if ends is not None and await reached(consumer, ends):
                        return
                    batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=FETCH_RECORDS)
                    records = [Record(self.topics[tp.topic], tp.topic, tp.partition, m.offset, m.key, m.value,
                                      m.timestamp) for tp, messages in batches.items() for m in messages]
                    if records:
                        batch = await asyncio.to_thread(self.projection.prepare, records)
                        if writing is not None:
                            await writing
                        writing = asyncio.ensure_future(asyncio.to_thread(self._write, batch, records))
                    self._measure(consumer, partitions)
            finally:
                if writing is not None:
                    await asyncio.wait({writing})
                    writing.result()  # a failed write fails the run: its batch is read again on the next
                    self._measure(consumer, partitions)
        finally:
            await consumer.stop()

    def _write(self, batch: Batch, records: list[Record]) -> None:
        with self.engine.begin() as conn:
            self.projection.write(conn, batch)
        self.applied += batch.count
        self.written.update(batch.positions)
        for topic, count in Tally(r.topic for r in records).items():
            self.metrics.records.labels(topic).inc(count)

    def _measure(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Lag: records up to each partition's end the read model does not hold yet (written, not read)."""
        lag: Tally[str] = Tally()
        for tp in partitions:
            end = consumer.highwater(tp)
            if end is not None:
                lag[self.topics[tp.topic]] += max(0, end - self.written[(tp.topic, tp.partition)])
        for topic in set(self.topics.values()):
            self.metrics.lag.labels(topic).set(lag[topic])

