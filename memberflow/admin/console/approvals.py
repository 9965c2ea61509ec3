"""The approvals queue: requests over a limit, newest first, by state (pending by default); an approver
approves or rejects one with a reason -- not one of their own, whose buttons are not offered (and which
``Operations.decide`` refuses and audits).  Decisions go through ``Operations.decide``, as the API's do."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from memberflow.admin.console.forms import QueryForm, parse, posted
from memberflow.admin.console.session import ConsoleError, check_csrf
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FormState, request_id
from memberflow.admin.deps import Scope
from memberflow.admin.operations import Operations, approval_row, is_maker
from memberflow.readmodel import commands as views
from memberflow.readmodel import queries
from models.admin import ApprovalDecision, ApprovalState, Role

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
PAGE_ROWS = 25


class QueueForm(QueryForm):
    state: ApprovalState | None = ApprovalState.PENDING
    member_id: str | None = Field(default=None, max_length=128)
    cursor: str | None = Field(default=None, max_length=512)

    def query(self, **override):
        return {"state": "", **super().query(**override)}  # "any state" is kept as such, not the default


class DecisionForm(ApprovalDecision):
    decision: Literal["approve", "reject"]


@router.get("/approvals", response_class=HTMLResponse)
def queue(request: Request, page: Page = Depends(tenant_page())):
    return show(page)


def show(page: Page, status: int = 200, failed: tuple[str, FormState] | None = None) -> HTMLResponse:
    form, errors = parse(QueueForm, page.request)
    rows, cursor = [], None
    if not errors:
        with page.engine.connect() as conn:
            try:
                rows, cursor = views.search_approvals(conn, page.tenant_id, form.state.value if form.state else None,
                                                      form.member_id, form.cursor, PAGE_ROWS)
            except queries.BadCursor as exc:
                raise ConsoleError(422, str(exc)) from None
    items = [(approval_row(r), is_maker(page.who, r.maker_token_id, r.maker)) for r in rows]
    decisions = {a.approval_id: FormState() for a, _ in items}
    if failed is not None:
        decisions[failed[0]] = failed[1]
    return page.render("approvals.html", 422 if errors else status, form=form, errors=errors, items=items,
                       next_cursor=cursor, states=list(ApprovalState), decisions=decisions,
                       decided=page.request.query_params.get("decided"))


def decide(page: Page, approval_id: str, raw: dict[str, str]) -> Response:
    decision, errors = posted(DecisionForm, raw)
    if decision is None:
        return show(page, 422, (approval_id, FormState(raw.get("request_id") or request_id(), raw, errors)))
    operations: Operations = page.request.app.state.operations
    body = ApprovalDecision.model_validate(decision.model_dump(exclude={"decision"}))
    try:
        operations.decide(Scope(page.who, page.tenant_id), approval_id, body, approve=decision.decision == "approve")
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    return RedirectResponse(f"/console/{page.tenant_id}/approvals?decided={approval_id}", 303)


@router.post("/approvals/{approval_id}")
async def post(approval_id: str, request: Request, page: Page = Depends(tenant_page(Role.APPROVER))) -> Response:
    raw = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, raw.pop("csrf", None))
    return await run_in_threadpool(decide, page, approval_id, raw)
