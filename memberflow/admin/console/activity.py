"""The tenant's gifts (by status, paged) and its audit trail (admin)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from memberflow.admin.console.forms import QueryForm, parse
from memberflow.admin.console.session import ConsoleError
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.rows import as_models
from memberflow.readmodel import queries, schema
from models.admin import AuditRecord, Role
from models.redemption_state import GiftStatus

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
PAGE_ROWS = 25


class GiftForm(QueryForm):
    status: GiftStatus | None = None
    member_id: str | None = Field(default=None, max_length=128)
    cursor: str | None = Field(default=None, max_length=512)


class CursorForm(QueryForm):
    cursor: str | None = Field(default=None, max_length=512)


def _page(fetch):
    try:
        return fetch()
    except queries.BadCursor as exc:
        raise ConsoleError(422, str(exc)) from None


@router.get("/gifts", response_class=HTMLResponse)
def gifts(request: Request, page: Page = Depends(tenant_page())):
    form, errors = parse(GiftForm, request)
    rows, cursor = [], None
    if not errors:
        with page.engine.connect() as conn:
            rows, cursor = _page(lambda: queries.search_gifts(
                conn, page.tenant_id, form.status.value if form.status else None, form.member_id, form.cursor,
                PAGE_ROWS))
    return page.render("gifts.html", 422 if errors else 200, form=form, errors=errors, rows=rows,
                       next_cursor=cursor, statuses=list(GiftStatus))


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, page: Page = Depends(tenant_page(Role.ADMIN))):
    form, _ = parse(CursorForm, request)
    a = schema.audit.c
    order = queries.Sorted(a.at, a.audit_id, True, queries.when)
    query = sa.select(schema.audit).where(a.tenant_id.in_((page.tenant_id, "*")))
    with page.engine.connect() as conn:
        rows, cursor = _page(lambda: queries.page(conn, query, order, form.cursor, PAGE_ROWS, "audit_id"))
    return page.render("audit.html", form=form, rows=as_models(AuditRecord, rows), next_cursor=cursor)
