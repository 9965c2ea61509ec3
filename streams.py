"""The worker: the Faust app, its topics, tables, agents and views, wired top-down.

Every topic is declared once in ``config.topics`` (the README's table and
diagram are drawn from it).  Reading ``create_app`` from top to bottom is
reading the topology: which topics the members agent reads as one
co-partitioned subscription, the two tables it writes, the commands,
device and business-line agents, the definitions every worker reads whole before its
agents start, and the HTTP views.  Each agent gets the collaborators it
calls, so one event's path can be followed by reading calls:
``agents.members`` -> ``agents.member_processor`` -> ``agents.records`` ->
``engine.apply.apply_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from agents import business_lines, commands, devices, members, membership_plans, tenant_rules
from agents.answers import RedemptionAnswers
from agents.business_lines import DefinitionChecker, DefinitionFollower
from agents.commands import CommandHandler, EvaluationSchedule
from agents.devices import DeviceHandler
from agents.kafka.consumer import BatchChannel, BatchingTransport, KeptTopic
from agents.kafka.publisher import BatchPublisher
from agents.member_processor import MemberProcessor
from agents.membership_plans import PlanChecker, PlanFollower
from agents.metrics import Metrics
from agents.rules_in_force import RulesInForce
from agents.tenant_rules import RulesChecker, RulesReader
from config.rules import RuleBook
from config.settings import Settings
from config.topics import MEMBER_TOPICS, Topic
from memberflow.web import badges, benefit_usage, entitlements, ledger, memberships, quote, redemptions
from memberflow.web import members as member_views
from memberflow.web import metrics as metrics_view
from memberflow.web.auth import ServiceTokens
from tables import devices as devices_table
from tables import ledger as ledger_table
from tables import members as members_table

RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


class MemberflowApp(faust.App):
    """A Faust app whose consumer hands fetches of the member topics to the members
    agent as batches (``agents.kafka.consumer``), and that reads the published tenant
    rules, business-line definitions and membership plans to their end before its consumer and agents start."""

    def __init__(self, settings: Settings, definitions: DefinitionFollower, tenant_rules: RulesReader,
                 plans: PlanFollower) -> None:
        super().__init__(
            settings.app_id,
            broker=settings.broker_url,
            store=settings.store,
            datadir=str(settings.data_dir),
            web_host=settings.web_host,
            web_port=settings.web_port,
            canonical_url=settings.web_url,
            topic_partitions=settings.partitions,
            topic_allow_declare=True,
            broker_session_timeout=10,
            consumer_group_instance_id=settings.group_instance_id,
            broker_heartbeat_interval=1,
            recovery_consistency_check=settings.recovery_consistency_check,
            producer_linger_ms=5,
            producer_request_timeout=settings.producer_request_timeout_s,  # Faust's default is 20 minutes
            stream_wait_empty=True,
            broker_max_poll_records=settings.batch_max,
            web_in_thread=False,
            Topic=KeptTopic,
        )
        self.definitions = definitions
        self.tenant_rules = tenant_rules
        self.plans = plans
        #: physical topic name -> the channel its fetched batches go to (read by the consumer)
        self.batch_channels: dict[str, BatchChannel] = {}
        #: longest a fetch waits for data (read by the consumer)
        self.fetch_max_wait_ms = settings.fetch_max_wait_ms

    def _new_transport(self) -> BatchingTransport:
        return BatchingTransport(self.conf.broker_consumer, self)

    async def on_first_start(self) -> None:
        await super().on_first_start()
        # before the consumer and agents start (mode starts them after this), so no
        # agent ever holds events while it waits for the rules in force
        await self.definitions.start(self)
        await self.tenant_rules.start(self)
        await self.plans.start(self)
        await self.definitions.rules.wait_ready()


@dataclass
class Worker:
    """What ``create_app`` built; tests and tools reach the parts from here."""

    app: MemberflowApp
    settings: Settings
    rules: RulesInForce
    metrics: Metrics
    members: faust.Table
    ledger: faust.Table
    processor: MemberProcessor
    members_agent: Any
    commands_agent: Any
    definitions_agent: Any
    tenant_rules_agent: Any
    schedule: EvaluationSchedule
    devices: faust.Table
    devices_agent: Any
    plans_agent: Any = None


def create_app(
    settings: Settings | None = None,
    rulebook: RuleBook | None = None,
    registry: CollectorRegistry | None = None,
) -> Worker:
    settings = settings or Settings.from_env()
    rules = RulesInForce(rulebook or RuleBook.from_path(settings.rules_dir))
    metrics = Metrics(registry or CollectorRegistry())
    plans = PlanFollower(settings, rules)
    app = MemberflowApp(settings, DefinitionFollower(settings, rules, metrics.badges),
                        RulesReader(settings, rules, metrics), plans)

    # state: one member state per member, and its points history (both changelog-backed RocksDB)
    members_state = members_table.declare(app, settings.partitions)
    ledger_rows = ledger_table.declare(app, settings.partitions)

    # the members agent: every member-keyed topic, as one co-partitioned subscription
    member_topics = app.topic(*(settings.topic(t) for t in MEMBER_TOPICS), **RAW)
    app.topic(settings.topic(Topic.MEMBER_REKEY), partitions=settings.partitions, **RAW)
    answers = RedemptionAnswers()
    processor = MemberProcessor(settings, rules, members_state, ledger_rows, metrics, BatchPublisher.of_app(app),
                                answers)
    members_agent = members.register(app, member_topics, processor)

    # the commands agent: periodic evaluations, fanned out as slices to the members agent
    commands_agent, schedule = commands.register(app, app.topic(settings.topic(Topic.COMMANDS), **RAW),
                                                 CommandHandler(app, settings, metrics), rules)

    # business-line definitions: every worker reads them whole (app.definitions); one agent dead-letters bad ones
    definitions_agent = business_lines.register(app, app.topic(settings.topic(Topic.BUSINESS_LINES), **RAW),
                                                DefinitionChecker(app, settings, metrics))
    # tenant rules published at run time: every worker reads them whole too; one agent dead-letters bad ones
    tenant_rules_agent = tenant_rules.register(app, app.topic(settings.topic(Topic.TENANT_RULES), **RAW),
                                               RulesChecker(app, settings, metrics))

    # merchants' membership plans: every worker reads them whole (app.plans); one agent dead-letters what it could
    # not apply (engine/plans.py)
    plans_agent = membership_plans.register(app, app.topic(settings.topic(Topic.MEMBERSHIP_PLANS), **RAW),
                                            PlanChecker(app, settings, metrics, plans))

    # the device agent: registrations and logins re-keyed by device (from the members agent), one state per
    # device in its own table; verdicts go back to the members as commands, risk flags out
    device_states = devices_table.declare(app, settings.partitions)
    devices_agent = devices.register(app, app.topic(settings.topic(Topic.DEVICE_ACTIVITY), **RAW),
                                     DeviceHandler(app, settings, rules, device_states, metrics))

    # HTTP views, each routed to the worker that owns the member, for callers with a service token
    tokens = ServiceTokens(settings.service_tokens_file)
    member_views.register(app, members_state, rules, tokens)
    badges.register(app, members_state, rules, tokens)
    memberships.register(app, members_state, rules, tokens)
    entitlements.register(app, members_state, rules, tokens)
    quote.register(app, members_state, rules, tokens)
    redemptions.register(app, settings, members_state, answers, tokens)
    benefit_usage.register(app, settings, tokens)
    ledger.register(app, settings, ledger_rows, tokens)
    metrics_view.register(app, metrics.registry)

    return Worker(app, settings, rules, metrics, members_state, ledger_rows, processor, members_agent,
                  commands_agent, definitions_agent, tenant_rules_agent, schedule, device_states, devices_agent,
                  plans_agent)
