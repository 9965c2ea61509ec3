"""A tenant's ledger, gifts and redemptions, and its audit trail."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.routes.members import Cursor, LedgerFilters, Limit, paged
from memberflow.readmodel import queries, schema
from models.admin import AuditRecord, GiftRow, LedgerRow, Page, RedemptionRow, Role
from models.redemption_state import GiftStatus
from models.redemptions import RedemptionStatus

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["activity"])
MemberId = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/ledger", response_model=Page[LedgerRow], summary="the tenant's ledger, newest first")
def ledger(filters: Annotated[LedgerFilters, Depends()], member_id: MemberId = None, cursor: Cursor = None,
           limit: Limit = 50, scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        return paged(lambda: queries.search_ledger(conn, filters.search(scope.tenant_id, member_id), cursor, limit),
                     LedgerRow)


@router.get("/gifts", response_model=Page[GiftRow], summary="points sent between members, newest first")
def gifts(status: GiftStatus | None = None, member_id: MemberId = None, cursor: Cursor = None, limit: Limit = 50,
          scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        return paged(lambda: queries.search_gifts(conn, scope.tenant_id, status.value if status else None, member_id,
                                                  cursor, limit), GiftRow)


@router.get("/redemptions", response_model=Page[RedemptionRow], summary="redemption answers, newest first")
def redemptions(member_id: MemberId = None, kind: Annotated[str | None, Query(max_length=32)] = None,
                status: RedemptionStatus | None = None, cursor: Cursor = None, limit: Limit = 50,
                scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        return paged(lambda: queries.search_redemptions(conn, scope.tenant_id, member_id, kind,
                                                        status.value if status else None, cursor, limit),
                     RedemptionRow)


@router.get("/audit", response_model=Page[AuditRecord], summary="the audit trail, newest first (admin)")
def audit(cursor: Cursor = None, limit: Limit = 50, scope: Scope = Depends(scoped(Role.ADMIN)),
          svc: Services = Depends(services)):
    a = schema.audit.c
    order = queries.Sorted(a.at, a.audit_id, True, queries.when)
    query = sa.select(schema.audit).where(a.tenant_id.in_((scope.tenant_id, "*")))
    with svc.engine.connect() as conn:
        return paged(lambda: queries.page(conn, query, order, cursor, limit, "audit_id"), AuditRecord)
