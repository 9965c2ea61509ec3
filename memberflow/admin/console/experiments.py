"""Experiments (viewer reads, admin stops and rolls out): the live experiments of the rules in force
with their status and members per arm, and one experiment's page -- its definition, the figures per
variant (of every member, or of a cohort: the members enrolled between two UTC days), each variant's spend
per member against the control with its 95% interval and p-value, and (for an admin) the Stop and Roll
out forms.

Stopping and rolling out go through ``memberflow.admin.experiments`` as the API's endpoints do: a new
rules version, audited; a form posted twice is one request (its request id).
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import model_validator
from starlette.concurrency import run_in_threadpool

from config.experiments import HOLDOUT
from memberflow.admin import experiments as service
from memberflow.admin.console.forms import QueryForm, day_end, day_start, parse, posted
from memberflow.admin.console.session import ConsoleError, check_csrf
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FormState
from memberflow.admin.deps import Scope
from memberflow.admin.rules import TenantRulesService
from models.admin import Role
from models.admin_experiments import ExperimentRollout, ExperimentStop

router = APIRouter(prefix="/console/{tenant_id}/experiments", include_in_schema=False)
FORMS = {"stop": ExperimentStop, "rollout": ExperimentRollout}


class CohortForm(QueryForm):
    """The members enrolled from ``first`` to ``last``, UTC days of event time, both included."""

    first: date | None = None
    last: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CohortForm:
        if self.first and self.last and self.last < self.first:
            raise ValueError("the last day must be on or after the first")
        return self


def _rules(page: Page) -> TenantRulesService:
    return page.request.app.state.rules


def _unless_http(call, *args):
    try:
        return call(*args)
    except HTTPException as exc:
        detail = exc.detail if isinstance(exc.detail, str) else "; ".join(e["msg"] for e in exc.detail)
        raise ConsoleError(exc.status_code, detail) from None


@router.get("", response_class=HTMLResponse)
def experiments_page(request: Request, page: Page = Depends(tenant_page())):
    return page.render("experiments.html", experiments=service.experiments(_rules(page), page.tenant_id))


def show(page: Page, experiment_id: str, status: int = 200, failed: tuple[str, FormState] | None = None
         ) -> HTMLResponse:
    rules = _rules(page)
    info = _unless_http(service.experiment, rules, page.tenant_id, experiment_id)
    cohort, cohort_errors = parse(CohortForm, page.request)
    figures = _unless_http(service.statistics, rules, page.tenant_id, experiment_id, day_start(cohort.first),
                           day_end(cohort.last))
    if cohort_errors and status == 200:
        status = 422
    forms = {name: FormState() for name in FORMS}
    if failed is not None:
        forms[failed[0]] = failed[1]
    options = [(v.name, v.name) for v in info.variants if v.name != HOLDOUT]
    return page.render("experiment.html", status, x=info, figures=figures, forms=forms, variant_options=options,
                       published=page.request.query_params.get("published"), cohort=cohort,
                       cohort_errors=cohort_errors)


@router.get("/{experiment_id}", response_class=HTMLResponse)
def experiment_page(experiment_id: str, request: Request, page: Page = Depends(tenant_page())):
    return show(page, experiment_id)


def act(page: Page, experiment_id: str, name: str, raw: dict[str, str]) -> Response:
    fields = ("reason", "request_id", "variant") if name == "rollout" else ("reason", "request_id")
    form, errors = posted(FORMS[name], {k: raw.get(k, "") for k in fields})
    if form is None:
        return show(page, experiment_id, 422, (name, FormState(raw.get("request_id") or FormState().request_id,
                                                               raw, errors)))
    scope = Scope(page.who, page.tenant_id)
    if name == "rollout":
        version = _unless_http(service.rollout, _rules(page), page.request.app.state.services, scope,
                               experiment_id, form.variant, form.reason, form.request_id)
    else:
        version = _unless_http(service.stop, _rules(page), page.request.app.state.services, scope, experiment_id,
                               form.reason, form.request_id)
    return RedirectResponse(f"/console/{page.tenant_id}/experiments/{experiment_id}?published={version.version}",
                            303)


async def _raw(request: Request) -> dict[str, str]:
    form = await request.form()
    raw = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, raw.pop("csrf", None))
    return raw


@router.post("/{experiment_id}/stop")
async def post_stop(experiment_id: str, request: Request, page: Page = Depends(tenant_page(Role.ADMIN))) -> Response:
    return await run_in_threadpool(act, page, experiment_id, "stop", await _raw(request))


@router.post("/{experiment_id}/rollout")
async def post_rollout(experiment_id: str, request: Request,
                       page: Page = Depends(tenant_page(Role.ADMIN))) -> Response:
    return await run_in_threadpool(act, page, experiment_id, "rollout", await _raw(request))
