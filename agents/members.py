"""The members agent: every input topic, one writer per member, in batches.

Per batch: decode and evaluate every event against cached member state
(pure engine), send all outputs and wait for the broker's acks, then write
each touched member's state once, then let Faust ack the offsets.  A crash
before the state write replays the batch on the old state and re-emits the
same outputs with the same ids; a crash after it finds the events already
applied (their ids are in the state) and changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from faust.types import EventT

from agents.evaluation import SliceRunner
from agents.history import record_history
from agents.publisher import BatchPublisher
from agents.routing import SOURCE_HEADER, partition_for, source_topic
from engine.outcome import Applied, Emitted
from engine.records import Record, Result, dead_letter, decode, engine_failure, evaluate
from models.outputs import DeadLetterReason, LedgerEntry, TierChange
from models.state import MemberState
from streams import EVALUATION_TOPIC, Topology
from tables.binding import bind
from tables.members import decode as decode_state
from tables.members import encode as encode_state
from tables.writer import DeferredTable, write_values

log = logging.getLogger(__name__)


class EngineFailure(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


@dataclass
class BatchStore:
    """Member states of one batch: read once from the table, written once."""

    table: object
    current: EventT | None = None
    cache: dict[bytes, MemberState | None] = field(default_factory=dict)
    dirty: dict[bytes, EventT] = field(default_factory=dict)

    def get(self, key: bytes) -> MemberState | None:
        if key not in self.cache:
            assert self.current is not None
            bind(self.current)
            raw = self.table.get(key)  # type: ignore[attr-defined]
            self.cache[key] = decode_state(raw) if raw is not None else None
        return self.cache[key]

    def discard(self, key: bytes) -> None:
        """Forget a cached state that may be half-changed; it is read again if needed."""
        self.cache.pop(key, None)
        self.dirty.pop(key, None)

    def put(self, key: bytes, state: MemberState) -> None:
        assert self.current is not None
        self.cache[key] = state
        self.dirty[key] = self.current

    def pending(self) -> list[tuple[bytes, bytes, EventT]]:
        """(key, encoded state, the event whose partition owns it) of every changed member."""
        out = []
        for key, event in self.dirty.items():
            state = self.cache[key]
            assert state is not None
            out.append((key, encode_state(state), event))
        return out


@dataclass
class Planned:
    outputs: list[Emitted] = field(default_factory=list)
    forwards: list[tuple[EventT, str, str]] = field(default_factory=list)  # (event, source topic, member)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (logical topic, outcome)
    store: BatchStore | None = None


class MemberProcessor:
    def __init__(self, topology: Topology) -> None:
        self.t = topology
        self.settings = topology.settings
        self.metrics = topology.metrics
        self.publisher: BatchPublisher | None = None
        self.slices = SliceRunner(topology)

    def plan(self, events: list[EventT], poisoned: set[int]) -> Planned:
        """Evaluate a batch in memory; nothing is sent or stored yet."""
        t = self.t
        plan = Planned(store=BatchStore(t.members))
        store = plan.store
        for index, ev in enumerate(events):
            msg = ev.message
            topic = source_topic(msg.topic, msg.headers, t.logical)
            record = Record(topic or msg.topic, ev.value, ev.key, msg.partition, msg.offset)
            if topic is None:
                self._dead(plan, record, DeadLetterReason.INVALID_EVENT, f"unknown source topic {msg.topic!r}")
                continue
            if topic == EVALUATION_TOPIC:
                store.current = ev
                self._add(plan, topic, self.slices.run(record, store))
                continue
            decoded = decode(record, self.settings.max_payload_bytes)
            if isinstance(decoded, Result):
                self._add(plan, topic, decoded)
                continue
            if index in poisoned:
                self._add(plan, topic, engine_failure(record, decoded))
                continue
            if partition_for(decoded.member_id, self.settings.partitions) != msg.partition:
                plan.forwards.append((ev, topic, decoded.member_id))
                plan.outcomes.append((topic, "forwarded"))
                continue
            store.current = ev
            try:
                result = evaluate(record, decoded, store, t.rulebook)
            except Exception as exc:
                log.exception("engine failed on %s@%s:%s", topic, msg.partition, msg.offset)
                raise EngineFailure(index) from exc
            self._add(plan, topic, result)
        return plan

    def _dead(self, plan: Planned, record: Record, reason: DeadLetterReason, detail: str, event=None) -> None:
        self._add(plan, record.topic, Result(None, [dead_letter(record, reason, detail, event)], reason))

    def _add(self, plan: Planned, topic: str, result: Result) -> None:
        plan.outputs.extend(result.outputs)
        if result.reason is not None:
            plan.outcomes.append((topic, "dead_lettered"))
            self.metrics.dead_letters.labels(result.reason.value).inc()
        else:
            plan.outcomes.append((topic, "duplicate" if result.applied is Applied.DUPLICATE else "applied"))

    async def process(self, events: list[EventT]) -> None:
        for wait in self.t.before_batch:
            await wait()
        poisoned: set[int] = set()
        while True:
            try:
                plan = self.plan(events, poisoned)
                break
            except EngineFailure as failure:
                poisoned.add(failure.index)
        await self._send(plan)
        await self._store(plan)
        self._observe(events, plan)
        for hook in self.t.on_outputs:
            hook(plan.outputs)

    async def _store(self, plan: Planned) -> None:
        """After the outputs are acknowledged: member states, then ledger history rows."""
        assert plan.store is not None and self.publisher is not None
        writes = [(self.t.members, plan.store.pending())]
        if self.t.ledger is not None:
            history = DeferredTable(self.t.ledger)
            record_history(history, self.t.rulebook, plan.outputs, plan.store.dirty)
            writes.append((self.t.ledger, history.pending()))
        # one publish for both changelogs: a crash cannot leave states without their history
        await write_values(self.publisher, *writes)

    async def _send(self, plan: Planned) -> None:
        if self.publisher is None:
            self.publisher = BatchPublisher(self.t.app.producer._ensure_producer())
        topic = self.settings.topic
        messages = [
            (topic(out.topic), out.key.encode(), out.value.model_dump_json().encode(), None, out.partition)
            for out in plan.outputs
        ]
        rekey = topic("member-rekey")
        messages += [
            (rekey, member.encode(), ev.value, [(SOURCE_HEADER, source.encode())], None)
            for ev, source, member in plan.forwards
        ]
        await self.publisher.publish(messages)

    def _observe(self, events: list[EventT], plan: Planned) -> None:
        m = self.metrics
        now = time.monotonic()
        m.batch_size.observe(len(events))
        for ev in events:
            time_in = ev.message.time_in
            if time_in is not None:
                m.processing_seconds.observe(max(0.0, now - time_in))
        for topic, outcome in plan.outcomes:
            m.events_consumed.labels(topic, outcome).inc()
        for out in plan.outputs:
            m.outputs_sent.labels(out.topic).inc()
            value = out.value
            if isinstance(value, LedgerEntry):
                m.points.labels(value.kind.value).inc(abs(value.delta))
            elif isinstance(value, TierChange):
                m.tier_changes.labels(value.direction.value, value.to_tier).inc()


def register(topology: Topology) -> None:
    processor = MemberProcessor(topology)
    settings = topology.settings

    @topology.app.agent(topology.member_events, name="members")
    async def members(stream):  # noqa: ANN001 - Faust passes a stream
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_ms / 1000):
            await processor.process(list(events))

    topology.agent = members  # type: ignore[attr-defined]
