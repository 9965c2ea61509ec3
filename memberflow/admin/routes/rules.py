"""A tenant's rules at runtime (admin writes, viewer reads), and the expiry-warning campaign's preview.

Publishing and rolling back are audited (``rules.publish``, ``rules.rollback``); a retry with the same
request id gets the version the first request published (409 if it asks for other rules).  A candidate
that does not validate is 422 with each error's ``loc`` (``body``, ``rules``, then the field's path in the
document), its dotted ``path`` and ``msg`` -- the checks of ``memberflow rules check``, and every tier the
earning rules name must be on the ladder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from config.rules import TenantRules
from memberflow.admin.business_lines import line_histories
from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.routes.members import Cursor, Limit
from memberflow.admin.rules import (
    CandidateError,
    TenantRulesService,
    changes,
    document,
    publish_audited,
    text_diff,
    version_detail,
)
from memberflow.admin.rules import expiry_preview as members_to_warn
from memberflow.readmodel import queries
from memberflow.readmodel.projection import utc
from models.admin import Page, Role
from models.admin_rules import (
    BusinessLineHistory,
    ExpiryWarningPreview,
    RulesCandidate,
    RulesChecked,
    RulesDiff,
    RulesInForce,
    RulesPublish,
    RulesRollback,
    RulesVersionDetail,
    RulesVersionInfo,
)

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["rules"])
INVALID = {422: {"description": "the candidate does not validate: each error's path and why"}}


def rules_service(request: Request) -> TenantRulesService:
    return request.app.state.rules


def checked(svc: TenantRulesService, tenant_id: str, data: dict) -> TenantRules:
    try:
        return svc.candidate(tenant_id, data)
    except CandidateError as exc:
        raise HTTPException(422, [{**e, "loc": ["body", "rules", *e["loc"]]} for e in exc.errors]) from None


@router.get("/rules", response_model=RulesInForce, summary="the tenant's rules in force, with their version")
def in_force(scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    current, row = rules.in_force(scope.tenant_id)
    return RulesInForce(tenant_id=scope.tenant_id, rules_version=current.version,
                        version=row.version if row else None, published_by=row.published_by if row else None,
                        reason=row.reason if row else None, published_at=utc(row.published_at) if row else None,
                        rules={**document(current), "tenant_id": scope.tenant_id})  # a tenant without a file


@router.post("/rules/validate", response_model=RulesChecked, summary="validate a candidate (nothing is published)",
             responses=INVALID)
def validate(body: RulesCandidate, scope: Scope = Depends(scoped(Role.VIEWER)),
             rules: TenantRulesService = Depends(rules_service)):
    candidate = checked(rules, scope.tenant_id, body.rules)
    return RulesChecked(fingerprint=f"{candidate.fingerprint:016x}", rules=document(candidate))


@router.post("/rules/versions", response_model=RulesVersionDetail, status_code=201,
             summary="publish a candidate as the tenant's next version (admin)",
             responses={**INVALID, 409: {"description": "the request id was used for other rules, or another "
                                                "publish took the version number (try again)"}})
def publish(body: RulesPublish, scope: Scope = Depends(scoped(Role.ADMIN)),
            rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services)):
    candidate = checked(rules, scope.tenant_id, body.rules)
    return publish_audited(rules, svc, scope, "rules.publish", candidate, body.reason, body.request_id, {})


@router.get("/rules/versions", response_model=list[RulesVersionInfo], summary="the versions published, newest first")
def versions(scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    return [RulesVersionInfo(tenant_id=r.tenant_id, version=r.version, published_by=r.published_by, reason=r.reason,
                             published_at=utc(r.published_at)) for r in rules.versions(scope.tenant_id)]


@router.get("/business-lines", response_model=list[BusinessLineHistory],
            summary="the tenant's business lines: each one's version in force and every version known")
def business_lines(scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    current, _ = rules.in_force(scope.tenant_id)
    return line_histories(rules.engine, scope.tenant_id, current.business_lines)


def _stored(rules: TenantRulesService, tenant_id: str, number: int) -> sa.Row:
    row = rules.version(tenant_id, number)
    if row is None:
        raise HTTPException(404, f"no version {number} of this tenant's rules")
    return row


@router.get("/rules/versions/{version}", response_model=RulesVersionDetail, summary="one version, its document",
            responses={404: {"description": "no such version"}})
def version(version: int, scope: Scope = Depends(scoped(Role.VIEWER)),
            rules: TenantRulesService = Depends(rules_service)):
    return version_detail(_stored(rules, scope.tenant_id, version))


@router.get("/rules/diff", response_model=RulesDiff, summary="what changed between two versions",
            responses={404: {"description": "no such version"}})
def diff(from_version: Annotated[int, Query(alias="from", ge=1)], to_version: Annotated[int, Query(alias="to", ge=1)],
         scope: Scope = Depends(scoped(Role.VIEWER)), rules: TenantRulesService = Depends(rules_service)):
    old, new = (_stored(rules, scope.tenant_id, n).rules for n in (from_version, to_version))
    return RulesDiff(tenant_id=scope.tenant_id, from_version=from_version, to_version=to_version,
                     changes=changes(old, new), text=text_diff(old, new, f"v{from_version}", f"v{to_version}"))


@router.post("/rules/rollback", response_model=RulesVersionDetail, status_code=201,
             summary="publish an earlier version's document again, as the next version (admin)",
             responses={404: {"description": "no such version"}, 409: {"description": "a concurrent publish"}})
def rollback(body: RulesRollback, scope: Scope = Depends(scoped(Role.ADMIN)),
             rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services)):
    row = _stored(rules, scope.tenant_id, body.version)
    candidate = TenantRules.model_validate(row.rules)
    return publish_audited(rules, svc, scope, "rules.rollback", candidate, body.reason, body.request_id,
                    {"restores": body.version})


# -- the expiry-warning campaign -----------------------------------------------------


@router.get("/campaigns/expiry-warnings/preview", response_model=Page[ExpiryWarningPreview],
            summary="the members the expiry-warning campaign would warn, by expiry date")
def expiry_preview(as_of: datetime | None = Query(default=None, description="default: now"), cursor: Cursor = None,
                   limit: Limit = 50, scope: Scope = Depends(scoped(Role.VIEWER)),
                   rules: TenantRulesService = Depends(rules_service), svc: Services = Depends(services)):
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(422, [{"loc": ["query", "as_of"], "msg": "needs a UTC offset", "type": "value_error"}])
    try:
        items, next_cursor = members_to_warn(rules, svc.engine, scope.tenant_id, utc(as_of or datetime.now(UTC)),
                                            cursor, limit)
    except queries.BadCursor as exc:
        raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]) from None
    return Page[ExpiryWarningPreview](items=items, next_cursor=next_cursor)
