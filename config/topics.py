"""Every topic memberflow reads or writes, declared once.

A topic has a logical name (the physical name is the settings' prefix plus
it, unless overridden), a role, what its Kafka key is, who reads it, and its
pydantic contract.  Everything else derives from this registry: what the
members agent subscribes to and how it validates (``engine.intake``), the
JSON Schemas (``memberflow schemas``), the topics created at start-up, the
settings overrides (``MEMBERFLOW_TOPIC_<NAME>``), the metrics' label values
and the README's topic table and diagram (``topic_table``/``topology_diagram``,
checked by a test).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from config.business_lines import LineDefinition
from config.membership_plans import PlanStep
from config.rules_versions import RulesVersion
from models.admin import AuditRecord
from models.badges import BusinessScores
from models.benefits import BenefitChange, BenefitUsage
from models.commands import MemberCommand
from models.devices import DeviceActivity, RiskFlag
from models.evaluation import EvaluateCommand, EvaluateSlice
from models.events import Complaint, Login, OrderEvent, Profile, Registration, Review, Verification
from models.outputs import (
    BadgeChange,
    BenefitGrant,
    ContactChange,
    DeadLetter,
    LedgerEntry,
    MembershipChange,
    Notification,
    TierChange,
)
from models.redemptions import RedemptionRequest, RedemptionResult


class Role(StrEnum):
    INPUT = "input"  # published by upstream systems or operators
    INTERNAL = "internal"  # written and read by memberflow itself
    OUTPUT = "output"  # published by memberflow for benefit systems and dashboards
    RECORD = "record"  # published by the admin service: what operators did


class Reader(StrEnum):
    MEMBERS = "members agent"  # co-partitioned on the member id, one writer per member
    COMMANDS = "commands agent"
    DEVICES = "device agent"  # co-partitioned on the tenant and device id
    EVERY_WORKER = "every worker"  # read whole by each worker, no consumer group
    DOWNSTREAM = "downstream"  # consumers outside memberflow
    READ_MODEL = "read model, downstream"  # the read model's projector, and consumers outside memberflow


class Topic(StrEnum):
    """A logical topic; compares equal to its name."""

    role: Role
    key: str
    reader: Reader
    contract: Any
    about: str
    adapter: TypeAdapter | None

    def __new__(cls, name: str, role: Role, key: str, reader: Reader, contract: Any, about: str) -> Topic:
        topic = str.__new__(cls, name)
        topic._value_ = name
        topic.role = role
        topic.key = key
        topic.reader = reader
        topic.contract = contract
        topic.about = about
        topic.adapter = TypeAdapter(contract) if contract is not None else None
        return topic

    ORDERS = ("orders", Role.INPUT, "member id", Reader.MEMBERS, OrderEvent,
              "`order_paid` (order id, amount, items) and `order_refunded` (order id, amount)")
    REVIEWS = ("reviews", Role.INPUT, "member id", Reader.MEMBERS, Review, "a review, optionally of an order")
    LOGINS = ("logins", Role.INPUT, "member id", Reader.MEMBERS, Login, "a login, optionally with the device id")
    COMPLAINTS = ("complaints", Role.INPUT, "member id", Reader.MEMBERS, Complaint,
                  "a complaint with its verdict: `malicious`, `upheld` or `dismissed`")
    PROFILES = ("profiles", Role.INPUT, "member id", Reader.MEMBERS, Profile,
                "birthday, time zone, invited tier; name, phone, email")
    BUSINESS_SCORES = ("business-scores", Role.INPUT, "member id", Reader.MEMBERS, BusinessScores,
                       "a business line's daily snapshot of a member's scores, as its data API gives it")
    REDEMPTIONS = ("redemptions", Role.INPUT, "member id", Reader.MEMBERS, RedemptionRequest,
                   "spend points: coupons, points + cash, merchandise, gifts and gift answers")
    BENEFIT_USAGE = ("benefit-usage", Role.INPUT, "member id", Reader.MEMBERS, BenefitUsage,
                     "a benefit `used` on an order, `voided`, or `restored` after the order's refund")
    REGISTRATIONS = ("registrations", Role.INPUT, "member id", Reader.MEMBERS, Registration,
                     "a sign-up: channel, device id, the inviting member, the merchant")
    VERIFICATIONS = ("verifications", Role.INPUT, "member id", Reader.MEMBERS, Verification,
                     "an e-mail, phone or real-name check: `verified` or `false_information`")
    BUSINESS_LINES = ("business-lines", Role.INPUT, "tenant/line", Reader.EVERY_WORKER, LineDefinition,
                      "a business line's badge definition, versioned")
    TENANT_RULES = ("tenant-rules", Role.INPUT, "tenant id", Reader.EVERY_WORKER, RulesVersion,
                    "a tenant's complete rules, versioned (the admin service publishes them)")
    MEMBERSHIP_PLANS = ("membership-plans", Role.INPUT, "tenant/merchant", Reader.EVERY_WORKER, PlanStep,
                        "a merchant's membership plan steps: merchant, card template, plan and levels, card product, "
                        "activity, benefit binding, lifecycle")
    COMMANDS = ("commands", Role.INPUT, "tenant or `*`", Reader.COMMANDS, EvaluateCommand,
                "start a periodic evaluation as of a moment (the leader sends it on each schedule too)")
    MEMBER_REKEY = ("member-rekey", Role.INTERNAL, "member id", Reader.MEMBERS, None,
                    "an input that arrived keyed otherwise, forwarded to its member's partition")
    MEMBER_COMMANDS = ("member-commands", Role.INTERNAL, "member id", Reader.MEMBERS, MemberCommand,
                       "gift hand-offs between members; operator adjustments and account actions; member imports; "
                       "device verdicts, accepted invitations")
    DEVICE_ACTIVITY = ("device-activity", Role.INTERNAL, "tenant/device", Reader.DEVICES, DeviceActivity,
                       "registrations and logins re-keyed by device, from the members agent")
    EVALUATION_SLICES = ("evaluation-slices", Role.INTERNAL, "`slice-<partition>`", Reader.MEMBERS, EvaluateSlice,
                         "the next members of one partition to evaluate")
    POINTS_LEDGER = ("points-ledger", Role.OUTPUT, "member id", Reader.DOWNSTREAM, LedgerEntry,
                     "every change to a balance")
    TIER_CHANGES = ("tier-changes", Role.OUTPUT, "member id", Reader.DOWNSTREAM, TierChange,
                    "upgrades (at once) and downgrades (at evaluation)")
    BADGE_CHANGES = ("badge-changes", Role.OUTPUT, "member id", Reader.DOWNSTREAM, BadgeChange,
                     "business-line badges gained and lost")
    BENEFIT_GRANTS = ("benefit-grants", Role.OUTPUT, "member id", Reader.DOWNSTREAM, BenefitGrant,
                      "upgrade gifts, tier coupons, birthday packs, badge rights")
    BENEFIT_CHANGES = ("benefit-changes", Role.OUTPUT, "member id", Reader.DOWNSTREAM, BenefitChange,
                       "benefit instances used, restored, voided or expired")
    MEMBERSHIP_CHANGES = ("membership-changes", Role.OUTPUT, "member id", Reader.DOWNSTREAM, MembershipChange,
                          "memberships of merchants' plans joined, extended, upgraded, expired, revoked")
    NOTIFICATIONS = ("notifications", Role.OUTPUT, "member id", Reader.DOWNSTREAM, Notification,
                     "warnings, nudges, account status, gifts")
    REDEMPTION_RESULTS = ("redemption-results", Role.OUTPUT, "member id", Reader.DOWNSTREAM, RedemptionResult,
                          "the answer to every redemption request")
    DEAD_LETTERS = ("dead-letters", Role.OUTPUT, "member id or the input's key", Reader.DOWNSTREAM, DeadLetter,
                    "input that was not applied, with the reason")
    RISK_FLAGS = ("risk-flags", Role.OUTPUT, "tenant/device or member id", Reader.DOWNSTREAM, RiskFlag,
                  "a risk rule tripped: the device and the members it counted, or the member's abnormal spending; "
                  "the rule, the action, the evidence")
    MEMBER_CONTACTS = ("member-contacts", Role.OUTPUT, "member id", Reader.READ_MODEL, ContactChange,
                       "name, phone and email as a profile or an import gave them")
    AUDIT = ("audit", Role.RECORD, "tenant id", Reader.READ_MODEL, AuditRecord,
             "every write through the admin service: who, when, what, why, request id, outcome")


MEMBER_TOPICS: tuple[Topic, ...] = tuple(t for t in Topic if t.reader is Reader.MEMBERS)
MEMBER_INPUTS: tuple[Topic, ...] = tuple(t for t in MEMBER_TOPICS if t.role is Role.INPUT)
#: topics whose every value is one member's event, applied by the engine (``engine.intake``)
MEMBER_EVENTS: tuple[Topic, ...] = (*MEMBER_INPUTS, Topic.MEMBER_COMMANDS)
OUTPUTS: tuple[Topic, ...] = tuple(t for t in Topic if t.role is Role.OUTPUT)
#: outputs of the device agent (the rest come from the members agent, which also flags abnormal spending)
DEVICE_OUTPUTS: tuple[Topic, ...] = (Topic.RISK_FLAGS,)


def topic_table() -> str:
    """The README's table of topics, as Markdown."""
    rows = ["| topic | role | key | read by | carries |", "|---|---|---|---|---|"]
    rows += [f"| `{t}` | {t.role} | {t.key} | {t.reader} | {t.about} |" for t in Topic]
    return "\n".join(rows)


def topology_diagram() -> str:
    """The README's picture of the topology, drawn from the registry."""
    inputs = [t for t in MEMBER_TOPICS if t.role is Role.INPUT]
    internal = [t for t in MEMBER_TOPICS if t.role is Role.INTERNAL]
    left = [*inputs, *internal]
    outputs = [t for t in OUTPUTS if t not in DEVICE_OUTPUTS]
    width = max(len(t) for t in left)
    middle = min(len(left), len(outputs)) // 2
    agent = " [members agent] "
    lines = []
    for i in range(max(len(left), len(outputs))):
        if i < len(left):
            joint = "┐" if i == 0 else "┘" if i == len(left) - 1 else "┼" if i == middle else "┤"
            name = f"{left[i]:<{width}} ─{joint}"
        else:
            name = " " * (width + 2)
        gap = f"─{agent}─" if i == middle else " " * (len(agent) + 2)
        if i < len(outputs):
            joint = "┌" if i == 0 else "└" if i == len(outputs) - 1 else "┼" if i == middle else "├"
            lines.append(f"{name}{gap}{joint}─> {outputs[i]}")
        else:
            lines.append(f"{name}{gap}".rstrip())
    lines.append("")
    lines.append(f"{Topic.COMMANDS} ─> [commands agent] ─> {Topic.EVALUATION_SLICES} (one slice per partition)")
    lines.append(f"{Topic.BUSINESS_LINES} ─> [every worker reads it whole] ─> the badge definitions in force")
    lines.append(f"{Topic.TENANT_RULES} ─> [every worker reads it whole] ─> the tenant rules in force")
    lines.append(f"{Topic.MEMBERSHIP_PLANS} ─> [every worker reads it whole] ─> the merchants' plans in force")
    lines.append(f"[members agent] ─> {Topic.MEMBER_COMMANDS}, {Topic.EVALUATION_SLICES}, {Topic.MEMBER_REKEY}"
                 " (back to itself, on the member's partition)")
    lines.append(f"[members agent] ─> {Topic.DEVICE_ACTIVITY} ─> [device agent] ─> {Topic.MEMBER_COMMANDS}, "
                 f"{', '.join(DEVICE_OUTPUTS)}")
    lines.append(f"[admin service] ─> {Topic.AUDIT} ─> [read model projector]")
    return "\n".join(lines)
