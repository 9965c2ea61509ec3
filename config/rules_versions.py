"""A version of one tenant's rules, as published to the ``tenant-rules`` topic.

The admin service publishes a tenant's complete rules document (validated as
:class:`config.rules.TenantRules`, the same checks as ``memberflow rules
check``) under the next version number; every worker applies the highest
version per tenant in place of the rules loaded from the rules directory,
without a restart.  A version at or below the one in force changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import AwareDatetime, Field, model_validator

from config.rules import TenantRules
from config.strict import Strict
from models.fields import Ident


class RulesVersion(Strict):
    """One published version of a tenant's rules (key: the tenant id)."""

    tenant_id: Ident
    version: int = Field(ge=1, description="monotonic per tenant; a version <= the one in force is ignored")
    rules: TenantRules = Field(description="the tenant's complete rules document; its tenant_id is the tenant's")
    published_by: str = Field(min_length=1, max_length=128, description="who published it")
    reason: str = Field(min_length=1, max_length=500)
    published_at: AwareDatetime

    @model_validator(mode="after")
    def _one_tenant(self) -> Self:
        if self.rules.tenant_id != self.tenant_id:
            raise ValueError(f"rules.tenant_id {self.rules.tenant_id!r} is not the version's tenant "
                             f"{self.tenant_id!r}")
        return self

    @property
    def label(self) -> str:
        return f"{self.tenant_id}@v{self.version}"


def version_of(tenant_id: str, version: int, rules: TenantRules, published_by: str, reason: str,
               published_at: datetime) -> RulesVersion:
    """A version of ``rules`` for ``tenant_id`` (its tenant_id set to the tenant's)."""
    return RulesVersion(tenant_id=tenant_id, version=version, rules=rules.model_copy(update={"tenant_id": tenant_id}),
                        published_by=published_by, reason=reason, published_at=published_at)
