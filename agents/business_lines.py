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
topic up to its end as of start-up (``agents.whole_topic``), so a worker that starts
later evaluates with the current definitions; the members agent also checks
``RulesInForce.ready`` before each batch (then a no-op).  Afterwards a new definition applies from the next batch on; a
snapshot evaluated just before it names the older version in its badge change.

Invalid definitions are dead-lettered by a Faust agent in the consumer group,
so one worker writes each (at-least-once: a redelivery repeats the same
``dead_letter_id``); every worker's follower just skips them.
"""

from __future__ import annotations

import logging

import faust

from agents.checked_topic import report
from agents.metrics import BadgeMetrics, Metrics
from agents.records import Record, check_definition
from agents.rules_in_force import RulesInForce
from agents.whole_topic import WholeTopicReader
from config.settings import Settings
from config.topics import Topic
from engine.published_lines import Verdict

log = logging.getLogger(__name__)


class DefinitionFollower(WholeTopicReader):
    """This worker's reader of the whole ``business-lines`` topic."""

    topic = Topic.BUSINESS_LINES

    def __init__(self, settings: Settings, rules: RulesInForce, metrics: BadgeMetrics) -> None:
        super().__init__(settings, rules)
        self.live = rules.live
        self.metrics = metrics
        for tenant_rules in (rules.book.default, *rules.book.tenants.values()):
            for line_id, line in tenant_rules.business_lines.items():
                metrics.declare(line_id, line.top)

    def apply(self, raw: bytes | None) -> None:
        offer = self.live.offer_lines(raw, self.settings.max_payload_bytes)
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
        return ", ".join(f"{tenant}/{line}=v{d.version}" for tenant, lines in sorted(self.live.lines.published.items())
                         for line, d in sorted(lines.items())) or "none published"


class DefinitionChecker:
    """Dead-letters invalid definitions: run by one worker of the group per partition
    (at-least-once: a redelivery repeats the same ``dead_letter_id``)."""

    def __init__(self, app: faust.App, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def check(self, record: Record) -> None:
        letter = check_definition(record, self.settings.max_payload_bytes)
        await report(self.app, self.settings, self.metrics, Topic.BUSINESS_LINES, letter)


def register(app: faust.App, topic: faust.TopicT, checker: DefinitionChecker) -> faust.types.AgentT:
    """The group agent that dead-letters invalid definitions on ``topic``."""

    @app.agent(topic, name="business-line-definitions")
    async def definitions(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await checker.check(Record(Topic.BUSINESS_LINES, event.value, event.key, message.partition,
                                       message.offset))

    return definitions
