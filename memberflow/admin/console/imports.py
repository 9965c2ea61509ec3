"""Import (admin): upload a CSV or JSONL file of members, see what it would do -- the rows it would
send and each bad row's line and why -- then confirm, and watch the members arrive.

Checking sends nothing (``imports.check``).  The confirm form carries the file's text back with a
request id made when the check was shown, and goes through ``imports.import_file``, as the API's
``POST /tenants/{t}/imports`` does (audited; the same request id again gets the first report and sends
nothing).  So "Refresh progress" posts it again: the page then counts the import's members in the read
model and those the engine refused (dead letters of their commands).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from memberflow.admin.console.forms import posted
from memberflow.admin.console.session import ConsoleError, check_csrf
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FormState, request_id
from memberflow.admin.deps import Scope
from memberflow.admin.imports import check, import_file
from memberflow.readmodel import schema
from models.admin import ImportRequest, Role
from models.commands import ImportMember

router = APIRouter(prefix="/console/{tenant_id}/import", include_in_schema=False)
MAX_BYTES = 20_000_000
CHUNK = 500  # ids per IN (...) when counting


@router.get("", response_class=HTMLResponse)
def upload_form(request: Request, page: Page = Depends(tenant_page(Role.ADMIN))):
    return page.render("import.html", step="upload", errors={})


async def _form(request: Request) -> dict[str, str | UploadFile]:
    form = await request.form(max_part_size=MAX_BYTES)
    fields = dict(form.items())
    check_csrf(request, fields.pop("csrf", None) if isinstance(fields.get("csrf"), str) else None)
    return fields


def _format(name: str, chosen: str) -> Literal["csv", "jsonl"] | None:
    if chosen in ("csv", "jsonl"):
        return chosen  # type: ignore[return-value]
    return "jsonl" if name.lower().endswith((".jsonl", ".json")) else "csv" if name.lower().endswith(".csv") else None


@router.post("/check", response_class=HTMLResponse)
async def check_upload(request: Request, page: Page = Depends(tenant_page(Role.ADMIN))) -> Response:
    fields = await _form(request)
    upload = fields.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page.render("import.html", 422, step="upload", errors={"file": "choose a file"})
    data = await upload.read(MAX_BYTES + 1)
    fmt = _format(upload.filename, str(fields.get("format", "")))
    errors = ({"file": f"the file is over {MAX_BYTES:,} bytes"} if len(data) > MAX_BYTES else
              {"format": "say whether the file is CSV or JSONL"} if fmt is None else {})
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        errors.setdefault("file", "the file is not UTF-8 text")
    if errors:
        return page.render("import.html", 422, step="upload", errors=errors)
    report, commands = await run_in_threadpool(check, content, fmt, page.tenant_id, datetime.now(UTC))
    return page.render("import.html", step="check", report=report, filename=upload.filename, format=fmt,
                       content=content, confirm=FormState(), to_send=len(commands))


def _progress(page: Page, commands: list[ImportMember]) -> dict[str, int]:
    """How many of the import's members the read model holds, and how many commands were refused."""
    m, d = schema.members.c, schema.dead_letters.c
    arrived = refused = 0
    with page.engine.connect() as conn:
        for start in range(0, len(commands), CHUNK):
            part = commands[start:start + CHUNK]
            arrived += conn.scalar(sa.select(sa.func.count()).select_from(schema.members).where(
                m.tenant_id == page.tenant_id, m.member_id.in_([c.member_id for c in part])))
            refused += conn.scalar(sa.select(sa.func.count(sa.distinct(d.cause_event_id))).where(
                d.cause_event_id.in_([c.command_id for c in part])))
    return {"arrived": arrived, "refused": refused, "members": len(commands)}


def confirm(page: Page, raw: dict[str, str]) -> Response:
    body, errors = posted(ImportRequest, {k: v for k, v in raw.items() if k in ImportRequest.model_fields})
    if body is None:
        state = FormState(raw.get("request_id") or request_id(), raw, errors)
        fmt = raw.get("format") if raw.get("format") in ("csv", "jsonl") else "csv"
        report, commands = check(raw.get("content", ""), fmt, page.tenant_id, datetime.now(UTC))
        return page.render("import.html", 422, step="check", report=report, filename=raw.get("filename", ""),
                           format=fmt, content=raw.get("content", ""), confirm=state, to_send=len(commands))
    now = datetime.now(UTC)
    try:
        report = import_file(page.request.app.state.services, Scope(page.who, page.tenant_id), body, now)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    _, commands = check(body.content, body.format, page.tenant_id, now)
    return page.render("import.html", step="sent", report=report, filename=raw.get("filename", ""), body=body,
                       progress=_progress(page, commands))


@router.post("", response_class=HTMLResponse)
async def confirm_import(request: Request, page: Page = Depends(tenant_page(Role.ADMIN))) -> Response:
    raw = {k: v for k, v in (await _form(request)).items() if isinstance(v, str)}
    return await run_in_threadpool(confirm, page, raw)
