"""API tokens: created with a role and a tenant (or every tenant), stored hashed, revocable.

A token reads ``mf_<token id>_<secret>``.  Only the SHA-256 of the secret is
stored; the token itself is shown once, when it is created.  Checking a token
looks its id up and compares the secret's hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.projection import utc
from models.admin import Role, TokenInfo

PREFIX = "mf_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a token's id, name, role and tenant (None: every tenant)."""

    token_id: str
    name: str
    role: Role
    tenant_id: str | None

    @property
    def actor(self) -> str:
        return f"{self.token_id}:{self.name}"

    def may(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def sees(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(engine: sa.Engine, name: str, role: Role, tenant_id: str | None,
                 now: datetime | None = None) -> tuple[str, TokenInfo]:
    """A new token: (the token to hand over, once; what is stored about it)."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = {"token_id": token_id, "secret_hash": _hash(secret), "tenant_id": tenant_id, "role": role.value,
           "name": name, "created_at": now or datetime.now(UTC), "revoked_at": None}
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.api_tokens).values(row))
    return f"{PREFIX}{token_id}_{secret}", _info(row)


def authenticate(engine: sa.Engine, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token; None otherwise."""
    if not token.startswith(PREFIX):
        return None
    token_id, _, secret = token[len(PREFIX):].partition("_")
    if not token_id or not secret:
        return None
    t = schema.api_tokens.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(schema.api_tokens).where(t.token_id == token_id)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Principal(row.token_id, row.name, Role(row.role), row.tenant_id)


def list_tokens(engine: sa.Engine, tenant_id: str | None = None) -> list[TokenInfo]:
    t = schema.api_tokens.c
    query = sa.select(schema.api_tokens).order_by(t.created_at, t.token_id)
    if tenant_id is not None:
        query = query.where(t.tenant_id == tenant_id)
    with engine.connect() as conn:
        return [_info(row._mapping) for row in conn.execute(query)]


def get_token(engine: sa.Engine, token_id: str) -> TokenInfo | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(schema.api_tokens).where(schema.api_tokens.c.token_id == token_id)).first()
    return _info(row._mapping) if row is not None else None


def revoke_token(engine: sa.Engine, token_id: str, now: datetime | None = None) -> TokenInfo | None:
    """Revoke a token (a token already revoked keeps its first revocation time)."""
    t = schema.api_tokens.c
    with engine.begin() as conn:
        conn.execute(sa.update(schema.api_tokens).where(t.token_id == token_id, t.revoked_at.is_(None))
                     .values(revoked_at=now or datetime.now(UTC)))
    return get_token(engine, token_id)


def _info(row) -> TokenInfo:
    return TokenInfo(token_id=row["token_id"], name=row["name"], role=Role(row["role"]), tenant_id=row["tenant_id"],
                     created_at=utc(row["created_at"]), revoked_at=utc(row["revoked_at"]))
