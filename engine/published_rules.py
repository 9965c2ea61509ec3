"""Tenant rules in force: the rules directory's, superseded by versions published at run time.

:class:`RulesVersions` folds the ``tenant-rules`` topic: per tenant the
highest valid version wins (a version at or below the one in force is
ignored; an invalid one changes nothing, the previous version stays).  A
tenant with no file of its own is onboarded by its first version.

:class:`LiveRules` is what a worker (and the offline replay) evaluates with:
the published tenant rules, each carrying the business-line definitions
published so far (``engine.published_lines``).  Either fold swaps ``book``
for a new one; a book is never changed in place.
"""

from __future__ import annotations

from pydantic import ValidationError

from config.rules import RuleBook, TenantRules
from config.rules_versions import RulesVersion
from engine.published_lines import Offer, PublishedLines, Verdict, describe


def parse_version(raw: bytes | None, max_bytes: int) -> RulesVersion | str:
    """A published version, or why it is invalid (naming the field path)."""
    if not raw:
        return "empty message"
    if len(raw) > max_bytes:
        return f"{len(raw)} bytes > {max_bytes}"
    try:
        return RulesVersion.model_validate_json(raw)
    except ValidationError as exc:
        return describe(exc)


def published(version: RulesVersion) -> TenantRules:
    """The rules of ``version``, naming it as the version that decides outputs."""
    rules = version.rules.model_copy()
    rules._published_version = version.version
    rules._version_label = f"v{version.version}"
    return rules


class RulesVersions:
    """The versions published so far, folded over the rule book loaded from files."""

    def __init__(self, files: RuleBook) -> None:
        self.files = files
        self.in_force: dict[str, RulesVersion] = {}
        self.book = files

    def version(self, tenant_id: str) -> int:
        current = self.in_force.get(tenant_id)
        return current.version if current is not None else 0

    def offer(self, raw: bytes | None, max_bytes: int) -> Offer:
        parsed = parse_version(raw, max_bytes)
        if isinstance(parsed, str):
            return Offer(Verdict.INVALID, parsed)
        return self.offer_version(parsed)

    def offer_version(self, version: RulesVersion) -> Offer:
        current = self.version(version.tenant_id)
        if version.version <= current:
            return Offer(Verdict.IGNORED, f"{version.tenant_id}: version {version.version} <= {current} in force",
                         previous_version=current)
        self.in_force[version.tenant_id] = version
        tenants = dict(self.files.tenants)
        tenants.update((tenant, published(v)) for tenant, v in self.in_force.items())
        self.book = RuleBook(self.files.default, tenants)
        return Offer(Verdict.APPLIED, f"{version.tenant_id}: version {version.version} in force",
                     previous_version=current or None)


class LiveRules:
    """Published tenant rules with the published business-line definitions over them."""

    def __init__(self, files: RuleBook) -> None:
        self.versions = RulesVersions(files)
        self.lines = PublishedLines(files)

    @property
    def book(self) -> RuleBook:
        return self.lines.book

    def offer_rules(self, raw: bytes | None, max_bytes: int) -> Offer:
        offer = self.versions.offer(raw, max_bytes)
        if offer.verdict is Verdict.APPLIED:
            self.lines.rebase(self.versions.book)
        return offer

    def offer_lines(self, raw: bytes | None, max_bytes: int) -> Offer:
        return self.lines.offer(raw, max_bytes)
