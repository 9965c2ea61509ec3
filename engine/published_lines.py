"""Business-line definitions in force: the configured ones, superseded at run time.

The rules ship each tenant's lines (``business_lines``, version 1 unless
stated).  A :class:`LineDefinition` published to ``business-lines`` replaces a
tenant's line when its version is higher than the one in force; a version at
or below it is ignored, and an invalid definition changes nothing (the
previous version stays in force).  :class:`PublishedLines` is that fold: the same
sequence of definitions gives the same result on every worker and in the
offline replay, in any order across lines (the highest version wins).

The engine stays pure: the definitions in force travel inside the rules
(``TenantRules._published_lines``), and :func:`lines_for` reads them for a
member's tenant.  A tenant without a rules file of its own shares the default
rules object, so the published catalog holds every tenant's definitions and
each lookup picks the member's tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from hashlib import blake2b

from pydantic import ValidationError

from config.business_lines import BusinessLine, LineDefinition
from config.rules import RuleBook, TenantRules

#: tenant -> line id -> published definition in force
Catalog = Mapping[str, Mapping[str, LineDefinition]]


def lines_for(rules: TenantRules, tenant_id: str) -> Mapping[str, BusinessLine]:
    """Line id -> the definition in force for ``tenant_id``."""
    # the private attribute read straight from its dict: pydantic's attribute fallback
    # costs more than the rest of this function, and it runs for every member evaluated
    private = rules.__pydantic_private__
    catalog: Catalog | None = private.get("_published_lines") if private else None
    published = catalog.get(tenant_id) if catalog else None
    if not published:
        return rules.business_lines
    merged: dict[str, BusinessLine] = dict(rules.business_lines)
    for line_id, definition in published.items():
        current = merged.get(line_id)
        if current is None or definition.version > current.version:
            merged[line_id] = definition
    return merged


def catalog_digest(catalog: Catalog) -> int:
    """A 64-bit digest of the definitions in force: a line's version names its definition."""
    text = ";".join(f"{tenant}/{line_id}@{definition.version}" for tenant in sorted(catalog)
                    for line_id, definition in sorted(catalog[tenant].items()))
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big")


def with_catalog(rules: TenantRules, catalog: Catalog, digest: int) -> TenantRules:
    copy = rules.model_copy()
    copy._published_lines, copy._lines_digest = catalog, digest
    return copy


def error_path(loc: tuple) -> str:
    """A pydantic error location as a dotted path, without the rule tree's union tags."""
    parts: list[str] = []
    for part in loc:
        text = str(part)
        if text == "condition" or (parts and text in ("all", "any") and parts[-1] == text):
            continue
        parts.append(text)
    return ".".join(parts) or "<root>"


def describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] in ("json_invalid", "json_type"):
        return f"malformed JSON: {errors[0]['msg']}"
    parts = []
    for e in errors[:5]:
        path, msg = error_path(e["loc"]), e["msg"].removeprefix("Value error, ")
        parts.append(msg if path == "<root>" else f"{path}: {msg}")  # a line's own checks name their path
    return "; ".join(parts)


def parse_definition(raw: bytes | None, max_bytes: int) -> LineDefinition | str:
    """A published definition, or why it is invalid (naming the field path)."""
    if not raw:
        return "empty message"
    if len(raw) > max_bytes:
        return f"{len(raw)} bytes > {max_bytes}"
    try:
        return LineDefinition.model_validate_json(raw)
    except ValidationError as exc:
        return describe(exc)


class Verdict(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Offer:
    verdict: Verdict
    detail: str
    definition: LineDefinition | None = None
    previous_version: int | None = None


class PublishedLines:
    """The definitions published so far, folded over a base rule book.

    ``book`` is the rule book to evaluate with: the base rules, each carrying
    the catalog of published definitions in force.
    """

    def __init__(self, base: RuleBook) -> None:
        self.base = base
        self.published: dict[str, dict[str, LineDefinition]] = {}
        self.book = base

    def in_force(self, tenant_id: str) -> Mapping[str, BusinessLine]:
        return lines_for(self.book.for_tenant(tenant_id), tenant_id)

    def offer(self, raw: bytes | None, max_bytes: int) -> Offer:
        parsed = parse_definition(raw, max_bytes)
        if isinstance(parsed, str):
            return Offer(Verdict.INVALID, parsed)
        return self.offer_definition(parsed)

    def offer_definition(self, definition: LineDefinition) -> Offer:
        current = self.in_force(definition.tenant_id).get(definition.line_id)
        where = f"{definition.tenant_id}/{definition.line_id}"
        if current is not None and definition.version <= current.version:
            return Offer(Verdict.IGNORED, f"{where}: version {definition.version} <= {current.version} in force",
                         definition, current.version)
        self.published.setdefault(definition.tenant_id, {})[definition.line_id] = definition
        self._build()
        return Offer(Verdict.APPLIED, f"{where}: version {definition.version} in force", definition,
                     current.version if current is not None else None)

    def rebase(self, base: RuleBook) -> None:
        """The same published definitions over other base rules (a tenant's rules were published)."""
        self.base = base
        self._build()

    def _build(self) -> None:
        if not self.published:
            self.book = self.base
            return
        catalog = {tenant: dict(lines) for tenant, lines in self.published.items()}
        digest = catalog_digest(catalog)
        self.book = RuleBook(
            with_catalog(self.base.default, catalog, digest),
            {tenant: with_catalog(rules, catalog, digest) for tenant, rules in self.base.tenants.items()},
        )
