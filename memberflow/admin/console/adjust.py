"""The member page's writing forms posted (operator and above): checked for CSRF first, validated as the
API's request bodies, then submitted through the same ``Operations.submit`` as the API
(memberflow/admin/operations.py: limits, approvals, retries by request id, the audit).

A bad field answers 422 with the member page, the error beside the field; a request taken answers 303
back to the member page, where it shows "pending" (or "waits for an approver") until the engine applied
it.  The API's 404 and 409 are the console's error page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from memberflow.admin.console import member
from memberflow.admin.console.forms import posted
from memberflow.admin.console.session import ConsoleError, check_csrf
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FORMS, FormState, request_id
from memberflow.admin.deps import Scope
from memberflow.admin.operations import Operations
from models.admin import Role

router = APIRouter(prefix="/console/{tenant_id}/members/{member_id}", include_in_schema=False)


def submit(page: Page, member_id: str, name: str, raw: dict[str, str]) -> Response:
    form, errors = posted(FORMS[name], raw)
    if form is None:
        state = FormState(raw.get("request_id") or request_id(), raw, errors)
        return member.show(page, member_id, 422, (name, state))
    operations: Operations = page.request.app.state.operations
    try:
        answer = operations.submit(Scope(page.who, page.tenant_id), form.operator_request(member_id))
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    return RedirectResponse(f"/console/{page.tenant_id}/members/{quote(member_id, safe='')}"
                            f"?sent={quote(answer.request_id)}#commands", 303)


def _route(name: str) -> None:
    @router.post(f"/{name}", name=f"console-{name}")
    async def post(member_id: str, request: Request, page: Page = Depends(tenant_page(Role.OPERATOR))) -> Response:
        raw = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        check_csrf(request, raw.pop("csrf", None))
        return await run_in_threadpool(submit, page, member_id, name, raw)


for _name in FORMS:
    _route(_name)
