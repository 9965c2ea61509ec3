"""What every route depends on: the services, the authenticated principal, the tenant in scope.

Checks, in this order: a token (401 without a valid one), the tenant (a token
bound to another tenant gets 404, as if the tenant or member did not exist),
then the role (403 when the token's role may not).  Operator commands,
approvals and rules endpoints plug in by declaring ``Depends(scoped(Role.X))``
and writing through ``services.audit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from memberflow.admin.audit import AuditLog
from memberflow.admin.commands import CommandPublisher
from memberflow.admin.tokens import Principal, authenticate
from models.admin import Role


@dataclass(frozen=True)
class Services:
    engine: sa.Engine
    audit: AuditLog
    commands: CommandPublisher  # where member commands go (operator actions, imports)


def services(request: Request) -> Services:
    return request.app.state.services


_bearer = HTTPBearer(auto_error=False, description="an API token: `memberflow admin token create` makes the first")


def principal(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
              svc: Services = Depends(services)) -> Principal:
    """The token's principal; 401 without a valid token."""
    who = authenticate(svc.engine, credentials.credentials) if credentials is not None else None
    if who is None:
        raise HTTPException(401, "a valid API token is required", headers={"WWW-Authenticate": "Bearer"})
    return who


def allowed(role: Role):
    """A dependency: the principal, 403 unless its role is at least ``role``."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if not who.may(role):
            raise HTTPException(403, f"the {who.role} role may not do this (needs {role})")
        return who

    return check


@dataclass(frozen=True)
class Scope:
    """An authorised request about one tenant."""

    who: Principal
    tenant_id: str


def scoped(role: Role):
    """A dependency: the principal and the path's tenant; 404 for a tenant the token does not see, then
    403 unless its role is at least ``role``."""

    def check(tenant_id: str = Path(min_length=1, max_length=64), who: Principal = Depends(principal)) -> Scope:
        if not who.sees(tenant_id):
            raise HTTPException(404, "unknown tenant")
        if not who.may(role):
            raise HTTPException(403, f"the {who.role} role may not do this (needs {role})")
        return Scope(who, tenant_id)

    return check
