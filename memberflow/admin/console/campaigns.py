"""Expiry warnings: the campaign in force (channel, template, lead time, cadence -- part of the rules,
changed in the Rules screen's editor) and a preview of the members it would warn on a day, soonest
expiry first, with the text each would get (``admin.rules.expiry_preview``, as the API's preview)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from memberflow.admin.console.forms import QueryForm, day_start, parse
from memberflow.admin.console.session import ConsoleError
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.rules import TenantRulesService, expiry_preview
from memberflow.readmodel import queries

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
PAGE_ROWS = 25


class PreviewForm(QueryForm):
    as_of: date | None = None
    cursor: str | None = Field(default=None, max_length=512)


@router.get("/expiry-warnings", response_class=HTMLResponse)
def expiry_warnings(request: Request, page: Page = Depends(tenant_page())):
    form, errors = parse(PreviewForm, request)
    rules: TenantRulesService = request.app.state.rules
    current, _ = rules.in_force(page.tenant_id)
    items, cursor = [], None
    if not errors:
        start = day_start(form.as_of) or datetime.now(UTC)
        try:
            items, cursor = expiry_preview(rules, page.engine, page.tenant_id, start, form.cursor, PAGE_ROWS)
        except queries.BadCursor as exc:
            raise ConsoleError(422, str(exc)) from None
    return page.render("expiry_warnings.html", 422 if errors else 200, policy=current.points.expiry,
                       rules_version=current.version, form=form, errors=errors, items=items, next_cursor=cursor)
