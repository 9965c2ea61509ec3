"""Tenant rules at runtime, the admin service's side: candidates, versions, diffs, publishing.

The versions live in the read model's ``rules_versions`` table: the projector
inserts every valid version it reads on ``tenant-rules``, and ``publish``
inserts the version it publishes at once, in the transaction that assigns its
number (the highest known + 1, unique by the table's key), committed only
once the broker has acknowledged it -- so two publishes never share a number
and an operator reads their version back at once.  The rules in force for a
tenant are its latest version, else the rules directory's (``MEMBERFLOW_RULES_DIR``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import yaml
from fastapi import HTTPException
from kafka import KafkaProducer
from pydantic import ValidationError

from config.rules import RuleBook, TenantRules, unknown_tiers
from config.rules_versions import RulesVersion, version_of
from engine.published_lines import error_path
from engine.published_rules import published
from memberflow.admin.deps import Scope, Services
from memberflow.readmodel import queries, schema
from memberflow.readmodel.projection import rules_version_row, utc
from models.admin import AuditOutcome
from models.admin_rules import ExpiryWarningPreview, RulesChange, RulesVersionDetail


class RulesPublisher(Protocol):
    def publish(self, version: RulesVersion) -> None:
        """Put ``version`` on the ``tenant-rules`` topic; return once the broker acknowledged it."""


class KafkaRulesPublisher:
    """Publishes versions to ``tenant-rules``, keyed by tenant."""

    def __init__(self, bootstrap: str, topic: str, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=wait_ms,
                                      max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms,
                                      max_request_size=4 * 1024 * 1024)
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, version: RulesVersion) -> None:
        future = self.producer.send(self.topic, key=version.tenant_id.encode(),
                                    value=version.model_dump_json().encode())
        future.get(timeout=self.timeout_s)

    def close(self) -> None:
        self.producer.close()


class CandidateError(ValueError):
    """A candidate that does not validate: each error's path in the document and why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['path']}: {e['msg']}" for e in errors))
        self.errors = errors


class VersionTaken(Exception):
    """Another publish took the version number first."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def document(rules: TenantRules) -> dict[str, Any]:
    return rules.model_dump(mode="json")


#: published versions kept parsed per service (a version never changes once published; most requests read the
#: one in force, and an experiment no longer in force is looked up in the earlier ones)
PARSED_VERSIONS = 256


@dataclass(frozen=True)
class TenantRulesService:
    """What the rules endpoints do, over the read model and the rules directory's book."""

    engine: sa.Engine
    files: RuleBook
    publisher: RulesPublisher | None
    parsed: dict[tuple[str, int], TenantRules] = field(default_factory=dict, compare=False, repr=False)

    def candidate(self, tenant_id: str, data: dict[str, Any]) -> TenantRules:
        """``data`` merged over the default rules, validated as the tenant's rules, every tier it names on
        its ladder (``CandidateError``)."""
        given = data.get("tenant_id", tenant_id)
        if given not in (tenant_id, "default"):
            raise CandidateError([{"path": "tenant_id", "loc": ["tenant_id"],
                                   "msg": f"{given!r} is not this tenant ({tenant_id!r})", "type": "value_error"}])
        merged = _merge(document(self.files.default), {**data, "tenant_id": tenant_id})
        try:
            rules = TenantRules.model_validate(merged)
        except ValidationError as exc:
            raise CandidateError([_problem(e) for e in exc.errors(include_url=False, include_input=False)]) from None
        unknown = unknown_tiers(rules)
        if unknown:
            raise CandidateError([{"path": path, "loc": path.split("."), "msg": why, "type": "value_error"}
                                  for path, why in unknown])
        return rules

    def versions(self, tenant_id: str) -> list[sa.Row]:
        v = schema.rules_versions.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(v.tenant_id, v.version, v.published_by, v.reason, v.published_at)
                                .where(v.tenant_id == tenant_id).order_by(v.version.desc())).all()

    def version(self, tenant_id: str, number: int) -> sa.Row | None:
        v = schema.rules_versions.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema.rules_versions)
                                .where(v.tenant_id == tenant_id, v.version == number)).first()

    def latest(self, tenant_id: str) -> sa.Row | None:
        v = schema.rules_versions.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema.rules_versions).where(v.tenant_id == tenant_id)
                                .order_by(v.version.desc()).limit(1)).first()

    def in_force(self, tenant_id: str) -> tuple[TenantRules, sa.Row | None]:
        """The tenant's rules in force (named as outputs name them), and their version's row if published."""
        row = self.latest(tenant_id)
        if row is None:
            return self.files.for_tenant(tenant_id), None
        return self._parsed(tenant_id, row.version, row), row  # type: ignore[return-value]

    def _parsed(self, tenant_id: str, number: int, row: sa.Row | None = None) -> TenantRules | None:
        """Version ``number``'s rules, parsed once (None: no such version)."""
        key = (tenant_id, number)
        rules = self.parsed.get(key)
        if rules is None:
            row = row if row is not None else self.version(tenant_id, number)
            if row is None:
                return None
            rules = _rules_of(row)
            if len(self.parsed) >= PARSED_VERSIONS:
                del self.parsed[next(iter(self.parsed))]  # the first parsed goes first
            self.parsed[key] = rules
        return rules

    def history(self, tenant_id: str) -> Iterator[TenantRules]:
        """Every rules version the tenant had, newest first: the published ones, then the files'."""
        v = schema.rules_versions.c
        with self.engine.connect() as conn:
            numbers = conn.execute(sa.select(v.version).where(v.tenant_id == tenant_id)
                                   .order_by(v.version.desc())).scalars().all()
        for number in numbers:
            rules = self._parsed(tenant_id, number)
            if rules is not None:
                yield rules
        yield self.files.for_tenant(tenant_id)

    def publish(self, tenant_id: str, rules: TenantRules, published_by: str, reason: str) -> RulesVersion:
        """``rules`` as the tenant's next version: numbered, kept, on the topic (``VersionTaken`` on a race)."""
        if self.publisher is None:
            raise RuntimeError("this admin service publishes no rules")
        latest = self.latest(tenant_id)
        version = version_of(tenant_id, (latest.version if latest is not None else 0) + 1, rules, published_by,
                             reason, datetime.now(UTC))
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(schema.rules_versions).values(rules_version_row(version)))
                self.publisher.publish(version)
        except sa.exc.IntegrityError:
            raise VersionTaken(f"version {version.version} of {tenant_id} was published meanwhile") from None
        return version


def _problem(error: Any) -> dict[str, Any]:
    """A validation error as the API reports it: the full path of the field, why.  A section's own
    checks name the field within the section first (``"window_multipliers.multipliers: unknown ..."``)."""
    loc = [str(p) for p in error["loc"]]
    msg = error["msg"].removeprefix("Value error, ")
    within = _WITHIN.match(msg)
    if within:
        loc += within.group(1).split(".")
        msg = within.group(2)
    path = error_path(tuple(loc))
    return {"path": path, "loc": path.split(".") if loc else [], "msg": msg, "type": error["type"]}


_WITHIN = re.compile(r"^([A-Za-z_][\w]*(?:\.[\w]+)*): (.+)$", re.S)


def _rules_of(row: sa.Row) -> TenantRules:
    """A stored version's rules, named as outputs name them."""
    return published(RulesVersion(tenant_id=row.tenant_id, version=row.version, rules=row.rules,
                                  published_by=row.published_by, reason=row.reason,
                                  published_at=_aware(row.published_at)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    return {path or "<root>": value}


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[RulesChange]:
    """Field by field, in path order: what differs between two documents (lists compare whole)."""
    old, new = _flatten(before), _flatten(after)
    out = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            out.append(RulesChange(path=path, change="removed", before=old[path]))
        elif path not in old:
            out.append(RulesChange(path=path, change="added", after=new[path]))
        elif old[path] != new[path]:
            out.append(RulesChange(path=path, change="changed", before=old[path], after=new[path]))
    return out


def text_diff(before: dict[str, Any], after: dict[str, Any], old_name: str, new_name: str) -> str:
    def lines(doc: dict[str, Any]) -> list[str]:
        return yaml.safe_dump(doc, sort_keys=True, allow_unicode=True).splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(before), lines(after), old_name, new_name))


def version_detail(row: sa.Row) -> RulesVersionDetail:
    return RulesVersionDetail(tenant_id=row.tenant_id, version=row.version, published_by=row.published_by,
                              reason=row.reason, published_at=utc(row.published_at), rules=row.rules)


def _answer(version: RulesVersion) -> RulesVersionDetail:
    return RulesVersionDetail(tenant_id=version.tenant_id, version=version.version, published_by=version.published_by,
                              reason=version.reason, published_at=version.published_at,
                              rules=document(version.rules))


def publish_audited(rules: TenantRulesService, svc: Services, scope: Scope, action: str, candidate: TenantRules,
             reason: str, request_id: str, detail: dict) -> RulesVersionDetail:
    """Publish ``candidate`` as the next version, audited as ``action``; a retry with the same request id
    gets the version the first request published (409 for other rules, or when another publish took the
    number).  The API's publish and rollback and the console's Rules screen call it."""
    earlier = svc.audit.find(scope.who, action, request_id)
    if earlier is not None:
        row = rules.version(scope.tenant_id, earlier.detail["version"])
        if row is None or row.rules != document(candidate):
            raise HTTPException(409, f"request id {request_id!r} was used already for another {action}")
        return version_detail(row)
    try:
        version = rules.publish(scope.tenant_id, candidate, scope.who.actor, reason)
    except VersionTaken as exc:
        raise HTTPException(409, str(exc)) from None
    svc.audit.record(scope.who, scope.tenant_id, action, f"rules/v{version.version}", reason, request_id,
                     AuditOutcome.DONE, {**detail, "version": version.version})
    return _answer(version)


def expiry_preview(rules: TenantRulesService, engine: sa.Engine, tenant_id: str, start: datetime,
                   cursor: str | None, limit: int) -> tuple[list[ExpiryWarningPreview], str | None]:
    """The members the expiry-warning campaign in force would warn at ``start`` (their next points expire
    within its lead time), soonest expiry first, with the text each would get (``queries.BadCursor``)."""
    current, _ = rules.in_force(tenant_id)
    policy = current.points.expiry
    m = schema.members.c
    query = sa.select(m.member_id, m.next_expiry_at, m.next_expiry_points).where(
        m.tenant_id == tenant_id, m.next_expiry_at > start,
        m.next_expiry_at <= start + timedelta(days=policy.warn_lead_days))
    order = queries.Sorted(m.next_expiry_at, m.member_id, False, queries.when)
    with engine.connect() as conn:
        rows, next_cursor = queries.page(conn, query, order, cursor, limit, "member_id")
    items = []
    for row in rows:
        expires_at = utc(row.next_expiry_at)
        day = expires_at.astimezone(current.tz).date().isoformat()
        text = policy.warning.render(member_id=row.member_id, tenant_id=tenant_id, points=row.next_expiry_points,
                                     expires_on=day, first_points=row.next_expiry_points, until=day)
        items.append(ExpiryWarningPreview(member_id=row.member_id, expires_at=expires_at,
                                          points=row.next_expiry_points, channel=policy.warning.channel.value,
                                          text=text))
    return items, next_cursor
