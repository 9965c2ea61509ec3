"""What the members agent does with one batch: evaluate, send, store, then tell who waits.

Per batch, in this order (a reader can follow one order event from here):

1. ``plan``: each message is routed by its logical topic -- an evaluation slice
   to ``SliceRunner``; anything else decoded against its contract
   (``agents.records.decode``), forwarded to ``member-rekey`` when its member
   belongs to another partition, or evaluated against the member's state by
   the pure engine (``agents.records.evaluate`` -> ``engine.apply.apply_event``)
   over a ``BatchStore`` that reads each member once;
2. ``_send``: every output, and every forward, in one publish; the broker acks all;
3. ``_store``: each touched member's state once, and the ledger history rows,
   in one changelog publish and one RocksDB write batch per partition;
4. the stored batch's outputs go to the redemption answers and the badge and benefit metrics.

A crash before step 3 replays the batch on the old state and re-emits the
same outputs with the same ids; a crash after it finds the events already
applied (their ids are in the state) and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faust import Table
from faust.types import Message

from agents.answers import RedemptionAnswers
from agents.batch_store import BatchStore, WarmStates
from agents.evaluation import SliceRunner
from agents.history import KnownHeads, record_history
from agents.kafka.changelog import DeferredTable, write_values
from agents.kafka.publisher import Publisher
from agents.kafka.routing import SOURCE_HEADER, partition_for, source_topic
from agents.metrics import Metrics
from agents.records import Record, Result, dead_letter, decode, engine_failure, evaluate
from agents.rules_in_force import RulesInForce
from config.settings import Settings
from config.topics import Topic
from engine.experiments import Tallies, arm_tallies
from engine.outcome import Applied, Emitted
from models.events import MemberEvent
from models.json_twins import output_json
from models.outputs import DeadLetterReason, LedgerEntry, TierChange
from tables.current_event import MessageEvent
from tables.members import state_key

log = logging.getLogger(__name__)

#: how a batch's events ended, as the metrics name it (``applied`` otherwise)
OUTCOME = {Applied.DUPLICATE: "duplicate", Applied.REWOUND: "rewound"}


#: the event time of a business-line snapshot that states none (the engine completes it from its date)
FIRST = datetime.min.replace(tzinfo=UTC)


def _in_time(event: tuple) -> tuple[datetime, int]:
    return event[0], event[1]


def _tallies(store: BatchStore, key: bytes) -> Tallies:
    """What the member's experiments counted: its arms, orders and spend (none when it is not stored)."""
    record = store.get(key)
    return arm_tallies(record.state if record is not None else None)


class EngineFailure(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


@dataclass
class Planned:
    store: BatchStore
    outputs: list[Emitted] = field(default_factory=list)
    forwards: list[tuple[Message, str, str]] = field(default_factory=list)  # (message, source topic, member)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (logical topic, outcome)
    payloads: list[bytes] = field(default_factory=list)  # the outputs' JSON, as sent


class MemberProcessor:
    def __init__(
        self,
        settings: Settings,
        rules: RulesInForce,
        members: Table,
        ledger: Table,
        metrics: Metrics,
        publisher: Publisher,
        answers: RedemptionAnswers,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.members = members
        self.ledger = ledger
        self.metrics = metrics
        self.publisher = publisher
        self.answers = answers
        self.logical = settings.logical_topics()
        self.slices = SliceRunner(members, rules, metrics, settings.partitions)
        self.warm = WarmStates(settings.warm_states)
        self.heads = KnownHeads(settings.warm_states)

    async def process(self, messages: list[Message], generation: int = 0) -> None:
        await self.rules.wait_ready()
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
        self.answers.resolve(plan.outputs)
        self.metrics.badges.observe(plan.outputs)
        self.metrics.benefits.observe(plan.outputs)
        self.metrics.risk.observe(plan.outputs)

    def plan(self, messages: list[Message], poisoned: set[int]) -> Planned:
        """Evaluate a batch in memory; nothing is sent or stored yet.

        A fetch groups records by topic partition, so a member's events of several
        topics come topic by topic; they are evaluated in event-time order instead
        (stably: a topic's own order holds), which puts most of them in their place
        at once -- the journal would otherwise replay every one that came too early.
        Evaluation slices follow the batch's events."""
        plan = Planned(BatchStore(self.members, self.warm))
        store = plan.store
        events: list[tuple[datetime, int, Message, str, Record, MemberEvent]] = []
        slices: list[tuple[Message, Record]] = []
        for index, msg in enumerate(messages):
            topic = source_topic(msg.topic, msg.headers, self.logical)
            record = Record(topic or msg.topic, msg.value, msg.key, msg.partition, msg.offset,
                            round(msg.timestamp * 1000) if msg.timestamp else None)
            if topic is None:
                self._dead(plan, record, DeadLetterReason.INVALID_EVENT, f"unknown source topic {msg.topic!r}")
                continue
            if topic == Topic.EVALUATION_SLICES:
                slices.append((msg, record))
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
            events.append((decoded.occurred_at or FIRST, index, msg, topic, record, decoded))
        events.sort(key=_in_time)
        book = self.rules.book
        for _, index, msg, topic, record, decoded in events:
            store.current = MessageEvent(msg)
            key = state_key(decoded.tenant_id, decoded.member_id)
            before = _tallies(store, key)
            try:
                result = evaluate(record, decoded, store, book)
            except Exception as exc:
                log.exception("engine failed on %s@%s:%s", topic, msg.partition, msg.offset)
                raise EngineFailure(index) from exc
            self._add(plan, topic, result)
            self.metrics.experiments.counted(before, _tallies(store, key))
        for msg, record in slices:
            store.current = MessageEvent(msg)
            self._add(plan, Topic.EVALUATION_SLICES, self.slices.run(record, store))
        return plan

    def _dead(self, plan: Planned, record: Record, reason: DeadLetterReason, detail: str) -> None:
        self._add(plan, record.topic, Result(None, [dead_letter(record, reason, detail)], reason))

    def _add(self, plan: Planned, topic: str, result: Result) -> None:
        plan.outputs.extend(result.outputs)
        if result.reason is not None:
            plan.outcomes.append((topic, "dead_lettered"))
            self.metrics.dead_letters.labels(result.reason.value).inc()
        else:
            plan.outcomes.append((topic, OUTCOME.get(result.applied, "applied")))

    async def _send(self, plan: Planned) -> None:
        topic = self.settings.topic
        plan.payloads = [output_json(out.value) for out in plan.outputs]
        messages = [
            (topic(out.topic), out.key.encode(), payload, None, out.partition)
            for out, payload in zip(plan.outputs, plan.payloads, strict=True)
        ]
        rekey = topic(Topic.MEMBER_REKEY)
        messages += [
            (rekey, member.encode(), msg.value, [(SOURCE_HEADER, source.encode())], None)
            for msg, source, member in plan.forwards
        ]
        await self.publisher.publish(messages)

    async def _store(self, plan: Planned) -> None:
        """After the outputs are acknowledged: member states and their ledger history rows,
        in one publish of both changelogs (a crash cannot leave states without their history)."""
        history = DeferredTable(self.ledger)
        heads = record_history(history, self.rules.book, plan.outputs, plan.store.dirty, plan.payloads, self.heads)
        await write_values(self.publisher, (self.members, plan.store.pending()), (self.ledger, history.pending()))
        self.heads.keep(heads.items())

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
        retracted: Counter[str] = Counter()
        points: Counter[str] = Counter()
        for out in plan.outputs:
            sent[out.topic] += 1
            value = out.value
            if getattr(value, "retracts", None) is not None:
                retracted[out.topic] += 1
            if getattr(value, "experiment", None) is not None:
                m.experiments.output(value)
            if isinstance(value, LedgerEntry):
                points[value.kind.value] += abs(value.delta)
            elif isinstance(value, TierChange):
                m.tier_changes.labels(value.direction.value, value.to_tier).inc()
        for topic, n in sent.items():
            m.outputs_sent.labels(topic).inc(n)
        for topic, n in retracted.items():
            m.outputs_retracted.labels(topic).inc(n)
        for kind, n in points.items():
            m.points.labels(kind).inc(n)
