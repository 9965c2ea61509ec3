"""Prometheus metrics of a worker, built on a registry that is passed in.

Naming follows ``<namespace>_<noun>_<verb/unit>``; label values come from
enums and the topic registry, created up front so every series exists from
the start.  Counted per batch by the agents, never per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from config.topics import MEMBER_INPUTS, OUTPUTS
from engine.experiments import Tallies
from engine.outcome import Emitted
from models.benefits import BenefitChange
from models.devices import RiskAction, RiskFlag, RiskRule
from models.outputs import (
    BadgeChange,
    BenefitGrant,
    DeadLetterReason,
    LedgerEntry,
    LedgerKind,
    Notification,
    NotificationKind,
    TierChange,
    TierDirection,
)
from models.state import MemberStatus

ZERO = Decimal(0)

OUTCOMES = ("applied", "rewound", "duplicate", "dead_lettered", "forwarded")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.badges = BadgeMetrics(registry)
        self.benefits = BenefitMetrics(registry)
        self.risk = RiskMetrics(registry)
        self.experiments = ExperimentMetrics(registry)
        self.events_consumed = Counter(
            "memberflow_events_consumed",
            "Input events consumed, by logical topic and outcome",
            ["topic", "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "memberflow_dead_letters", "Inputs sent to dead-letters, by reason", ["reason"], registry=registry
        )
        self.processing_seconds = Histogram(
            "memberflow_event_processing_seconds",
            "From arrival at the worker to the event's outputs being acknowledged by the broker",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.outputs_sent = Counter(
            "memberflow_outputs_sent", "Output messages sent, by logical topic", ["topic"], registry=registry
        )
        self.batch_size = Histogram(
            "memberflow_batch_size",
            "Events per processed batch",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
            registry=registry,
        )
        self.tier_changes = Counter(
            "memberflow_tier_changes", "Tier changes, by direction and new tier", ["direction", "to_tier"],
            registry=registry,
        )
        self.points = Counter(
            "memberflow_points", "Points moved, by ledger kind (absolute value)", ["kind"], registry=registry
        )
        self.batch_retries = Counter(
            "memberflow_batch_retries",
            "Batches that failed (the broker unreachable, say) and were tried again",
            registry=registry,
        )
        self.outputs_retracted = Counter(
            "memberflow_outputs_retracted",
            "Outputs withdrawn by a correction, by logical topic (a late event changed the history before them)",
            ["topic"],
            registry=registry,
        )
        self.members_evaluated = Counter(
            "memberflow_members_evaluated", "Members evaluated by the periodic evaluation", registry=registry
        )
        self.members_not_due = Counter(
            "memberflow_members_not_due",
            "Members the periodic evaluation passed over: their stored due mark says it has nothing to do",
            registry=registry,
        )
        self.rules_versions = Counter(
            "memberflow_rules_versions",
            "Tenant rules versions this worker read from tenant-rules, by verdict (applied, ignored, invalid)",
            ["verdict"],
            registry=registry,
        )
        for verdict in ("applied", "ignored", "invalid"):
            self.rules_versions.labels(verdict)
        for topic in MEMBER_INPUTS:
            for outcome in OUTCOMES:
                self.events_consumed.labels(topic, outcome)
        for reason in DeadLetterReason:
            self.dead_letters.labels(reason.value)
        for topic in OUTPUTS:
            self.outputs_sent.labels(topic)
            self.outputs_retracted.labels(topic)
        for kind in LedgerKind:
            self.points.labels(kind.value)
        for direction in TierDirection:
            self.tier_changes.labels(direction.value, "NORMAL")


class BadgeMetrics:
    """Business-line badges (seed 000).

    ``memberflow_badge_members{line, level}`` is kept by each worker from the
    badge changes it made (+1 on the new level, -1 on the old one; level 0, no
    badge, is not counted).  A member's partition can move between workers, so
    one worker's series can even go negative: only the sum across workers
    means "members per line and level" -- dashboards use
    ``sum by (line, level) (memberflow_badge_members)``.  A restarted worker
    starts again from 0, so the sum counts changes made since the workers started.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.members = Gauge(
            "memberflow_badge_members",
            "Net members moved to each badge level by this worker (sum across workers)",
            ["line", "level"],
            registry=registry,
        )
        self.changes = Counter(
            "memberflow_badge_changes", "Badge changes, by line and direction", ["line", "direction"],
            registry=registry,
        )
        self.definitions = Counter(
            "memberflow_business_line_definitions",
            "Business-line definitions this worker read, by verdict (applied, ignored, invalid)",
            ["verdict"],
            registry=registry,
        )

    def declare(self, line: str, levels: int) -> None:
        for level in range(1, levels + 1):
            self.members.labels(line, str(level))
        for direction in TierDirection:
            self.changes.labels(line, direction.value)

    def observe(self, outputs: Iterable[Emitted]) -> None:
        """Keep the per-worker badge gauge from the badge changes this worker sent."""
        for out in outputs:
            change = out.value
            if not isinstance(change, BadgeChange):
                continue
            if change.from_level > 0:
                self.members.labels(change.line_id, str(change.from_level)).dec()
            if change.to_level > 0:
                self.members.labels(change.line_id, str(change.to_level)).inc()
            self.changes.labels(change.line_id, change.direction.value).inc()


class BenefitMetrics:
    """Benefit instances issued and what became of them, by benefit kind and tier (``none``: no tier).

    The usage rate of a benefit is ``sum by (benefit, tier) (rate(memberflow_benefit_changes{action="used"}[1d]))``
    over ``sum by (benefit, tier) (rate(memberflow_benefits_issued[1d]))``; the read model's statistics
    give it per range of issue dates (``benefit_usage``).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.issued = Counter(
            "memberflow_benefits_issued", "Benefit instances issued (a grant of quantity n counts n)",
            ["benefit", "tier"], registry=registry,
        )
        self.changes = Counter(
            "memberflow_benefit_changes", "Benefit instances used, restored, voided or expired, by benefit and tier",
            ["benefit", "tier", "action"], registry=registry,
        )

    def observe(self, outputs: Iterable[Emitted]) -> None:
        for out in outputs:
            value = out.value
            if isinstance(value, BenefitGrant) and value.retracts is None:
                self.issued.labels(value.benefit, value.tier or "none").inc(value.quantity)
            elif isinstance(value, BenefitChange) and value.retracts is None:
                self.changes.labels(value.benefit, value.tier or "none", value.action).inc()


#: the risk decisions an operator makes on a flag (engine/spending.py)
RISK_DECISIONS = ("release", "confirm", "dismiss")


class ExperimentMetrics:
    """Live experiments (config/experiments.py), per experiment and variant, from what the arms' members
    did on this worker since it started: members enrolled, orders and spend (net of refunds), points
    issued, tier moves, benefits granted and used.  Members per variant in all, and so spend per member,
    are the read model's (``GET /tenants/{t}/experiments/{id}/statistics``); dashboards sum these series
    across workers."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["experiment", "variant"]
        self.members = Counter("memberflow_experiment_members",
                               "Members enrolled in an experiment arm (their state came to name the experiment)",
                               labels, registry=registry)
        self.orders = Counter("memberflow_experiment_orders", "Orders paid by members in an experiment arm",
                              labels, registry=registry)
        self.spend = Counter("memberflow_experiment_spend", "Money paid by members in an experiment arm",
                             labels, registry=registry)
        self.refunds = Counter("memberflow_experiment_refunds",
                               "Money refunded of orders paid in an experiment arm (no more than each order paid)",
                               labels, registry=registry)
        self.points = Counter("memberflow_experiment_points_issued",
                              "Points earned by members in an experiment arm (gifts aside)", labels, registry=registry)
        self.tier_changes = Counter("memberflow_experiment_tier_changes",
                                    "Tier changes of members in an experiment arm, by direction",
                                    [*labels, "direction"], registry=registry)
        self.benefits = Counter("memberflow_experiment_benefits",
                                "Benefits granted to and used by members in an experiment arm, by action",
                                [*labels, "action"], registry=registry)

    def counted(self, before: Tallies, after: Tallies) -> None:
        """What one event or evaluation added to its member's arms, as the member's exposures counted it
        (``engine.experiments.arm_tallies`` before and after): an enrolment, orders and spend (a refund
        takes back no more than its order paid, and only from an order paid in the experiment)."""
        for experiment, (variant, orders, spend) in after.items():
            arm = (experiment, variant)
            if experiment not in before:
                self.members.labels(*arm).inc()
            _, orders_before, spend_before = before.get(experiment, (variant, 0, ZERO))
            if orders > orders_before:
                self.orders.labels(*arm).inc(orders - orders_before)
            if spend > spend_before:
                self.spend.labels(*arm).inc(float(spend - spend_before))
            elif spend < spend_before:
                self.refunds.labels(*arm).inc(float(spend_before - spend))

    def output(self, value: object) -> None:
        """One output naming its arm."""
        arm = (value.experiment, value.variant)  # type: ignore[attr-defined]
        if isinstance(value, LedgerEntry):
            if value.kind is LedgerKind.EARN and value.rule != "gift" and value.retracts is None:
                self.points.labels(*arm).inc(max(value.delta, 0))
        elif isinstance(value, TierChange):
            self.tier_changes.labels(*arm, value.direction.value).inc()
        elif isinstance(value, BenefitGrant):
            self.benefits.labels(*arm, "granted").inc()
        elif isinstance(value, BenefitChange) and value.action == "used":
            self.benefits.labels(*arm, "used").inc()


class RiskMetrics:
    """Risk flags by rule and action, operators' decisions on them, open holds and locked or frozen members.

    The gauges are kept, as the badge gauge is, from the changes this worker made (+1 when a hold
    flag is raised, -1 when an operator releases or confirms it; +1 / -1 as a member's status
    becomes or stops being locked or frozen): only the sum across workers means something --
    ``sum by (status) (memberflow_members_status)`` -- and it counts the changes made since the
    workers started (the read model's members table has every member's status).  The release rate
    is ``sum(rate(memberflow_risk_decisions_total{decision="release"}[1d]))`` over
    ``sum(rate(memberflow_risk_decisions_total[1d]))``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.flags = Counter("memberflow_risk_flags", "Risk flags raised, by rule and action", ["rule", "action"],
                             registry=registry)
        self.decisions = Counter(
            "memberflow_risk_decisions", "Operators' decisions on abnormal spending flags (release, confirm, dismiss)",
            ["decision"], registry=registry)
        self.holds = Gauge("memberflow_risk_holds_open",
                           "Net hold flags raised and not yet released or confirmed, by this worker (sum across "
                           "workers)", registry=registry)
        self.status = Gauge("memberflow_members_status",
                            "Net members this worker moved into a locked or frozen status (sum across workers)",
                            ["status"], registry=registry)
        for rule in RiskRule:
            for action in RiskAction:
                self.flags.labels(rule.value, action.value)
        for decision in RISK_DECISIONS:
            self.decisions.labels(decision)
        for status in (MemberStatus.LOCKED, MemberStatus.FROZEN):
            self.status.labels(status.value)

    def observe(self, outputs: Iterable[Emitted]) -> None:
        for out in outputs:
            value = out.value
            if getattr(value, "retracts", None) is not None:
                continue  # a correction's withdrawal: not a new flag or decision
            if isinstance(value, RiskFlag):
                self.flags.labels(value.rule.value, value.action.value).inc()
                if value.action is RiskAction.HOLD:
                    self.holds.inc()
            elif isinstance(value, Notification):
                if value.kind is NotificationKind.RISK_DECISION:
                    decision = value.data.get("decision")
                    if decision in RISK_DECISIONS:
                        self.decisions.labels(decision).inc()
                    if value.data.get("action") == "hold" and decision in ("release", "confirm"):
                        self.holds.dec()
                elif value.kind is NotificationKind.ACCOUNT_STATUS:
                    self._status(value.data)

    def _status(self, data: dict) -> None:
        new = data.get("status")
        # a lock by a penalty names no previous status: it locks only active accounts
        previous = data.get("previous", MemberStatus.ACTIVE.value)
        if new == previous:
            return
        for status, step in ((previous, -1), (new, 1)):
            if status in (MemberStatus.LOCKED.value, MemberStatus.FROZEN.value):
                self.status.labels(status).inc(step)
