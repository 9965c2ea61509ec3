"""Members: search, a member's page, a member's ledger (viewer and above)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.rows import as_model, as_models
from memberflow.readmodel import commands as operator_views
from memberflow.readmodel import queries
from memberflow.readmodel.experiments import member_experiments
from models.admin import (
    AccountChangeRow,
    GiftRow,
    GrantRow,
    LedgerRow,
    MemberExperimentRow,
    MemberPage,
    MemberRow,
    MemberSort,
    OperatorCommandRow,
    Page,
    Role,
)
from models.fields import Email, Phone
from models.outputs import LedgerKind
from models.state import MemberStatus

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["members"])

Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]
RECENT_LEDGER = 20


class MemberFilters:
    """The member search's filters, as query parameters (shared by the search and its export)."""

    def __init__(
        self,
        id_prefix: Annotated[str | None, Query(min_length=1, max_length=128, description="member ids starting so")]
        = None,
        tier: Annotated[str | None, Query(max_length=64)] = None,
        status: MemberStatus | None = None,
        points_min: Annotated[int | None, Query(description="points held, at least")] = None,
        points_max: Annotated[int | None, Query(description="points held, at most")] = None,
        spend_min: Annotated[Decimal | None, Query(description="365-day spend, at least")] = None,
        spend_max: Annotated[Decimal | None, Query(description="365-day spend, at most")] = None,
        active_from: Annotated[datetime | None, Query(description="last event at or after")] = None,
        active_to: Annotated[datetime | None, Query(description="last event at or before")] = None,
        name: Annotated[str | None, Query(min_length=1, max_length=200, description="the member's name, "
                                          "case-insensitive: starting so, or containing it with name_match")] = None,
        name_match: Literal["prefix", "contains"] = "prefix",
        phone: Annotated[Phone | None, Query(description="the phone number (separators ignored)")] = None,
        email: Annotated[Email | None, Query(description="the email address (case ignored)")] = None,
        sort: MemberSort = "member_id",
        order: Literal["asc", "desc"] = "asc",
    ) -> None:
        self.values = dict(id_prefix=id_prefix, tier=tier, status=status.value if status else None,
                           points_min=points_min, points_max=points_max, spend_min=spend_min, spend_max=spend_max,
                           active_from=active_from, active_to=active_to, name=name, name_match=name_match,
                           phone=phone, email=email, sort=sort, descending=order == "desc")

    def search(self, tenant_id: str) -> queries.MemberSearch:
        return queries.MemberSearch(tenant_id=tenant_id, **self.values)


class LedgerFilters:
    def __init__(
        self,
        kind: LedgerKind | None = None,
        rule: Annotated[str | None, Query(max_length=96)] = None,
        occurred_from: Annotated[datetime | None, Query(alias="from", description="at or after")] = None,
        occurred_to: Annotated[datetime | None, Query(alias="to", description="before")] = None,
    ) -> None:
        self.values = dict(kind=kind.value if kind else None, rule=rule, occurred_from=occurred_from,
                           occurred_to=occurred_to)

    def search(self, tenant_id: str, member_id: str | None = None) -> queries.LedgerSearch:
        return queries.LedgerSearch(tenant_id=tenant_id, member_id=member_id, **self.values)


def paged(fetch, model, convert=None):
    """A page of ``model`` from ``fetch() -> (rows, cursor)``; ``convert(row)`` makes an item when the row's
    columns are not the model's fields."""
    try:
        rows, cursor = fetch()
    except queries.BadCursor as exc:
        raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]) from None
    items = [convert(row) for row in rows] if convert is not None else as_models(model, rows)
    return Page[model](items=items, next_cursor=cursor)


@router.get("/members", response_model=Page[MemberRow], summary="search members")
def search_members(filters: Annotated[MemberFilters, Depends()], cursor: Cursor = None, limit: Limit = 50,
                   scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        return paged(lambda: queries.search_members(conn, filters.search(scope.tenant_id), cursor, limit), MemberRow)


@router.get("/members/{member_id}", response_model=MemberPage, summary="a member's page",
            responses={404: {"description": "no such member in this tenant"}})
def member_page(member_id: str, scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        row = queries.member(conn, scope.tenant_id, member_id)
        if row is None:
            raise HTTPException(404, "unknown member")
        ledger, _ = queries.search_ledger(conn, queries.LedgerSearch(scope.tenant_id, member_id), None, RECENT_LEDGER)
        grants = queries.member_grants(conn, scope.tenant_id, member_id)
        gifts = queries.open_gifts(conn, scope.tenant_id, member_id)
        commands = operator_views.member_commands(conn, scope.tenant_id, member_id)
        changes = operator_views.account_changes(conn, scope.tenant_id, member_id)
        experiments = member_experiments(conn, scope.tenant_id, member_id)
    return MemberPage(member=as_model(MemberRow, row), summary=row.page, recent_ledger=as_models(LedgerRow, ledger),
                      grants=as_models(GrantRow, grants), open_gifts=as_models(GiftRow, gifts),
                      operator_commands=as_models(OperatorCommandRow, commands),
                      account_changes=as_models(AccountChangeRow, changes),
                      experiments=as_models(MemberExperimentRow, experiments))


@router.get("/members/{member_id}/ledger", response_model=Page[LedgerRow], summary="a member's ledger, newest first",
            responses={404: {"description": "no such member in this tenant"}})
def member_ledger(member_id: str, filters: Annotated[LedgerFilters, Depends()], cursor: Cursor = None,
                  limit: Limit = 50, scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        if queries.member(conn, scope.tenant_id, member_id) is None:
            raise HTTPException(404, "unknown member")
        return paged(lambda: queries.search_ledger(conn, filters.search(scope.tenant_id, member_id), cursor, limit),
                     LedgerRow)
