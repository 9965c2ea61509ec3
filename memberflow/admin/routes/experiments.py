"""Live experiments (viewer reads; stopping and rolling out publish rules: admin).

The experiments are those of the rules in force; an experiment they do not name is 404.  Stopping and
rolling out publish the tenant's next rules version (audited as ``experiments.stop`` and
``experiments.rollout``; a retry with the same request id gets the version the first request published).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime

from memberflow.admin import experiments as service
from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.routes.rules import rules_service
from memberflow.admin.rules import TenantRulesService
from models.admin import Role
from models.admin_experiments import ExperimentInfo, ExperimentRollout, ExperimentStatistics, ExperimentStop
from models.admin_rules import RulesVersionDetail

router = APIRouter(prefix="/tenants/{tenant_id}/experiments", tags=["experiments"])
UNKNOWN = {404: {"description": "the rules in force have no experiment so named"}}
PUBLISHING = {**UNKNOWN, 409: {"description": "the experiment was stopped already, the request id was used for "
                                              "another request, or a concurrent publish took the version number"},
              422: {"description": "an invalid body, or a variant the experiment does not have"}}
EnrolledFrom = Annotated[AwareDatetime | None, Query(description="a cohort: the members enrolled at or after "
                                                                 "this moment (RFC 3339 with an offset)")]
EnrolledUntil = Annotated[AwareDatetime | None, Query(description="a cohort: the members enrolled before this moment")]


def _cohort(enrolled_from: AwareDatetime | None, enrolled_until: AwareDatetime | None) -> None:
    """A span that ends where it starts, or before, is refused (a moment without an offset is refused by its type)."""
    if enrolled_from is not None and enrolled_until is not None and enrolled_until <= enrolled_from:
        raise HTTPException(422, [{"loc": ["query", "enrolled_until"], "msg": "must be after enrolled_from",
                                   "type": "value_error"}])


@router.get("", response_model=list[ExperimentInfo],
            summary="the experiments of the rules in force: status and members per variant")
def list_experiments(scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    return service.experiments(rules, scope.tenant_id)


@router.get("/{experiment_id}/statistics", response_model=ExperimentStatistics,
            responses={**UNKNOWN, 422: {"description": "a moment without an offset, or a cohort that ends before "
                                                       "it starts"}},
            summary="figures per variant, and each variant's spend per member against the control (Welch); "
                    "of a cohort when enrolled_from or enrolled_until is given")
def statistics(experiment_id: str, enrolled_from: EnrolledFrom = None, enrolled_until: EnrolledUntil = None,
               scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    _cohort(enrolled_from, enrolled_until)
    return service.statistics(rules, scope.tenant_id, experiment_id, enrolled_from, enrolled_until)


@router.post("/{experiment_id}/stop", response_model=RulesVersionDetail, status_code=201, responses=PUBLISHING,
             summary="stop the experiment now: publishes the rules with its `stopped_at` set (admin)")
def stop(experiment_id: str, body: ExperimentStop, scope: Scope = Depends(scoped(Role.ADMIN)),
         rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services)):
    return service.stop(rules, svc, scope, experiment_id, body.reason, body.request_id)


@router.post("/{experiment_id}/rollout", response_model=RulesVersionDetail, status_code=201, responses=PUBLISHING,
             summary="make a variant the base rules and stop the experiment: publishes the rules (admin)")
def rollout(experiment_id: str, body: ExperimentRollout, scope: Scope = Depends(scoped(Role.ADMIN)),
            rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services)):
    return service.rollout(rules, svc, scope, experiment_id, body.variant, body.reason, body.request_id)
