"""Merchants' membership plans (admin): publish a merchant-side step -- a merchant (or its
suspension), card template, plan, card product, activity, benefit binding, or a lifecycle
transition -- to ``membership-plans``.  Steps converge in any order (engine/plans.py), so a
failed call is simply retried with a new request id; each is audited.  The catalogue the
workers build from them: ``GET /merchants/{m}/plans`` on any worker.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from config.membership_plans import PlanStepPublished, PlanStepRequest
from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.plan_steps import PlanStepPublisher, step_key
from models.admin import AuditOutcome, Role

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["membership plans"])
ACTION = "plan.step"


def publisher(request: Request) -> PlanStepPublisher:
    found = getattr(request.app.state, "plan_steps", None)
    if found is None:
        raise HTTPException(503, "this admin service publishes no plan steps")
    return found


@router.post("/merchants/{merchant_id}/plan-steps", response_model=PlanStepPublished, status_code=202,
             responses={409: {"description": "the request id was used already"},
                        422: {"description": "an invalid step, or one of another tenant or merchant"}},
             summary="publish a merchant's membership-plan step (admin)")
def publish_step(body: PlanStepRequest, merchant_id: str = Path(min_length=1, max_length=64),
                 scope: Scope = Depends(scoped(Role.ADMIN)), svc: Services = Depends(services),
                 steps: PlanStepPublisher = Depends(publisher)) -> PlanStepPublished:
    step = body.step
    for field, expected in (("tenant_id", scope.tenant_id), ("merchant_id", merchant_id)):
        if getattr(step, field) != expected:
            raise HTTPException(422, [{"loc": ["body", "step", field], "msg": f"must be {expected!r} (the path's)",
                                       "type": "value_error"}])
    if svc.audit.find(scope.who, ACTION, body.request_id) is not None:
        raise HTTPException(409, f"request id {body.request_id!r} was used already for {ACTION}")
    key = step_key(scope.tenant_id, merchant_id)
    steps.publish(key, step)
    svc.audit.record(scope.who, scope.tenant_id, ACTION, f"merchant/{merchant_id}", body.reason, body.request_id,
                     AuditOutcome.DONE, {"type": step.type, "step": step.model_dump(mode="json")})
    return PlanStepPublished(key=key, type=step.type, request_id=body.request_id)
