"""What-if simulations (operator starts, viewer reads): the Rules screen's candidate simulated against the
rules in force over the last N days, the tenant's simulations, and one simulation -- its state (the page
reloads itself while it runs: a ``refresh`` meta tag, no script), its key figures and its report once done
(embedded, and on a page of its own), or why it failed.

Starting goes through ``Simulations.start``, as the API's ``POST /tenants/{t}/simulations`` does (audited;
the same request id again shows the first simulation; 409 while one of the tenant's runs).
"""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from memberflow.admin.console import rules as rules_screen
from memberflow.admin.console.forms import posted
from memberflow.admin.console.session import ConsoleError
from memberflow.admin.console.web import Page, tenant_page
from memberflow.admin.console.writing import FormState
from memberflow.admin.deps import Scope
from memberflow.admin.simulations import Busy, Conflict, Simulations, detail_of
from models.admin import Role
from models.admin_simulations import SimulationRequest, SimulationState

router = APIRouter(prefix="/console/{tenant_id}/simulations", include_in_schema=False)
REFRESH_S = 3
#: the report page: its own inline styles and SVG, no scripts, framed by the console's simulation page only
REPORT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
                 "base-uri 'none'; form-action 'none'")


def _service(page: Page) -> Simulations:
    return page.request.app.state.simulations


@router.get("", response_class=HTMLResponse)
def listed(request: Request, page: Page = Depends(tenant_page())):
    return page.render("simulations.html", items=_service(page).list(page.tenant_id))


def _found(page: Page, simulation_id: str):
    row = _service(page).get(page.tenant_id, simulation_id)
    if row is None:
        raise ConsoleError(404, "no such simulation")
    return row


@router.get("/{simulation_id}", response_class=HTMLResponse)
def one(simulation_id: str, request: Request, page: Page = Depends(tenant_page())):
    detail = detail_of(_found(page, simulation_id))
    return page.render("simulation.html", sim=detail, refresh=REFRESH_S if detail.state is SimulationState.RUNNING
                       else None)


@router.get("/{simulation_id}/report", response_class=HTMLResponse)
def report(simulation_id: str, request: Request, page: Page = Depends(tenant_page())):
    row = _found(page, simulation_id)
    if row.report_html is None:
        raise ConsoleError(409, f"the simulation is {row.state}: no report")
    return HTMLResponse(row.report_html, headers={"Content-Security-Policy": REPORT_POLICY})


def start(page: Page, raw: dict[str, str]) -> Response:
    candidate, problems = rules_screen.candidate_of(page, raw.get("rules", ""))
    data = yaml.safe_load(raw.get("rules", "")) if candidate is not None else {}
    body, errors = posted(SimulationRequest, {**{k: raw.get(k, "") for k in ("days", "evaluate", "reason",
                                                                              "request_id")}, "rules": data})
    if candidate is None or body is None:
        state = FormState(raw.get("request_id") or FormState().request_id, raw, errors)
        return rules_screen.show(page, 422, {"text": raw.get("rules", ""), "problems": problems, "publish": state})
    try:
        simulation_id = _service(page).start(page.request.app.state.services, Scope(page.who, page.tenant_id), body,
                                             candidate)
    except (Busy, Conflict) as exc:
        raise ConsoleError(409, str(exc)) from None
    return RedirectResponse(f"/console/{page.tenant_id}/simulations/{simulation_id}", 303)


@router.post("")
async def post_simulation(request: Request, page: Page = Depends(tenant_page(Role.OPERATOR))) -> Response:
    return await run_in_threadpool(start, page, await rules_screen.form_of(request))
