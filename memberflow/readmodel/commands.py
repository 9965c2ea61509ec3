"""What became of operators' commands: their requests and approvals (service tables) joined
with what the projection shows of them.

A command's outputs and dead letters name its id as ``cause_event_id``: it is
*applied* once a ledger entry, grant, tier change or status change of it is
in (a tier override's and an account action's: their notification, in
``account_changes``), *refused* once a dead letter of it is (the engine's reason is its
``detail``), and until then *pending* (published) or waiting for an approver.
"""

from __future__ import annotations

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.queries import Sorted, page, when

#: the projection tables an applied command leaves a row in
_OUTPUTS = (schema.ledger, schema.grants, schema.account_changes)


def _applied(command_id: sa.ColumnElement) -> sa.ColumnElement:
    return sa.or_(*(sa.exists().where(t.c.cause_event_id == command_id) for t in _OUTPUTS))


def _refusal(command_id: sa.ColumnElement) -> sa.ScalarSelect:
    d = schema.dead_letters.c
    return (sa.select(d.detail).where(d.cause_event_id == command_id).order_by(d.dead_letter_id).limit(1)
            .scalar_subquery())


def approval_state() -> sa.ColumnElement:
    a = schema.approvals.c
    return sa.case((sa.and_(a.state == "approved", _applied(a.command_id)), "applied"),
                   (sa.and_(a.state == "approved", _refusal(a.command_id).is_not(None)), "refused"),
                   else_=a.state)


def _approvals(tenant_id: str) -> sa.Select:
    a = schema.approvals.c
    return (sa.select(schema.approvals, approval_state().label("computed_state"),
                      _refusal(a.command_id).label("refusal"))
            .where(a.tenant_id == tenant_id))


def search_approvals(conn: sa.Connection, tenant_id: str, state: str | None, member_id: str | None,
                     cursor: str | None, limit: int) -> tuple[list[sa.Row], str | None]:
    """Approvals, newest first; ``state`` as ``approval_state`` computes it."""
    a = schema.approvals.c
    query = _approvals(tenant_id)
    if state is not None:
        query = query.where(approval_state() == state)
    if member_id is not None:
        query = query.where(a.member_id == member_id)
    return page(conn, query, Sorted(a.requested_at, a.approval_id, True, when), cursor, limit, "approval_id")


def approval(conn: sa.Connection, tenant_id: str, approval_id: str) -> sa.Row | None:
    return conn.execute(_approvals(tenant_id).where(schema.approvals.c.approval_id == approval_id)).first()


def member_commands(conn: sa.Connection, tenant_id: str, member_id: str, limit: int = 20) -> list[sa.Row]:
    """A member's recent operator requests with their state (``models.admin.CommandState``), newest first."""
    r, a = schema.operator_requests.c, schema.approvals.c
    state = sa.case((_applied(r.command_id), "applied"),
                    (_refusal(r.command_id).is_not(None), "refused"),
                    (a.state == "pending", "pending_approval"),
                    (a.state == "rejected", "rejected"),
                    else_="pending")
    query = (sa.select(schema.operator_requests, state.label("state"), _refusal(r.command_id).label("refusal"))
             .select_from(schema.operator_requests.outerjoin(schema.approvals, a.approval_id == r.approval_id))
             .where(r.tenant_id == tenant_id, r.member_id == member_id)
             .order_by(r.requested_at.desc(), r.request_id.desc()).limit(limit))
    return conn.execute(query).all()


def account_changes(conn: sa.Connection, tenant_id: str, member_id: str, limit: int = 20) -> list[sa.Row]:
    s = schema.account_changes.c
    return conn.execute(sa.select(schema.account_changes).where(s.tenant_id == tenant_id, s.member_id == member_id)
                        .order_by(s.occurred_at.desc(), s.notification_id.desc()).limit(limit)).all()
