"""Members: the search form with sortable, paged results and their export as CSV or XLSX."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import Field

from memberflow.admin.console.forms import QueryForm, day_end, day_start, parse
from memberflow.admin.console.session import ConsoleError
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.routes.reports import MEMBER_COLUMNS, export_response, streamed_rows
from memberflow.readmodel import queries
from models.admin import MemberSort
from models.fields import Email, Phone
from models.state import MemberStatus

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
PAGE_ROWS = 25
#: the sortable columns of the results, as (column, heading)
COLUMNS: list[tuple[MemberSort | None, str]] = [
    ("member_id", "Member"), (None, "Name"), (None, "Tier"), (None, "Status"), ("balance", "Points"),
    ("spend_365d", "Spend (365 d)"), ("growth", "Growth"), ("last_event_at", "Last activity"),
]


class MemberForm(QueryForm):
    id_prefix: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_match: Literal["contains"] | None = None  # blank: the name starts so
    phone: Phone | None = None
    email: Email | None = None
    tier: str | None = Field(default=None, max_length=64)
    status: MemberStatus | None = None
    points_min: int | None = None
    points_max: int | None = None
    spend_min: Decimal | None = None
    spend_max: Decimal | None = None
    active_from: date | None = None
    active_to: date | None = None
    sort: MemberSort = "member_id"
    order: Literal["asc", "desc"] = "asc"
    cursor: str | None = Field(default=None, max_length=512)

    def search(self, tenant_id: str) -> queries.MemberSearch:
        return queries.MemberSearch(
            tenant_id=tenant_id, id_prefix=self.id_prefix, name=self.name, name_match=self.name_match or "prefix",
            phone=self.phone, email=self.email, tier=self.tier,
            status=self.status.value if self.status else None, points_min=self.points_min,
            points_max=self.points_max, spend_min=self.spend_min, spend_max=self.spend_max,
            active_from=day_start(self.active_from),
            active_to=day_end(self.active_to) - timedelta(microseconds=1) if self.active_to else None,
            sort=self.sort, descending=self.order == "desc")


@router.get("/members", response_class=HTMLResponse)
def members(request: Request, page: Page = Depends(tenant_page())):
    form, errors = parse(MemberForm, request)
    rows, cursor = [], None
    if not errors:
        with page.engine.connect() as conn:
            try:
                rows, cursor = queries.search_members(conn, form.search(page.tenant_id), form.cursor, PAGE_ROWS)
            except queries.BadCursor as exc:
                raise ConsoleError(422, str(exc)) from None
    return page.render("members.html", 422 if errors else 200, form=form, errors=errors, rows=rows,
                       next_cursor=cursor, columns=COLUMNS, statuses=list(MemberStatus))


@router.get("/exports/members")
def export(request: Request, format: Literal["csv", "xlsx"] = "csv",
           page: Page = Depends(tenant_page())) -> StreamingResponse:
    form, errors = parse(MemberForm, request)
    if errors:
        raise ConsoleError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    search = form.search(page.tenant_id)
    rows = streamed_rows(page.engine, lambda conn: ([getattr(r, c) for c in MEMBER_COLUMNS]
                                                    for r in queries.iter_members(conn, search)))
    return export_response(format, f"{page.tenant_id}-members", MEMBER_COLUMNS, rows)
