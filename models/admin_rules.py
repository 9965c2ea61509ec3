"""Contracts of the admin service's rules endpoints: tenant rules at runtime and expiry-warning campaigns.

A rules document here is a JSON object shaped like a ``<tenant>.yaml`` rules
file (``docs/rules.md``): the admin service merges it over the default rules
and validates it as ``config.rules.TenantRules``.  Published versions carry
the complete, merged document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from models.admin import Contract

Reason = Field(min_length=1, max_length=1000, pattern=r"\S", description="why (recorded in the audit trail)")
RequestId = Field(min_length=1, max_length=128, description="a retry with the same id gets the first answer")


class RulesCandidate(Contract):
    rules: dict[str, Any] = Field(description="a tenant rules document, merged over the default rules like a "
                                              "`<tenant>.yaml` file (send the whole document from `GET …/rules` "
                                              "to change one field)")


class RulesPublish(RulesCandidate):
    reason: str = Reason
    request_id: str = RequestId


class RulesRollback(Contract):
    version: int = Field(ge=1, description="the version whose document is published again, as a new version")
    reason: str = Reason
    request_id: str = RequestId


class RulesChecked(Contract):
    valid: Literal[True] = True
    fingerprint: str = Field(description="what outputs would name as `rules_version` if these were file rules")
    rules: dict[str, Any] = Field(description="the complete document, as it would be published")


class RulesVersionInfo(Contract):
    tenant_id: str
    version: int
    published_by: str
    reason: str
    published_at: AwareDatetime


class RulesVersionDetail(RulesVersionInfo):
    rules: dict[str, Any] = Field(description="the complete rules document of this version")


class RulesInForce(Contract):
    """A tenant's rules in force: the latest version published, or the rules directory's."""

    tenant_id: str
    rules_version: str = Field(description="as outputs name it: `v<n>`, or `file:<digest>` for the rules "
                                           "directory's")
    version: int | None = Field(description="the published version in force; null: the rules directory's")
    published_by: str | None = None
    reason: str | None = None
    published_at: AwareDatetime | None = None
    rules: dict[str, Any]


class RulesChange(Contract):
    path: str = Field(description="the field's dotted path, e.g. `points.earning.base.points_per_unit`")
    change: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


class RulesDiff(Contract):
    tenant_id: str
    from_version: int
    to_version: int
    changes: list[RulesChange]
    text: str = Field(description="the same as a unified diff of the two documents in YAML")


class ExpiryWarningPreview(Contract):
    """A member the expiry-warning campaign would warn, and the text it would send."""

    member_id: str
    expires_at: AwareDatetime = Field(description="when the member's next points expire")
    points: int = Field(description="points expiring then")
    channel: str
    text: str


class LineVersionInfo(Contract):
    """One version of a business line: shipped with the rules in force, or published to ``business-lines``."""

    version: int
    name: str
    levels: int = Field(description="how many badge levels it has")
    source: Literal["rules", "published"]
    seen_at: AwareDatetime | None = Field(default=None, description="a published version: when the broker first "
                                                                    "carried it")


class BusinessLineHistory(Contract):
    line_id: str
    in_force: LineVersionInfo = Field(description="the highest version: a published one over the rules' version")
    versions: list[LineVersionInfo] = Field(description="every version known, newest first")
