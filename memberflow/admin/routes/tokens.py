"""API tokens (admin): create, list, revoke; every write audited.

An admin bound to a tenant manages only that tenant's tokens; only an
every-tenant admin creates every-tenant tokens.  A request id already used by
this token for the same action gets 409 (the secret is shown only once).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from memberflow.admin import tokens
from memberflow.admin.deps import Services, allowed, services
from memberflow.admin.tokens import Principal
from models.admin import AuditOutcome, Role, TokenCreate, TokenCreated, TokenInfo, TokenRevoke

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _once(svc: Services, who: Principal, action: str, request_id: str) -> None:
    if svc.audit.find(who, action, request_id) is not None:
        raise HTTPException(409, f"request id {request_id!r} was used already for {action}")


@router.post("", response_model=TokenCreated, status_code=201, summary="create a token (admin)")
def create(body: TokenCreate, who: Principal = Depends(allowed(Role.ADMIN)), svc: Services = Depends(services)):
    if who.tenant_id is not None and body.tenant_id != who.tenant_id:
        raise HTTPException(404 if body.tenant_id is not None else 403,
                            "unknown tenant" if body.tenant_id is not None else "only an every-tenant admin may "
                            "create every-tenant tokens")
    _once(svc, who, "token.create", body.request_id)
    secret, info = tokens.create_token(svc.engine, body.name, body.role, body.tenant_id)
    svc.audit.record(who, body.tenant_id or "*", "token.create", info.token_id, body.reason, body.request_id,
                     AuditOutcome.DONE, {"name": body.name, "role": body.role.value})
    return TokenCreated(token=secret, info=info)


@router.get("", response_model=list[TokenInfo], summary="list tokens (admin)")
def list_all(who: Principal = Depends(allowed(Role.ADMIN)), svc: Services = Depends(services)):
    return tokens.list_tokens(svc.engine, who.tenant_id)


@router.post("/{token_id}/revoke", response_model=TokenInfo, summary="revoke a token (admin)",
             responses={404: {"description": "no such token for this admin"}})
def revoke(token_id: str, body: TokenRevoke, who: Principal = Depends(allowed(Role.ADMIN)),
           svc: Services = Depends(services)):
    info = tokens.get_token(svc.engine, token_id)
    if info is None or (who.tenant_id is not None and info.tenant_id != who.tenant_id):
        raise HTTPException(404, "unknown token")
    _once(svc, who, "token.revoke", body.request_id)
    info = tokens.revoke_token(svc.engine, token_id)
    svc.audit.record(who, info.tenant_id or "*", "token.revoke", token_id, body.reason, body.request_id,
                     AuditOutcome.DONE)
    return info
