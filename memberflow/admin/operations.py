"""Operators' commands: adjustments and account actions, with limits and maker-checker approvals.

``submit`` turns an operator's request into a member command
(models/commands.py) with a deterministic id (the tenant and the request id, and
the approval when one is needed) and either publishes it at once or, when it is
over a limit, keeps it as a pending approval for someone else with the
``approver`` role.  The request is kept with its first answer: a retry with the
same request id gets that answer again, the same id with another body is 409.
Credits and debits are limited per adjustment and per operator per UTC day
(``MEMBERFLOW_ADJUSTMENT_LIMIT_POINTS``, ``MEMBERFLOW_OPERATOR_DAILY_LIMIT_POINTS``);
a benefit grant, a tier override and a membership grant always wait for an
approver; account actions and risk decisions (release, confirm, dismiss a risk
flag) never do.  Every request and decision is audited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException
from pydantic import TypeAdapter

from config.settings import Settings
from engine.operator_actions import approval_id_for, operator_command_id
from memberflow.admin.audit import AuditLog
from memberflow.admin.commands import CommandPublisher
from memberflow.admin.deps import Scope
from memberflow.admin.tokens import Principal
from memberflow.readmodel import commands as views
from memberflow.readmodel import queries, schema
from memberflow.readmodel.projection import utc
from models.admin import (
    AccountActionRequest,
    AnswerState,
    ApprovalDecision,
    ApprovalRow,
    AuditOutcome,
    BenefitGrantRequest,
    CommandAnswer,
    MembershipGrantRequest,
    PointsAdjustment,
    Signed,
    TierOverrideRequest,
)
from models.commands import OperatorCommand, OperatorCommandBase

_COMMAND: TypeAdapter[OperatorCommandBase] = TypeAdapter(OperatorCommand)
#: command types that always wait for an approver (they move no points a limit could measure)
ALWAYS_APPROVED = frozenset({"benefit_grant", "tier_override", "membership_grant"})


@dataclass(frozen=True)
class Limits:
    per_adjustment: int
    per_operator_day: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.adjustment_limit_points, settings.operator_daily_limit_points)


@dataclass(frozen=True)
class OperatorRequest:
    """One operator request: the command's type and fields, and the points it moves (signed)."""

    member_id: str
    type: str
    body: Signed
    fields: dict[str, Any]
    points: int | None = None


#: the account actions, each a command ``account_<action>``
ACCOUNT_ACTIONS = ("lock", "unlock", "freeze", "unfreeze")


def points_request(member_id: str, body: PointsAdjustment, debit: bool) -> OperatorRequest:
    kind, signed = ("points_debit", -body.points) if debit else ("points_credit", body.points)
    return OperatorRequest(member_id, kind, body, {"points": body.points}, signed)


def benefit_request(member_id: str, body: BenefitGrantRequest) -> OperatorRequest:
    return OperatorRequest(member_id, "benefit_grant", body,
                           body.model_dump(include={"benefit", "value", "quantity", "valid_until"}))


def tier_override_request(member_id: str, body: TierOverrideRequest) -> OperatorRequest:
    return OperatorRequest(member_id, "tier_override", body, {"tier": body.tier, "until": body.until})


def membership_grant_request(member_id: str, body: MembershipGrantRequest) -> OperatorRequest:
    return OperatorRequest(member_id, "membership_grant", body,
                           body.model_dump(include={"merchant_id", "plan_id", "level_id", "until"}))


def account_request(member_id: str, action: str, body: AccountActionRequest) -> OperatorRequest:
    if action not in ACCOUNT_ACTIONS:
        raise ValueError(f"no account action {action!r}")
    return OperatorRequest(member_id, f"account_{action}", body, {})


#: the decisions on a member's open risk flag (engine/spending.py), each a command ``risk_<decision>``
RISK_DECISIONS = ("release", "confirm", "dismiss")


def risk_request(member_id: str, flag_id: str, decision: str, body: AccountActionRequest) -> OperatorRequest:
    if decision not in RISK_DECISIONS:
        raise ValueError(f"no risk decision {decision!r}")
    return OperatorRequest(member_id, f"risk_{decision}", body, {"flag_id": flag_id})


def _fingerprint(who: Principal, request: OperatorRequest) -> str:
    text = json.dumps({"token": who.token_id, "member": request.member_id, "type": request.type,
                       "body": request.body.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Operations:
    def __init__(self, engine: sa.Engine, audit: AuditLog, publisher: CommandPublisher, limits: Limits,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.audit = audit
        self.publisher = publisher
        self.limits = limits
        self.now = now

    # -- requests ---------------------------------------------------------------

    def submit(self, scope: Scope, request: OperatorRequest) -> CommandAnswer:
        who, tenant, body = scope.who, scope.tenant_id, request.body
        fingerprint = _fingerprint(who, request)
        with self.engine.connect() as conn:
            first = self._first_answer(conn, tenant, body.request_id, fingerprint)
            if first is not None:
                return first
            if queries.member(conn, tenant, request.member_id) is None:
                raise HTTPException(404, "unknown member")
            over = self._over_limit(conn, who, tenant, request)
        now = self.now()
        approval_id = approval_id_for(tenant, body.request_id) if over else None
        command = _COMMAND.validate_python({
            "type": request.type, "command_id": operator_command_id(tenant, body.request_id, approval_id),
            "tenant_id": tenant, "member_id": request.member_id, "occurred_at": now, "actor": who.actor,
            "reason": body.reason, "request_id": body.request_id, **request.fields})
        answer = CommandAnswer(
            request_id=body.request_id, command_id=command.command_id, member_id=request.member_id,
            action=request.type, state=AnswerState.PENDING_APPROVAL if over else AnswerState.PUBLISHED,
            approval_id=approval_id, detail=f"waits for an approver: {over}" if over else "published")
        if not over:
            self.publisher.publish(command)
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(schema.operator_requests).values(
                    tenant_id=tenant, request_id=body.request_id, command_id=command.command_id,
                    member_id=request.member_id, action=request.type, points=request.points, token_id=who.token_id,
                    actor=who.actor, fingerprint=fingerprint, reason=body.reason, requested_at=now,
                    approval_id=approval_id, answer=answer.model_dump(mode="json")))
                if over:
                    conn.execute(sa.insert(schema.approvals).values(
                        approval_id=approval_id, tenant_id=tenant, member_id=request.member_id,
                        request_id=body.request_id, command_id=command.command_id, action=request.type,
                        points=request.points, maker=who.actor, maker_token_id=who.token_id, reason=body.reason,
                        why=over, requested_at=now, command=command.model_dump(mode="json"), state="pending"))
        except sa.exc.IntegrityError:
            with self.engine.connect() as conn:  # the same request id, at the same moment
                first = self._first_answer(conn, tenant, body.request_id, fingerprint)
            if first is None:
                raise
            return first
        self.audit.record(who, tenant, f"member.{request.type}", request.member_id, body.reason, body.request_id,
                          AuditOutcome.PENDING if over else AuditOutcome.DONE,
                          {"command_id": command.command_id, "points": request.points, "approval_id": approval_id,
                           **({"over_limit": over} if over else {}), **_jsonable(request.fields)})
        return answer

    def _first_answer(self, conn: sa.Connection, tenant: str, request_id: str, fingerprint: str
                      ) -> CommandAnswer | None:
        r = schema.operator_requests.c
        row = conn.execute(sa.select(r.fingerprint, r.answer).where(r.tenant_id == tenant,
                                                                    r.request_id == request_id)).first()
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise HTTPException(409, f"request id {request_id!r} was used already for another request")
        return CommandAnswer.model_validate(row.answer)

    def _over_limit(self, conn: sa.Connection, who: Principal, tenant: str, request: OperatorRequest) -> str | None:
        """Which limit the request is over, or None."""
        if request.type in ALWAYS_APPROVED:
            return f"a {request.type.replace('_', ' ')} always needs an approver"
        if request.points is None:
            return None
        points = abs(request.points)
        if points > self.limits.per_adjustment:
            return f"{points} points is over the {self.limits.per_adjustment} points an adjustment may move"
        r = schema.operator_requests.c
        day = utc(self.now()).replace(hour=0, minute=0, second=0, microsecond=0)
        moved = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(sa.func.abs(r.points)), 0)).where(
            r.tenant_id == tenant, r.token_id == who.token_id, r.requested_at >= day, r.approval_id.is_(None),
            r.points.is_not(None)))
        if moved + points > self.limits.per_operator_day:
            return (f"{moved} + {points} points today is over the {self.limits.per_operator_day} points an operator "
                    f"may move in a day")
        return None

    # -- approvals ----------------------------------------------------------------

    def decide(self, scope: Scope, approval_id: str, decision: ApprovalDecision, approve: bool) -> ApprovalRow:
        who, tenant = scope.who, scope.tenant_id
        action = "approval.approve" if approve else "approval.reject"
        with self.engine.connect() as conn:
            row = views.approval(conn, tenant, approval_id)
        if row is None:
            raise HTTPException(404, "unknown approval")
        prior = self.audit.find(who, action, decision.request_id)
        if prior is not None and prior.outcome == AuditOutcome.DONE:
            return approval_row(row)  # a retry: the decision was taken
        if is_maker(who, row.maker_token_id, row.maker):
            if prior is None:  # the refusal is audited once
                self.audit.record(who, tenant, action, row.member_id, decision.reason, decision.request_id,
                                  AuditOutcome.REFUSED, {"approval_id": approval_id, "why": "the maker's own"})
            raise HTTPException(403, "the maker of a request cannot approve or reject it: a second person must")
        if row.state != "pending":
            raise HTTPException(409, f"the approval is {row.computed_state} already")
        now = self.now()
        if approve:
            command = _COMMAND.validate_python({**row.command, "approver": who.actor, "occurred_at": now})
            self.publisher.publish(command)
        a = schema.approvals.c
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(schema.approvals).where(a.approval_id == approval_id, a.state == "pending")
                                .values(state="approved" if approve else "rejected", decided_by=who.actor,
                                        decided_at=now, decision_reason=decision.reason)).rowcount
        if not done:
            raise HTTPException(409, "the approval was decided by someone else meanwhile")
        self.audit.record(who, tenant, action, row.member_id, decision.reason, decision.request_id, AuditOutcome.DONE,
                          {"approval_id": approval_id, "command_id": row.command_id, "maker": row.maker})
        with self.engine.connect() as conn:
            return approval_row(views.approval(conn, tenant, approval_id))


def is_maker(who: Principal, maker_token_id: str, maker: str) -> bool:
    """Whether ``who`` made the request (with the same token, or another of the same name): a maker may
    neither approve nor reject it."""
    return maker_token_id == who.token_id or maker.partition(":")[2] == who.name


def approval_row(row: sa.Row) -> ApprovalRow:
    data = {k: v for k, v in row._mapping.items() if k in ApprovalRow.model_fields}
    data["state"] = row.computed_state
    for key in ("requested_at", "decided_at"):
        data[key] = utc(data[key])
    return ApprovalRow.model_validate(data)


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(fields, default=str))

