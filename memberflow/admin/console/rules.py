"""Rules (viewer reads, admin writes): the rules in force with their version, the versions published
with a diff between any two, and -- for an operator -- an editor for a candidate (YAML, merged over the
default rules like a ``<tenant>.yaml`` file), checked with each error at its field's path, diffed
against the rules in force and simulated over the last days (``console.simulations``); an admin
publishes it with a reason, or rolls back to an earlier version; and the tenant's business lines, each
with its version in force and its history (read-only).

Checking, publishing and rolling back go through ``TenantRulesService`` and ``publish_audited``, as the
API's ``/tenants/{t}/rules`` endpoints do (audited; a retry with the same request id publishes nothing
new).
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from config.rules import TenantRules
from memberflow.admin.business_lines import line_histories
from memberflow.admin.console.forms import QueryForm, parse, posted
from memberflow.admin.console.session import ConsoleError, check_csrf
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FormState
from memberflow.admin.deps import Scope
from memberflow.admin.rules import (
    CandidateError,
    TenantRulesService,
    changes,
    document,
    publish_audited,
    text_diff,
)
from models.admin import Role, Signed

router = APIRouter(prefix="/console/{tenant_id}/rules", include_in_schema=False)


class DiffForm(QueryForm):
    start: int | None = Field(default=None, ge=1, alias="from")
    end: int | None = Field(default=None, ge=1, alias="to")


class RollbackForm(Signed):
    version: int = Field(ge=1)


def _service(page: Page) -> TenantRulesService:
    return page.request.app.state.rules


def _yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def show(page: Page, status: int = 200, editor: dict[str, Any] | None = None) -> HTMLResponse:
    rules = _service(page)
    current, row = rules.in_force(page.tenant_id)
    in_force = {**document(current), "tenant_id": page.tenant_id}
    versions = rules.versions(page.tenant_id)
    form, errors = parse(DiffForm, page.request)
    diff = None
    if not errors and form.start and form.end:
        old, new = (rules.version(page.tenant_id, n) for n in (form.start, form.end))
        if old is None or new is None:
            errors = {"from" if old is None else "to": "no such version"}
        else:
            diff = {"from": form.start, "to": form.end, "changes": changes(old.rules, new.rules),
                    "text": text_diff(old.rules, new.rules, f"v{form.start}", f"v{form.end}")}
    if editor is None:
        state = FormState(values={"days": "30", "evaluate": "schedule"})
        editor = {"text": _yaml(in_force), "publish": state}
    return page.render("rules.html", 422 if errors else status, current=current, row=row,
                       in_force_yaml=_yaml(in_force), versions=versions, diff=diff, errors=errors, form=form,
                       editor=editor, rollback=FormState(), published=page.request.query_params.get("published"),
                       lines=line_histories(rules.engine, page.tenant_id, current.business_lines))


@router.get("", response_class=HTMLResponse)
def rules_page(request: Request, page: Page = Depends(tenant_page())):
    return show(page)


def candidate_of(page: Page, text: str) -> tuple[TenantRules | None, list[dict[str, str]]]:
    """The candidate in ``text`` validated as the tenant's rules, or the errors by field path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [{"path": "(document)", "msg": f"not YAML: {exc}"}]
    if not isinstance(data, dict):
        return None, [{"path": "(document)", "msg": "a rules document is a mapping of sections"}]
    try:
        return _service(page).candidate(page.tenant_id, data), []
    except CandidateError as exc:
        return None, [{"path": e["path"] or "(document)", "msg": e["msg"]} for e in exc.errors]


def edit(page: Page, raw: dict[str, str]) -> Response:
    text = raw.get("rules", "")
    publish = raw.get("action") == "publish"
    candidate, problems = candidate_of(page, text)
    signed, errors = (posted(Signed, {k: raw.get(k, "") for k in ("reason", "request_id")}) if publish
                      else (None, {}))
    if publish and not page.who.may(Role.ADMIN):
        raise ConsoleError(403, f"the {page.who.role} role may not publish rules (needs admin)")
    state = FormState(raw.get("request_id") or FormState().request_id, raw, errors)
    editor: dict[str, Any] = {"text": text, "problems": problems, "publish": state}
    if candidate is not None:
        current, _ = _service(page).in_force(page.tenant_id)
        before, after = {**document(current), "tenant_id": page.tenant_id}, document(candidate)
        editor.update(changes=changes(before, after), text_diff=text_diff(before, after, "in force", "candidate"))
    if candidate is None or not publish or signed is None:
        return show(page, 422 if problems or errors else 200, editor)
    try:
        version = publish_audited(_service(page), page.request.app.state.services, Scope(page.who, page.tenant_id),
                                  "rules.publish", candidate, signed.reason, signed.request_id, {})
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    return RedirectResponse(f"/console/{page.tenant_id}/rules?published={version.version}", 303)


def roll_back(page: Page, raw: dict[str, str]) -> Response:
    form, errors = posted(RollbackForm, {k: raw.get(k, "") for k in ("version", "reason", "request_id")})
    if form is None:
        raise ConsoleError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    rules = _service(page)
    row = rules.version(page.tenant_id, form.version)
    if row is None:
        raise ConsoleError(404, f"no version {form.version} of this tenant's rules")
    try:
        version = publish_audited(rules, page.request.app.state.services, Scope(page.who, page.tenant_id),
                                  "rules.rollback", TenantRules.model_validate(row.rules), form.reason,
                                  form.request_id, {"restores": form.version})
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None
    return RedirectResponse(f"/console/{page.tenant_id}/rules?published={version.version}", 303)


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form(max_part_size=4 * 1024 * 1024)
    raw = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, raw.pop("csrf", None))
    return raw


@router.post("", response_class=HTMLResponse)
async def post_candidate(request: Request, page: Page = Depends(tenant_page(Role.OPERATOR))) -> Response:
    return await run_in_threadpool(edit, page, await form_of(request))


@router.post("/rollback")
async def post_rollback(request: Request, page: Page = Depends(tenant_page(Role.ADMIN))) -> Response:
    return await run_in_threadpool(roll_back, page, await form_of(request))
