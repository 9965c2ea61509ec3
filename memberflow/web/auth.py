"""Service tokens: who may call the workers' member API, and for which tenant.

The shop and the benefit systems call the workers with a token in
``Authorization: Bearer mf_<token id>_<secret>`` -- the same form as the admin
service's tokens.  The workers have no database, so the tokens they accept are
kept in a JSON Lines file (``MEMBERFLOW_SERVICE_TOKENS_FILE``), one
``ServiceToken`` per line holding the SHA-256 of the secret, never the secret.
``memberflow service-token create`` appends one and prints the token once;
``memberflow service-token revoke`` removes it.  A worker reads the file again
whenever it changed, so tokens come and go without a restart; a missing file
means no token is valid (every call gets 401).

The tenant comes from the token.  A token bound to a tenant answers for that
tenant only: ``tenant_id`` may be left out, or must name it (another tenant's
member is 404, as if it did not exist).  A platform token (``tenant_id`` null)
names the tenant with ``tenant_id`` (default ``default``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from models.fields import Ident

PREFIX = "mf_"
#: where an authorised request's tenant is kept on the request, for the view
TENANT = "memberflow.tenant_id"
DEFAULT_TENANT = "default"


class ServiceToken(BaseModel):
    """One line of the service tokens file."""

    model_config = ConfigDict(frozen=True)

    token_id: Ident
    secret_hash: str
    tenant_id: Ident | None = None
    name: str
    created_at: AwareDatetime

    def tenant_for(self, asked: str | None) -> str | None:
        """The tenant a call acts on, or None when this token may not see the one ``asked``."""
        if self.tenant_id is None:
            return asked or DEFAULT_TENANT
        return self.tenant_id if asked in (None, "", self.tenant_id) else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(token id, secret) of a token of the form ``mf_<id>_<secret>``, or None."""
    if not token.startswith(PREFIX):
        return None
    token_id, _, secret = token[len(PREFIX):].partition("_")
    return (token_id, secret) if token_id and secret else None


def new_token(name: str, tenant_id: str | None, now: datetime | None = None) -> tuple[str, ServiceToken]:
    """A new token: (the token to hand over, once; the line to store)."""
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    stored = ServiceToken(token_id=token_id, secret_hash=secret_hash(secret), tenant_id=tenant_id, name=name,
                          created_at=now or datetime.now(UTC))
    return f"{PREFIX}{token_id}_{secret}", stored


def add_token(path: Path, token: ServiceToken) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(token.model_dump_json() + "\n")


def revoke_token(path: Path, token_id: str) -> bool:
    """Remove a token from the file (written whole, then renamed); whether it was there."""
    tokens = read_tokens(path)
    kept = [t for t in tokens if t.token_id != token_id]
    if len(kept) == len(tokens):
        return False
    scratch = path.with_suffix(path.suffix + ".new")
    scratch.write_text("".join(t.model_dump_json() + "\n" for t in kept), encoding="utf-8")
    os.replace(scratch, path)
    return True


def read_tokens(path: Path) -> list[ServiceToken]:
    """The file's tokens; a line that is not a token is left out (it authenticates nobody)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    tokens = []
    for line in lines:
        try:
            tokens.append(ServiceToken.model_validate_json(line))
        except ValidationError:
            continue
    return tokens


class ServiceTokens:
    """The tokens a worker accepts: the file, read again when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._by_id: dict[str, ServiceToken] = {}

    def _current(self) -> dict[str, ServiceToken]:
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, -1)
        if seen != self._seen:
            self._by_id = {t.token_id: t for t in read_tokens(self.path)}
            self._seen = seen
        return self._by_id

    def authenticate(self, token: str | None) -> ServiceToken | None:
        parts = split_token(token or "")
        if parts is None:
            return None
        found = self._current().get(parts[0])
        if found is None or not hmac.compare_digest(found.secret_hash, secret_hash(parts[1])):
            return None
        return found


def bearer(request: Any) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def caller_tenant(tokens: ServiceTokens, request: Any, asked: str | None) -> tuple[str | None, int]:
    """(the tenant the request acts on, 200), or (None, 401 or 404)."""
    token = tokens.authenticate(bearer(request))
    if token is None:
        return None, 401
    tenant = token.tenant_for(asked)
    return (tenant, 200) if tenant is not None else (None, 404)


REFUSALS = {401: {"error": "a valid service token is required (Authorization: Bearer mf_...)"},
            404: {"error": "unknown tenant or member"}}


def refused(view: Any, status: int) -> Any:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return view.json(REFUSALS[status], status=status, headers=headers)


def authorised(tokens: ServiceTokens) -> Callable:
    """Decorates a view (outside ``table_route``, so nothing is routed unauthenticated): 401 without a valid
    token, 404 for a tenant the token does not see; otherwise the tenant is at ``request[TENANT]``."""

    def decorate(fun: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(fun)
        async def view(web: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            tenant, status = caller_tenant(tokens, request, request.query.get("tenant_id"))
            if tenant is None:
                return refused(web, status)
            request[TENANT] = tenant
            return await fun(web, request, *args, **kwargs)

        return view

    return decorate
