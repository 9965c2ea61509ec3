"""The members agent: every input topic, one writer per member, in batches.

The agent reads whole fetches (``agents/consumer.py``: Faust's consumer hands
each fetch of the member topics to the agent's channel as one batch, so no
event pays Faust's per-event stream path).  Per batch: decode and evaluate
every message against cached member state
(pure engine), send all outputs and wait for the broker's acks, then write
each touched member's state once, then let Faust ack the offsets.  A crash
before the state write replays the batch on the old state and re-emits the
same outputs with the same ids; a crash after it finds the events already
applied (their ids are in the state) and changes nothing.  A batch fetched
before a rebalance is skipped and unread: it is fetched again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from faust.types import Message

from agents.consumer import BatchChannel, FetchedBatch, ack, track, untrack
from agents.evaluation import SliceRunner
from agents.history import KnownHeads, record_history
from agents.publisher import BatchPublisher
from agents.routing import SOURCE_HEADER, partition_for, source_topic
from agents.stored import StoredLately
from config.rules import TenantRules
from engine.outcome import Applied, Emitted
from engine.records import Record, Result, dead_letter, decode, engine_failure, evaluate
from models.outputs import DeadLetterReason, LedgerEntry, TierChange
from models.state import MemberState
from streams import EVALUATION_TOPIC, Topology
from tables.binding import Owner, bind
from tables.members import DueMark, not_due
from tables.members import decode as decode_state
from tables.members import encode as encode_state
from tables.writer import DeferredTable, write_values

log = logging.getLogger(__name__)


class EngineFailure(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class WarmStates(StoredLately[bytes, MemberState]):
    """Decoded states of recently written members, as stored, so the next batch
    need not decode them again.  A batch takes a state out while it works on
    it and gives it back only once it is stored, so a failed batch leaves no
    half-changed state here."""

    def take(self, key: bytes) -> MemberState | None:
        return self.stored.pop(key, None)

    def give_back(self, states: dict[bytes, MemberState | None]) -> None:
        self.keep((key, state) for key, state in states.items() if state is not None)


@dataclass
class BatchStore:
    """Member states of one batch: read once (warm or from the table), written once;
    those the periodic evaluation looked at with their due mark (``mark``)."""

    table: object
    warm: WarmStates
    current: Owner | None = None
    cache: dict[bytes, MemberState | None] = field(default_factory=dict)
    dirty: dict[bytes, Owner] = field(default_factory=dict)
    marks: dict[bytes, DueMark] = field(default_factory=dict)  # of states the evaluation changed or marked
    raw: dict[bytes, bytes] = field(default_factory=dict)  # read by a scan (``skips``), not decoded yet

    def _read(self, key: bytes) -> bytes | None:
        if key in self.raw:
            return self.raw.pop(key)
        assert self.current is not None
        bind(self.current)
        return self.table.get(key)  # type: ignore[attr-defined]

    def get(self, key: bytes) -> MemberState | None:
        if key not in self.cache:
            state = self.warm.take(key)
            if state is None:
                raw = self._read(key)
                state = decode_state(raw) if raw is not None else None
            self.cache[key] = state
        return self.cache[key]

    def skips(self, key: bytes, raw: bytes, as_of: int, rules: TenantRules) -> bool:
        """The due mark of ``raw``, the member's stored value as a scan just read
        it, says evaluating it as of ``as_of`` (microseconds since the epoch)
        does nothing: pass over it without decoding it.  Otherwise ``get``
        decodes ``raw`` without reading it again."""
        if not_due(raw, as_of, rules.fingerprint) and key not in self.cache:
            return True
        self.raw[key] = raw
        return False

    def discard(self, key: bytes) -> None:
        """Forget a cached state that may be half-changed; it is read again if needed."""
        self.cache.pop(key, None)
        self.dirty.pop(key, None)
        self.marks.pop(key, None)

    def put(self, key: bytes, state: MemberState, mark: DueMark | None = None) -> None:
        """Store ``state`` at the end of the batch; with the due mark the periodic
        evaluation gave it, or none when an event changed it (the next evaluation
        then looks at it in full: that keeps the cost of a mark, tens of
        microseconds, out of the live path)."""
        assert self.current is not None
        self.cache[key] = state
        self.dirty[key] = self.current
        if mark is None:
            self.marks.pop(key, None)
        else:
            self.marks[key] = mark

    def pending(self) -> list[tuple[bytes, bytes, Owner]]:
        """(key, encoded state, the message whose partition owns it) of every changed member."""
        out = []
        for key, event in self.dirty.items():
            state = self.cache[key]
            assert state is not None
            out.append((key, encode_state(state, self.marks.get(key)), event))
        return out


@dataclass
class Planned:
    outputs: list[Emitted] = field(default_factory=list)
    forwards: list[tuple[Message, str, str]] = field(default_factory=list)  # (message, source topic, member)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (logical topic, outcome)
    store: BatchStore | None = None
    payloads: list[bytes] = field(default_factory=list)  # the outputs' JSON, as sent


class MemberProcessor:
    def __init__(self, topology: Topology) -> None:
        self.t = topology
        self.settings = topology.settings
        self.metrics = topology.metrics
        self.publisher: BatchPublisher | None = None
        self.slices = SliceRunner(topology)
        self.warm = WarmStates(topology.settings.warm_states)
        self.heads = KnownHeads(topology.settings.warm_states)

    def plan(self, messages: list[Message], poisoned: set[int]) -> Planned:
        """Evaluate a batch in memory; nothing is sent or stored yet."""
        t = self.t
        plan = Planned(store=BatchStore(t.members, self.warm))
        store = plan.store
        for index, msg in enumerate(messages):
            topic = source_topic(msg.topic, msg.headers, t.logical)
            record = Record(topic or msg.topic, msg.value, msg.key, msg.partition, msg.offset)
            if topic is None:
                self._dead(plan, record, DeadLetterReason.INVALID_EVENT, f"unknown source topic {msg.topic!r}")
                continue
            if topic == EVALUATION_TOPIC:
                store.current = Owner(msg)
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
                plan.forwards.append((msg, topic, decoded.member_id))
                plan.outcomes.append((topic, "forwarded"))
                continue
            store.current = Owner(msg)
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

    async def process(self, messages: list[Message], generation: int = 0) -> None:
        for wait in self.t.before_batch:
            await wait()
        self.warm.check(generation)
        self.heads.check(generation)
        poisoned: set[int] = set()
        while True:
            try:
                plan = self.plan(messages, poisoned)
                break
            except EngineFailure as failure:
                poisoned.add(failure.index)
        await self._send(plan)
        await self._store(plan)
        self.warm.give_back(plan.store.cache)
        self._observe(messages, plan)
        for hook in self.t.on_outputs:
            hook(plan.outputs)

    async def _store(self, plan: Planned) -> None:
        """After the outputs are acknowledged: member states, then ledger history rows."""
        assert plan.store is not None and self.publisher is not None
        writes = [(self.t.members, plan.store.pending())]
        heads = {}
        if self.t.ledger is not None:
            history = DeferredTable(self.t.ledger)
            heads = record_history(
                history, self.t.rulebook, plan.outputs, plan.store.dirty, plan.payloads, self.heads
            )
            writes.append((self.t.ledger, history.pending()))
        # one publish for both changelogs: a crash cannot leave states without their history
        await write_values(self.publisher, *writes)
        self.heads.keep(heads.items())

    async def _send(self, plan: Planned) -> None:
        if self.publisher is None:
            self.publisher = BatchPublisher(self.t.app.producer._ensure_producer())
        topic = self.settings.topic
        plan.payloads = [out.value.model_dump_json().encode() for out in plan.outputs]
        messages = [
            (topic(out.topic), out.key.encode(), payload, None, out.partition)
            for out, payload in zip(plan.outputs, plan.payloads, strict=True)
        ]
        rekey = topic("member-rekey")
        messages += [
            (rekey, member.encode(), msg.value, [(SOURCE_HEADER, source.encode())], None)
            for msg, source, member in plan.forwards
        ]
        await self.publisher.publish(messages)

    def _observe(self, messages: list[Message], plan: Planned) -> None:
        """Counted per batch: one ``labels()`` lookup per distinct label set, not per event."""
        m = self.metrics
        now = time.monotonic()
        m.batch_size.observe(len(messages))
        for msg in messages:
            if msg.time_in is not None:
                m.processing_seconds.observe(max(0.0, now - msg.time_in))
        for (topic, outcome), n in Counter(plan.outcomes).items():
            m.events_consumed.labels(topic, outcome).inc(n)
        sent: Counter[str] = Counter()
        points: Counter[str] = Counter()
        for out in plan.outputs:
            sent[out.topic] += 1
            value = out.value
            if isinstance(value, LedgerEntry):
                points[value.kind.value] += abs(value.delta)
            elif isinstance(value, TierChange):
                m.tier_changes.labels(value.direction.value, value.to_tier).inc()
        for topic, n in sent.items():
            m.outputs_sent.labels(topic).inc(n)
        for kind, n in points.items():
            m.points.labels(kind).inc(n)


def register(topology: Topology) -> None:
    processor = MemberProcessor(topology)
    app = topology.app
    batches = BatchChannel(app, maxsize=1)  # one batch queued while one is processed
    app.topics.add(topology.member_events)  # subscribed here; fetches reach the agent through ``batches``
    for name in topology.member_events.topics:
        app.batch_channels[name] = batches

    @app.agent(batches, name="members")
    async def members(stream):  # noqa: ANN001 - Faust passes a stream
        async for batch in stream:
            if not isinstance(batch, FetchedBatch):
                continue
            try:
                if not stale(app, batch):
                    track(app, batch.messages)
                    if await until_done(app, processor, batch):
                        ack(app, batch.messages)
                        continue
                await skip(app, batch)
            finally:
                batches.idle.set()  # the consumer may fetch the next batch now

    topology.agent = members  # type: ignore[attr-defined]


#: first pause before a failed batch is tried again; doubles up to RETRY_MAX_SECONDS
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


async def until_done(app, processor: MemberProcessor, batch: FetchedBatch) -> bool:  # noqa: ANN001 - faust.App
    """Process the batch, trying again after a failure (the broker away, say) until it
    succeeds -- or until a rebalance makes it stale: False, it is then fetched again.
    Trying again is safe: outputs carry the same ids, and applied events are deduped."""
    pause = RETRY_FIRST_SECONDS
    while True:
        try:
            await processor.process(batch.messages, batch.generation)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch of %d events failed; trying again in %.1f s", len(batch.messages), pause)
            processor.metrics.batch_retries.inc()
        await asyncio.sleep(pause)
        pause = min(pause * 2, RETRY_MAX_SECONDS)
        if stale(app, batch):
            return False


async def skip(app, batch: FetchedBatch) -> None:  # noqa: ANN001 - faust.App
    """Leave a stale batch unprocessed -- and unread, so it is fetched again (Faust
    would otherwise commit over it once later offsets are acked).  A batch that went
    stale while being tried again was tracked: the rebalance must not wait for it."""
    untrack(app, batch.messages)
    await app.consumer.unread(batch.messages)


def stale(app, batch: FetchedBatch) -> bool:  # noqa: ANN001 - faust.App
    """Fetched before a rebalance began or under an older generation: leave it to be fetched again."""
    return not app.flow_control.is_active() or batch.generation != app.consumer_generation_id
