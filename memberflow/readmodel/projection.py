"""What a record of a topic does to the read model: the projection, without Kafka.

The projector (``memberflow.readmodel.projector``) has a batch of records
prepared into rows (``Projection.prepare``, no database) and written with a
connection inside a transaction (``Projection.write``; ``apply`` does both);
the rows and the topics' next offsets are written together, so a batch is
applied whole or not at all.

* **Outputs** (points-ledger, benefit-grants, redemption-results,
  tier-changes, membership-changes, dead-letters, and the notifications of kind ``account_status``
  and ``tier_override`` into ``account_changes``) and audit records are
  upserted by their output id: a redelivery writes the same row again.  An
  output with ``retracts`` set deletes the row of the id it withdraws; the
  same id published again after it is inserted again.  Within a batch the
  last operation on an id is the one applied.
* **Contact details** (member-contacts) are merged into ``member_contacts``
  field by field: a name, phone or email replaces the stored one only when
  its event time is not older, so the order they are read in does not matter.
* **The member table's changelog** (``<app id>-members-v<N>-changelog``): a
  member's last value in the batch (earlier ones are superseded: the row
  holds the latest state) is decoded with ``tables.members.decode`` and
  summarised with ``engine.views.member_summary`` under the tenant's rules,
  as of the moment it is projected; the member's row is replaced and the
  gifts it sent, the benefit instances it holds and its memberships of
  merchants' plans (``engine.memberships.memberships_view``: one past
  ``until`` is ``expired`` as of the summary) and its parts in live experiments
  (the summary's ``experiments``: arm and figures, into ``experiment_members``)
  are upserted (an instance the state no longer keeps stays as it was last seen).  A tombstone deletes the
  member's row.
  The row carries the member's next points expiry (``next_expiry_at``, ``next_expiry_points``) for the
  expiry-warning preview.
* **Tenant rules versions** (``tenant-rules``): each valid version is inserted once (keyed by tenant and
  version; the admin service inserts the versions it publishes at once, the same row) and folded into the
  rules members are summarised with, as on the workers; an invalid one is skipped (a worker dead-letters it).
* **Business-line versions** (``business-lines``): each valid definition is inserted once, keyed by tenant,
  line and version, with the offset and broker time of the first record that carried it, so a redelivery or a
  rebuild writes the same row; an invalid one is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql, sqlite

from config.rules import RuleBook
from config.rules_versions import RulesVersion
from config.settings import Settings
from config.topics import Topic
from engine.memberships import memberships_view
from engine.published_lines import parse_definition
from engine.published_rules import RulesVersions, parse_version
from engine.views import member_summary
from memberflow.readmodel import schema
from models.outputs import NotificationKind
from tables.members import SEPARATOR, decode

#: the logical name the projector gives the member table's changelog
MEMBERS_CHANGELOG = "members-changelog"

_KEY_SEPARATOR = SEPARATOR.encode()
#: the largest tenant-rules value read by default (the workers' default limit)
MAX_RULES_BYTES = Settings.model_fields["max_payload_bytes"].default

#: topic -> its table and the id field of its values
TOPIC_TABLES: dict[Topic, tuple[sa.Table, str]] = {
    Topic.POINTS_LEDGER: (schema.ledger, "entry_id"),
    Topic.BENEFIT_GRANTS: (schema.grants, "grant_id"),
    Topic.REDEMPTION_RESULTS: (schema.redemptions, "result_id"),
    Topic.TIER_CHANGES: (schema.tier_changes, "change_id"),
    Topic.MEMBERSHIP_CHANGES: (schema.membership_changes, "change_id"),
    Topic.DEAD_LETTERS: (schema.dead_letters, "dead_letter_id"),
    Topic.AUDIT: (schema.audit, "audit_id"),
    Topic.NOTIFICATIONS: (schema.account_changes, "notification_id"),
}
#: tables whose rows are written once and never changed
WRITTEN_ONCE = (schema.audit, schema.rules_versions, schema.business_line_versions)
#: the contact details ``member-contacts`` carries, each merged on its own
CONTACT_FIELDS = ("name", "phone", "email")
#: the counts of a member's exposure in an experiment (its summary's ``experiments`` entries)
EXPOSURE_COUNTS = ("orders", "points_issued", "upgrades", "downgrades", "grants", "benefits_used")
#: every logical topic the projector reads
SOURCES: tuple[str, ...] = (*TOPIC_TABLES, Topic.MEMBER_CONTACTS, Topic.TENANT_RULES, Topic.BUSINESS_LINES,
                             MEMBERS_CHANGELOG)


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as the projection needs it; ``topic`` is logical, ``physical`` the broker's name."""

    topic: str
    physical: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def utc(moment: datetime | str | None) -> datetime | None:
    """A moment in UTC (the form every time column is written in, so SQLite compares them right)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
           keep: dict[str, Callable[[Any, Any], Any]] | None = None) -> None:
    """Insert ``rows``, replacing the row with the same primary key; ``keep`` maps a column
    to how to merge its (existing, new) values instead of replacing it."""
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    key = [c.name for c in table.primary_key.columns]
    update = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
    for column, merge in (keep or {}).items():
        update[column] = merge(table.c[column], insert.excluded[column])
    conn.execute(insert.on_conflict_do_update(index_elements=key, set_=update), rows)


def insert_new(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, leaving a row already there with the same primary key as it is."""
    if rows:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        conn.execute(insert.on_conflict_do_nothing(index_elements=[c.name for c in table.primary_key.columns]), rows)


def _earliest(existing: Any, new: Any) -> Any:
    return sa.case((sa.and_(existing.is_not(None), sa.or_(new.is_(None), existing < new)), existing), else_=new)


@dataclass(slots=True)
class Batch:
    """A batch of records prepared: each row by (table, primary key) -- None deletes it -- and
    each (physical topic, partition)'s next offset."""

    rows: dict[tuple[sa.Table, tuple], dict[str, Any] | None] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    count: int = 0


class Projection:
    """Applies records to the read model; ``now`` is the clock member summaries are taken by."""

    def __init__(self, rules: RuleBook, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_bytes: int = MAX_RULES_BYTES) -> None:
        self.versions = RulesVersions(rules)
        self.now = now
        self.max_bytes = max_bytes

    @property
    def rules(self) -> RuleBook:
        return self.versions.book

    def apply(self, conn: sa.Connection, records: Iterable[Record]) -> int:
        """Apply ``records`` (in the order read) and advance their partitions' positions; the count applied."""
        batch = self.prepare(records)
        self.write(conn, batch)
        return batch.count

    def prepare(self, records: Iterable[Record]) -> Batch:
        """The rows ``records`` (in the order read) come to, without the database.  Batches are
        prepared in the order read, and written in that order (``write``)."""
        batch = Batch()
        final = batch.rows
        members: dict[bytes | None, Record] = {}  # a member's last changelog record in the batch: summarised once
        for record in records:
            batch.count += 1
            batch.positions[(record.physical, record.partition)] = record.offset + 1
            if record.topic == MEMBERS_CHANGELOG:
                members[record.key] = record
            elif record.topic == Topic.TENANT_RULES:
                self._rules_version(record, final)
            elif record.topic == Topic.BUSINESS_LINES:
                self._line_version(record, final)
            else:
                self._output(record, final)
        for record in members.values():
            self._member(record, final)
        return batch

    def write(self, conn: sa.Connection, batch: Batch) -> None:
        """A prepared batch's rows and its partitions' positions, in ``conn``'s transaction."""
        self._write(conn, batch.rows)
        upsert(conn, schema.positions, [{"topic": t, "partition": p, "next_offset": o}
                                        for (t, p), o in batch.positions.items()])

    # -- outputs --------------------------------------------------------------

    def _output(self, record: Record, final: dict) -> None:
        if record.value is None:
            return
        topic = Topic(record.topic)
        if topic is Topic.MEMBER_CONTACTS:
            self._contact(Topic.MEMBER_CONTACTS.adapter.validate_json(record.value), final)
            return
        if topic is Topic.NOTIFICATIONS and _ACCOUNT_CHANGE.search(record.value) is None:
            return  # most notifications: passed over before they are decoded
        table, id_field = TOPIC_TABLES[topic]
        value = topic.adapter.validate_json(record.value)
        retracts = getattr(value, "retracts", None)
        if retracts is not None:
            final[(table, (retracts,))] = None
            return
        row = _ROWS[topic](value, record)
        if row is not None:  # None: a value this table does not keep
            final[(table, (row[id_field],))] = row

    def _contact(self, value: Any, final: dict) -> None:
        key = (schema.member_contacts, (value.tenant_id, value.member_id))
        row = final.get(key) or {"tenant_id": value.tenant_id, "member_id": value.member_id, "name_folded": None,
                                 **{f: None for f in CONTACT_FIELDS}, **{f"{f}_at": None for f in CONTACT_FIELDS}}
        at = utc(value.occurred_at)
        for name in CONTACT_FIELDS:
            given = getattr(value, name)
            if given is not None and (row[f"{name}_at"] is None or at >= row[f"{name}_at"]):
                row[name], row[f"{name}_at"] = given, at
        row["name_folded"] = fold(row["name"])
        final[key] = row

    # -- tenant rules versions ------------------------------------------------

    def _rules_version(self, record: Record, final: dict) -> None:
        version = parse_version(record.value, self.max_bytes)
        if isinstance(version, str):
            return  # dead-lettered by a worker; the previous version stays in force here too
        self.versions.offer_version(version)
        # a version's number is taken by the first record with it, in a batch as across batches
        final.setdefault((schema.rules_versions, (version.tenant_id, version.version)), rules_version_row(version))

    def _line_version(self, record: Record, final: dict) -> None:
        definition = parse_definition(record.value, self.max_bytes)
        if isinstance(definition, str):
            return  # dead-lettered by a worker
        key = (schema.business_line_versions, (definition.tenant_id, definition.line_id, definition.version))
        final.setdefault(key, {
            "tenant_id": definition.tenant_id, "line_id": definition.line_id, "version": definition.version,
            "definition": definition.model_dump(mode="json"), "first_offset": record.offset,
            "first_seen_at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)})

    # -- the member table's changelog ------------------------------------------

    def _member(self, record: Record, final: dict) -> None:
        if record.key is None or _KEY_SEPARATOR not in record.key:
            return  # not a member: the workers' end-of-changelog marker
        tenant_id, _, member_id = record.key.decode().partition(SEPARATOR)
        if record.value is None:
            final[(schema.members, (tenant_id, member_id))] = None
            return
        state = decode(record.value)
        as_of = self.now()
        rules = self.rules.for_tenant(tenant_id)
        page = member_summary(state, rules, as_of)
        points = page["points"]
        # a member's row exists once an event was applied, so its times are known (``as_of`` is a last resort)
        last = utc(page["last_event_at"]) or utc(as_of)
        joined = _first_seen(state) or last
        final[(schema.members, (tenant_id, member_id))] = {
            "tenant_id": tenant_id, "member_id": member_id,
            "tier": page["tier"], "qualified_tier": page["qualified_tier"],
            "tier_since": utc(page["tier_since"]), "protection_until": utc(page["protection_until"]),
            "status": page["status"], "status_reason": page["status_reason"],
            "status_since": utc(page["status_since"]), "tier_override_until": utc(page["tier_override_until"]),
            "balance": points["balance"], "spendable": points["spendable"],
            "pending": points["pending"], "debt": points["debt"], "lifetime_earned": points["lifetime_earned"],
            "growth": page["growth"], "spend_30d": page["spend_30d"], "spend_365d": page["spend_365d"],
            "joined_at": joined, "last_event_at": last,
            "last_login_at": utc(page["last_login_at"]), "badges": page["badges"], "page": page,
            "summarised_at": utc(as_of), **_next_expiry(state),
        }
        for gift in page["redemptions"]["gifts_sent"]:
            final[(schema.gifts, (tenant_id, gift["gift_id"]))] = {
                "tenant_id": tenant_id, "gift_id": gift["gift_id"], "sender_id": member_id,
                "receiver_id": gift["to_member_id"], "points": gift["points"], "status": gift["status"],
                "offered_at": utc(gift["offered_at"]), "respond_by": utc(gift["respond_by"]),
                "closed_at": utc(gift["closed_at"]), "detail": gift,
            }
        for inst in page["benefits"]:
            final[(schema.benefit_instances, (tenant_id, inst["benefit_id"]))] = _instance(tenant_id, member_id, inst)
        if state.memberships:
            for held in memberships_view(state, rules, as_of)["memberships"]:
                key = (tenant_id, member_id, held["merchant_id"], held["plan_id"])
                final[(schema.memberships, key)] = _membership(tenant_id, member_id, held)
        for part in page.get("experiments", ()):
            final[(schema.experiment_members, (tenant_id, part["experiment"], member_id))] = experiment_member(
                tenant_id, member_id, part)

    # -- writing --------------------------------------------------------------

    def _write(self, conn: sa.Connection, final: dict) -> None:
        by_table: dict[sa.Table, tuple[list, list]] = {}
        for (table, key), row in final.items():
            rows, gone = by_table.setdefault(table, ([], []))
            (gone if row is None else rows).append(key if row is None else row)
        for table, (rows, gone) in by_table.items():
            if gone:
                columns = list(table.primary_key.columns)
                conn.execute(sa.delete(table).where(sa.tuple_(*columns).in_(gone)) if len(columns) > 1
                             else sa.delete(table).where(columns[0].in_([k[0] for k in gone])))
            if table in WRITTEN_ONCE:
                insert_new(conn, table, rows)
            elif table is schema.member_contacts:
                _merge_contacts(conn, rows)
            else:
                upsert(conn, table, rows, {"joined_at": _earliest} if table is schema.members else None)


def _instance(tenant_id: str, member_id: str, inst: dict[str, Any]) -> dict[str, Any]:
    saved = [Decimal(u["amount_saved"]) for u in inst["uses"] if u["amount_saved"] is not None]
    return {"tenant_id": tenant_id, "benefit_id": inst["benefit_id"], "member_id": member_id,
            "benefit": inst["benefit"], "tier": inst["tier"], "value": inst["value"], "quantity": inst["quantity"],
            "status": inst["status"], "uses": len(inst["uses"]), "amount_saved": sum(saved) if saved else None,
            "issued_at": utc(inst["issued_at"]), "valid_until": utc(inst["valid_until"]),
            "settled_at": utc(inst["settled_at"]), "detail": inst}


def experiment_member(tenant_id: str, member_id: str, part: dict[str, Any]) -> dict[str, Any]:
    """A member's row of an experiment from its summary's ``experiments`` entry (engine/experiments.py)."""
    return {"tenant_id": tenant_id, "experiment": part["experiment"], "member_id": member_id,
            "variant": part["variant"], "enrolled_at": utc(part["enrolled_at"]), "spend": Decimal(part["spend"]),
            **{name: int(part[name]) for name in EXPOSURE_COUNTS}}


def _membership(tenant_id: str, member_id: str, held: dict[str, Any]) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "member_id": member_id, "merchant_id": held["merchant_id"],
            "plan_id": held["plan_id"], "level_id": held["level_id"], "channel": held["channel"],
            "since": utc(held["since"]), "until": utc(held["until"]), "status": held["status"],
            "card_id": held["card_id"], "product_id": held["product_id"]}


def fold(name: str | None) -> str | None:
    """A name as the search compares it: case-folded."""
    return name.casefold() if name is not None else None


def _merge_contacts(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert contact rows; each field is replaced only by a value at least as recent as the stored one."""
    table = schema.member_contacts
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    stored, new = table.c, insert.excluded
    update: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        at, new_at = stored[f"{name}_at"], new[f"{name}_at"]
        newer = sa.and_(new_at.is_not(None), sa.or_(at.is_(None), new_at >= at))
        update[name] = sa.case((newer, new[name]), else_=stored[name])
        update[f"{name}_at"] = sa.case((newer, new_at), else_=at)
        if name == "name":
            update["name_folded"] = sa.case((newer, new.name_folded), else_=stored.name_folded)
    conn.execute(insert.on_conflict_do_update(index_elements=["tenant_id", "member_id"], set_=update), rows)


def _first_seen(state: Any) -> datetime | None:
    """The earliest event time the state shows: its first points, order, login or tier move, or its watermark."""
    times = [lot.earned_at for lot in state.lots]
    times += [order.paid_at for order in state.orders.values()]
    times += [t for t in (state.tier_since, state.last_login_at, state.watermark) if t is not None]
    return utc(min(times, key=utc)) if times else None


def _next_expiry(state: Any) -> dict[str, Any]:
    """When the member's next points lot expires, and the points expiring then."""
    expiring = [lot for lot in state.lots if lot.expires_at is not None]
    if not expiring:
        return {"next_expiry_at": None, "next_expiry_points": 0}
    first = min(lot.expires_at for lot in expiring)
    return {"next_expiry_at": utc(first),
            "next_expiry_points": sum(lot.amount for lot in expiring if lot.expires_at == first)}


def rules_version_row(v: RulesVersion) -> dict[str, Any]:
    return {"tenant_id": v.tenant_id, "version": v.version, "published_by": v.published_by, "reason": v.reason,
            "published_at": utc(v.published_at), "rules": v.rules.model_dump(mode="json")}


def _common(value: Any) -> dict[str, Any]:
    return {"tenant_id": value.tenant_id, "member_id": value.member_id, "occurred_at": utc(value.occurred_at),
            "cause_event_id": value.cause_event_id}


def _arm(value: Any) -> dict[str, Any]:
    return {"experiment": value.experiment, "variant": value.variant}


def _ledger(v: Any, _: Record) -> dict[str, Any]:
    return {**_common(v), "entry_id": v.entry_id, "kind": str(v.kind), "rule": v.rule, "delta": v.delta,
            "balance": v.balance, "order_id": v.order_id, "pending_until": utc(v.pending_until),
            "expires_at": utc(v.expires_at), "operator": v.operator, "approver": v.approver, "reason": v.reason,
            **_arm(v)}


def _grant(v: Any, _: Record) -> dict[str, Any]:
    return {**_common(v), "grant_id": v.grant_id, "benefit": v.benefit, "tier": v.tier, "value": v.value,
            "quantity": v.quantity, "valid_from": utc(v.valid_from), "valid_until": utc(v.valid_until),
            "line_id": v.line_id, "badge_level": v.badge_level, "details": _json(v.details), **_arm(v)}


def _redemption(v: Any, _: Record) -> dict[str, Any]:
    return {**_common(v), "result_id": v.result_id, "request_id": v.request_id, "kind": str(v.kind),
            "status": str(v.status), "reason": str(v.reason) if v.reason else None,
            "points_spent": v.points_spent, "points_returned": v.points_returned,
            "granted": v.granted.model_dump(mode="json") if v.granted is not None else None}


def _tier_change(v: Any, _: Record) -> dict[str, Any]:
    return {**_common(v), "change_id": v.change_id, "from_tier": v.from_tier, "to_tier": v.to_tier,
            "direction": str(v.direction), "reason": v.reason, **_arm(v)}


def _membership_change(v: Any, _: Record) -> dict[str, Any]:
    return {**_common(v), "change_id": v.change_id, "kind": str(v.kind), "merchant_id": v.merchant_id,
            "plan_id": v.plan_id, "level_id": v.level_id, "product_id": v.product_id, "order_id": v.order_id,
            "card_id": v.card_id, "until": utc(v.until), "amount": v.amount}


#: an operator's risk decision (release, confirm, dismiss of a risk flag) is one too: it shows the command applied
ACCOUNT_CHANGES = frozenset({NotificationKind.ACCOUNT_STATUS, NotificationKind.TIER_OVERRIDE,
                             NotificationKind.RISK_DECISION})
_ACCOUNT_CHANGE = re.compile(rb'"kind":\s*"(?:%s)"' % b"|".join(k.value.encode() for k in ACCOUNT_CHANGES))


def _account_change(v: Any, _: Record) -> dict[str, Any] | None:
    if v.kind not in ACCOUNT_CHANGES:
        return None
    data = v.data
    return {**_common(v), "notification_id": v.notification_id, "kind": str(v.kind), "status": data.get("status"),
            "tier": data.get("tier"), "until": utc(data.get("until")), "previous": data.get("previous"),
            "reason": data.get("reason") or v.message, "operator": data.get("operator"),
            "approver": data.get("approver")}


def _dead_letter(v: Any, record: Record) -> dict[str, Any]:
    return {"dead_letter_id": v.dead_letter_id, "tenant_id": v.tenant_id, "member_id": v.member_id,
            "source_topic": v.source_topic, "partition": v.partition, "offset": v.offset, "reason": str(v.reason),
            "detail": v.detail, "payload": v.payload, "cause_event_id": v.cause_event_id,
            "recorded_at": datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)}


def _json(value: Any) -> Any:
    """A value as JSON would carry it (decimals and times as strings)."""
    return to_jsonable_python(value)


def audit_row(v: Any, _: Record | None = None) -> dict[str, Any]:
    return {"audit_id": v.audit_id, "tenant_id": v.tenant_id, "at": utc(v.at), "actor": v.actor, "role": str(v.role),
            "action": v.action, "target": v.target, "reason": v.reason, "request_id": v.request_id,
            "outcome": str(v.outcome), "detail": _json(v.detail)}


_ROWS: dict[Topic, Callable[[Any, Record], dict[str, Any] | None]] = {
    Topic.POINTS_LEDGER: _ledger, Topic.BENEFIT_GRANTS: _grant, Topic.REDEMPTION_RESULTS: _redemption,
    Topic.TIER_CHANGES: _tier_change, Topic.MEMBERSHIP_CHANGES: _membership_change,
    Topic.DEAD_LETTERS: _dead_letter, Topic.AUDIT: audit_row,
    Topic.NOTIFICATIONS: _account_change,
}
