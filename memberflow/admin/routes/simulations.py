"""What-if simulations of a candidate rules document against the rules in force (operator starts, viewer reads).

Starting is audited (``rules.simulate``) and answers 202 at once with the simulation's id; the run goes on in
the background (``memberflow.admin.simulations``), one per tenant at a time (409 while one runs).  An operator
may start one: it changes nothing members see (publishing the candidate stays an admin's), but it holds the
tenant's one slot and a processor for a while, which a read-only viewer may not.  A candidate that does not
validate is 422 with each error's ``loc`` (``body``, ``rules``, then the field's path), as ``…/rules/validate``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.routes.rules import INVALID, checked, rules_service
from memberflow.admin.rules import TenantRulesService
from memberflow.admin.simulations import Busy, Conflict, Simulations, detail_of
from models.admin import Role
from models.admin_simulations import SimulationDetail, SimulationInfo, SimulationRequest, SimulationStarted

router = APIRouter(prefix="/tenants/{tenant_id}/simulations", tags=["simulations"])
NOT_FOUND = {404: {"description": "no such simulation"}}


def simulations_service(request: Request) -> Simulations:
    return request.app.state.simulations


@router.post("", response_model=SimulationStarted, status_code=202,
             summary="simulate a candidate against the rules in force over the last days (operator)",
             responses={**INVALID, 409: {"description": "a simulation of the tenant is running, or the request id "
                                                        "was used for another body"}})
def start(body: SimulationRequest, scope: Scope = Depends(scoped(Role.OPERATOR)),
          rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services),
          simulations: Simulations = Depends(simulations_service)):
    candidate = checked(rules, scope.tenant_id, body.rules)
    try:
        simulation_id = simulations.start(svc, scope, body, candidate)
    except (Busy, Conflict) as exc:
        raise HTTPException(409, str(exc)) from None
    row = simulations.get(scope.tenant_id, simulation_id)
    return SimulationStarted(simulation_id=simulation_id, state=row.state)


@router.get("", response_model=list[SimulationInfo], summary="the tenant's simulations, newest first")
def listed(limit: Annotated[int, Query(ge=1, le=200)] = 50, scope: Scope = Depends(scoped(Role.VIEWER)),
           simulations: Simulations = Depends(simulations_service)):
    return simulations.list(scope.tenant_id, limit)


def _found(simulations: Simulations, tenant_id: str, simulation_id: str):
    row = simulations.get(tenant_id, simulation_id)
    if row is None:
        raise HTTPException(404, "no such simulation")
    return row


@router.get("/{simulation_id}", response_model=SimulationDetail, responses=NOT_FOUND,
            summary="a simulation: its state, and its figures once done (its error once failed)")
def one(simulation_id: str, scope: Scope = Depends(scoped(Role.VIEWER)),
        simulations: Simulations = Depends(simulations_service)):
    return detail_of(_found(simulations, scope.tenant_id, simulation_id))


@router.get("/{simulation_id}/report.html", response_class=HTMLResponse,
            responses={**NOT_FOUND, 409: {"description": "not done (yet)"}},
            summary="the simulation's report page (HTML with SVG charts, no scripts)")
def report(simulation_id: str, scope: Scope = Depends(scoped(Role.VIEWER)),
           simulations: Simulations = Depends(simulations_service)):
    row = _found(simulations, scope.tenant_id, simulation_id)
    if row.report_html is None:
        raise HTTPException(409, f"the simulation is {row.state}: no report")
    return HTMLResponse(row.report_html)
