"""Tenant rules published at run time, on every worker (``tenant-rules``).

Like the business-line definitions (``agents.business_lines``): every worker
reads the whole topic (``agents.whole_topic``) before it serves, folds each
version into ``engine.published_rules.LiveRules`` (the highest valid version
per tenant wins) and swaps the book in ``RulesInForce`` -- the next batch
evaluates with it, no restart.  A tenant with no rules file is onboarded by
its first version.

An invalid version (one that does not validate as ``config.rules_versions.RulesVersion``:
the same checks as ``memberflow rules check``) is dead-lettered as ``invalid_rules`` by
a Faust agent in the consumer group, so one worker writes each (a redelivery repeats
the same ``dead_letter_id``); every worker's reader skips it, and the previous version
stays in force.  A stale or duplicate version changes nothing.
"""

from __future__ import annotations

import logging

import faust

from agents.checked_topic import report
from agents.metrics import Metrics
from agents.records import Record, dead_letter
from agents.rules_in_force import RulesInForce
from agents.whole_topic import WholeTopicReader
from config.settings import Settings
from config.topics import Topic
from engine.published_lines import Verdict
from engine.published_rules import parse_version
from models.outputs import DeadLetterReason

log = logging.getLogger(__name__)


class RulesReader(WholeTopicReader):
    """This worker's reader of the whole ``tenant-rules`` topic."""

    topic = Topic.TENANT_RULES

    def __init__(self, settings: Settings, rules: RulesInForce, metrics: Metrics) -> None:
        super().__init__(settings, rules)
        self.metrics = metrics

    def apply(self, raw: bytes | None) -> None:
        live = self.rules.live
        offer = live.offer_rules(raw, self.settings.max_payload_bytes)
        self.metrics.rules_versions.labels(offer.verdict.value).inc()
        if offer.verdict is Verdict.APPLIED:
            book = self.rules.book = live.book
            for tenant_rules in (book.default, *book.tenants.values()):  # a version may bring business lines
                for line_id, line in tenant_rules.business_lines.items():
                    self.metrics.badges.declare(line_id, line.top)
            log.info("tenant rules %s", offer.detail)
        elif offer.verdict is Verdict.IGNORED:
            log.info("tenant rules version ignored: %s", offer.detail)
        else:
            log.warning("invalid tenant rules version (the previous version stays): %s", offer.detail)

    def describe(self) -> str:
        versions = self.rules.live.versions.in_force
        return ", ".join(f"{tenant}=v{v.version}" for tenant, v in sorted(versions.items())) or "none published"


class RulesChecker:
    """Dead-letters invalid versions: run by one worker of the group per partition."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def check(self, record: Record) -> None:
        parsed = parse_version(record.value, self.settings.max_payload_bytes)
        letter = dead_letter(record, DeadLetterReason.INVALID_RULES, parsed) if isinstance(parsed, str) else None
        await report(self.app, self.settings, self.metrics, Topic.TENANT_RULES, letter)


def register(app: faust.App, topic: faust.TopicT, checker: RulesChecker) -> faust.types.AgentT:
    """The group agent that dead-letters invalid versions on ``topic``."""

    @app.agent(topic, name="tenant-rules-versions")
    async def versions(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await checker.check(Record(Topic.TENANT_RULES, event.value, event.key, message.partition,
                                       message.offset))

    return versions
