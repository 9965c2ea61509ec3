"""The whole topology on one screen.

    orders ─┐
    reviews ┤                       ┌─> points-ledger
    logins  ┼─> [members agent] ─┬──┼─> tier-changes, badge-changes
    complaints┤   (batches, one  │  ├─> benefit-grants, notifications
    profiles ┤    writer/member) │  └─> dead-letters
    member-rekey┘       │        └─> member-rekey (events keyed by the wrong member)
                  members-v1 table (RocksDB, changelog)

All input topics and the table changelog are co-partitioned on the member id.

    redemptions ─────┐                  ┌─> redemption-results (answers; HTTP callers await them, on_outputs)
    member-commands ─┴─> [members agent] ┴─> member-commands (gift hand-offs, keyed by the target member)
                                │
                  ledger-v1 table (history rows written with the state; GET /members/{id}/ledger)

    business-lines ─> [each worker's own reader, whole topic] ─> rules in force (agents/business_lines.py)
                   └> [business-line-definitions agent, group] ─> dead-letters (invalid definitions)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import faust
from prometheus_client import CollectorRegistry

from config.rules import RuleBook
from config.settings import TOPICS, Settings
from engine.outcome import Emitted
from memberflow.metrics import Metrics
from tables import ledger as ledger_table
from tables import members as members_table

if TYPE_CHECKING:
    from agents.consumer import BatchChannel

INPUT_TOPICS = ("orders", "reviews", "logins", "complaints", "profiles", "business-scores", "redemptions")
REKEY_TOPIC = "member-rekey"
#: member-addressed messages the engine sends itself (evaluation slices, gift hand-offs)
MEMBER_COMMANDS_TOPIC = "member-commands"
#: partition-addressed slices of a periodic evaluation
EVALUATION_TOPIC = "evaluation-slices"
OUTPUT_TOPICS = (
    "points-ledger",
    "tier-changes",
    "badge-changes",
    "benefit-grants",
    "notifications",
    "dead-letters",
    "redemption-results",
    MEMBER_COMMANDS_TOPIC,
    EVALUATION_TOPIC,
)


@dataclass
class Topology:
    app: MemberflowApp
    settings: Settings
    rulebook: RuleBook
    metrics: Metrics
    member_events: faust.TopicT
    rekey: faust.TopicT
    members: faust.Table
    #: physical topic name -> logical name, for every topic the app reads or writes
    logical: dict[str, str]
    #: called with each batch's outputs once the broker has acknowledged them
    on_outputs: list[Callable[[list[Emitted]], None]] = field(default_factory=list)
    #: awaited before each batch is evaluated (the business-line definitions must be read first)
    before_batch: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: every member's points history, newest last (tables/ledger.py), written with the member state
    ledger: faust.Table | None = None


class MemberflowApp(faust.App):
    """A Faust app whose consumer hands fetches of ``batch_channels`` topics to agents as batches."""

    def __init__(self, *args, fetch_max_wait_ms: int = 500, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        #: physical topic name -> the channel its fetched batches go to (agents/consumer.py)
        self.batch_channels: dict[str, BatchChannel] = {}
        #: longest a fetch waits for data (agents/consumer.py)
        self.fetch_max_wait_ms = fetch_max_wait_ms

    def _new_transport(self):  # noqa: ANN202
        from agents.consumer import BatchingTransport

        return BatchingTransport(self.conf.broker_consumer, self)


def create_app(
    settings: Settings | None = None,
    rulebook: RuleBook | None = None,
    registry: CollectorRegistry | None = None,
) -> Topology:
    settings = settings or Settings.from_env()
    rulebook = rulebook or RuleBook.from_path(settings.rules_dir)
    app = MemberflowApp(
        settings.app_id,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=settings.web_url,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        recovery_consistency_check=settings.recovery_consistency_check,
        producer_linger_ms=5,
        producer_request_timeout=settings.producer_request_timeout_s,  # Faust's default is 20 minutes
        stream_wait_empty=True,
        broker_max_poll_records=settings.batch_max,
        web_in_thread=False,
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    member_events = app.topic(
        *(settings.topic(t) for t in (*INPUT_TOPICS, REKEY_TOPIC, MEMBER_COMMANDS_TOPIC, EVALUATION_TOPIC)), **raw
    )
    rekey = app.topic(settings.topic(REKEY_TOPIC), partitions=settings.partitions, **raw)
    logical = {settings.topic(t): t for t in TOPICS}
    metrics = Metrics(registry or CollectorRegistry(), INPUT_TOPICS, OUTPUT_TOPICS)
    topology = Topology(
        app=app,
        settings=settings,
        rulebook=rulebook,
        metrics=metrics,
        member_events=member_events,
        rekey=rekey,
        members=members_table.declare(app, settings.partitions),
        logical=logical,
        ledger=ledger_table.declare(app, settings.partitions),
    )
    from agents import business_lines, commands, members
    from memberflow import web

    members.register(topology)
    business_lines.register(topology)  # every worker reads all definitions; badge routes
    commands.register(topology)
    web.register(topology)
    return topology
