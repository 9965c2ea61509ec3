"""The merchant-side steps folded into definitions (seed 002), and what they sell.

``fold`` is a join: each definition keeps its highest version (a tie of
different content is broken by the content, so it does not matter which came
first) and each plan or product keeps the furthest status it was moved to.  So
any order or repetition of the same steps ends in the same ``PlanFacts``
(``tests/engine/test_plans.py`` proves it with Hypothesis).

A step that refers to something not (yet) defined is kept all the same and
reported by ``missing``: the worker dead-letters it with that reason, and it
takes effect as soon as what it refers to arrives (publishing it again is
harmless).  What it takes effect *on* is decided when something is sold or
shown: ``sale`` says whether a card product is sellable now, and why not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from config.membership_plans import (
    Activity,
    BenefitBinding,
    CardProduct,
    CardTemplate,
    JoinChannel,
    Lifecycle,
    MerchantDefinition,
    PlanDefinition,
    PlanLevel,
    PlanStatus,
    PlanStep,
    ProductStatus,
    Versioned,
)
from config.rules import RuleBook, TenantRules

#: (kind, tenant, merchant, id) of a definition or a lifecycle
Key = tuple[str, str, str, str]

STEP = TypeAdapter(PlanStep)

_ID_FIELD = {"merchant": None, "card_template": "template_id", "plan": "plan_id", "product": "product_id",
             "activity": "activity_id", "benefit": "benefit_id", "plan_status": "plan_id",
             "product_status": "product_id"}


def key_of(step: Any) -> Key:
    kind = step.type.removesuffix("_status")
    name = _ID_FIELD[step.type]
    return (kind, step.tenant_id, step.merchant_id, getattr(step, name) if name else "")


@dataclass(frozen=True)
class PlanFacts:
    """Every definition in force and every lifecycle status; never changed in place."""

    definitions: dict[Key, Versioned] = field(default_factory=dict)
    statuses: dict[Key, Lifecycle] = field(default_factory=dict)

    def get(self, kind: str, tenant: str, merchant: str, ident: str = "") -> Any:
        return self.definitions.get((kind, tenant, merchant, ident))

    def status(self, kind: str, tenant: str, merchant: str, ident: str) -> Lifecycle:
        return self.statuses.get((kind, tenant, merchant, ident), Lifecycle.DRAFT)

    def of_merchant(self, kind: str, tenant: str, merchant: str) -> Iterator[Any]:
        for (k, t, m, _), definition in sorted(self.definitions.items()):
            if (k, t, m) == (kind, tenant, merchant):
                yield definition


def _wins(new: Versioned, current: Versioned | None) -> bool:
    if current is None or new.version != current.version:
        return current is None or new.version > current.version
    return new.model_dump_json() > current.model_dump_json()


def fold(facts: PlanFacts, step: Any) -> PlanFacts:
    """``facts`` with ``step`` in it: the same object when the step changes nothing."""
    key = key_of(step)
    if isinstance(step, PlanStatus | ProductStatus):
        current = facts.statuses.get(key)
        if current is not None and step.status.rank <= current.rank:
            return facts
        return PlanFacts(facts.definitions, {**facts.statuses, key: step.status})
    if not _wins(step, facts.definitions.get(key)):
        return facts
    return PlanFacts({**facts.definitions, key: step}, facts.statuses)


def fold_all(steps: list[Any], facts: PlanFacts | None = None) -> PlanFacts:
    facts = facts or PlanFacts()
    for step in steps:
        facts = fold(facts, step)
    return facts


def missing(facts: PlanFacts, step: Any) -> str | None:
    """What ``step`` refers to that is not defined, or None."""
    t, m = step.tenant_id, step.merchant_id
    if isinstance(step, MerchantDefinition):
        return None
    if facts.get("merchant", t, m) is None:
        return f"merchant {m} of tenant {t} is not defined"
    if isinstance(step, PlanDefinition) and facts.get("card_template", t, m, step.template_id) is None:
        return f"card template {step.template_id} of merchant {m} is not defined"
    if isinstance(step, CardProduct | BenefitBinding | PlanStatus):
        plan = facts.get("plan", t, m, step.plan_id)
        if plan is None:
            return f"plan {step.plan_id} of merchant {m} is not defined"
        levels = [step.level_id] if isinstance(step, CardProduct) else getattr(step, "levels", [])
        unknown = [lv for lv in levels if plan.level(lv) is None]
        if unknown:
            return f"level {unknown[0]} is not a level of plan {step.plan_id} (version {plan.version})"
    if isinstance(step, BenefitBinding) and facts.get("activity", t, m, step.activity_id) is None:
        return f"activity {step.activity_id} of merchant {m} is not defined"
    if isinstance(step, ProductStatus) and facts.get("product", t, m, step.product_id) is None:
        return f"card product {step.product_id} of merchant {m} is not defined"
    return None


def describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] in ("json_invalid", "json_type"):
        return f"malformed JSON: {errors[0]['msg']}"
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in errors[:5])


def parse_step(raw: bytes | None, max_bytes: int) -> Any:
    """A merchant-side step, or why it is invalid (naming the field path)."""
    if not raw:
        return "empty message"
    if len(raw) > max_bytes:
        return f"{len(raw)} bytes > {max_bytes}"
    try:
        return STEP.validate_json(raw)
    except ValidationError as exc:
        return describe(exc)


# -- what the definitions sell -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sale:
    """A sellable card product with its plan and level."""

    merchant: MerchantDefinition
    plan: PlanDefinition
    level: PlanLevel
    product: CardProduct


def _closed(merchant: MerchantDefinition | None, merchant_id: str, what: str) -> str | None:
    """Why a merchant takes no new ``what`` (sales, members): not defined, or suspended; None when open."""
    if merchant is None:
        return f"merchant {merchant_id} is not defined"
    if merchant.suspended:
        return f"merchant {merchant_id} is suspended: no new {what}"
    return None


def sale(facts: PlanFacts, tenant: str, merchant_id: str, product_id: str) -> Sale | str:
    """The card product if it is sellable now, or why not: it and its plan must be
    effective and its merchant defined and not suspended."""
    merchant = facts.get("merchant", tenant, merchant_id)
    refused = _closed(merchant, merchant_id, "sales")
    if refused is not None:
        return refused
    product = facts.get("product", tenant, merchant_id, product_id)
    if product is None:
        return f"card product {product_id} of merchant {merchant_id} is not defined"
    status = facts.status("product", tenant, merchant_id, product_id)
    if status is not Lifecycle.EFFECTIVE:
        return f"card product {product_id} is {status.value}, not effective"
    plan = facts.get("plan", tenant, merchant_id, product.plan_id)
    if plan is None:
        return f"plan {product.plan_id} of card product {product_id} is not defined"
    status = facts.status("plan", tenant, merchant_id, plan.plan_id)
    if status is not Lifecycle.EFFECTIVE:
        return f"plan {plan.plan_id} of card product {product_id} is {status.value}, not effective"
    level = plan.level(product.level_id)
    if level is None:
        return f"level {product.level_id} is not a level of plan {plan.plan_id}"
    return Sale(merchant, plan, level, product)


def joinable(facts: PlanFacts, tenant: str, merchant_id: str, plan_id: str, level_id: str,
             channel: JoinChannel) -> tuple[PlanDefinition, PlanLevel] | str:
    """The plan and level if a member can join it now by ``channel``, or why not: the plan must be
    effective, its merchant defined and not suspended, and the level must list the channel."""
    refused = _closed(facts.get("merchant", tenant, merchant_id), merchant_id, "members")
    if refused is not None:
        return refused
    plan = facts.get("plan", tenant, merchant_id, plan_id)
    if plan is None:
        return f"plan {plan_id} of merchant {merchant_id} is not defined"
    status = facts.status("plan", tenant, merchant_id, plan_id)
    if status is not Lifecycle.EFFECTIVE:
        return f"plan {plan_id} is {status.value}, not effective"
    level = plan.level(level_id)
    if level is None:
        return f"level {level_id} is not a level of plan {plan_id}"
    if channel not in level.channels:
        return (f"level {level_id} of plan {plan_id} is not joined by {channel.value} "
                f"(its channels: {', '.join(c.value for c in level.channels)})")
    return plan, level


def levels_listing(facts: PlanFacts, tenant: str, merchant_id: str,
                   channel: JoinChannel) -> list[tuple[PlanDefinition, list[PlanLevel]]]:
    """The merchant's effective plans with their levels that list ``channel`` (lowest rank first);
    none while the merchant is undefined or suspended."""
    merchant = facts.get("merchant", tenant, merchant_id)
    if merchant is None or merchant.suspended:
        return []
    found = []
    for plan in facts.of_merchant("plan", tenant, merchant_id):
        if facts.status("plan", tenant, merchant_id, plan.plan_id) is not Lifecycle.EFFECTIVE:
            continue
        levels = sorted((lv for lv in plan.levels if channel in lv.channels), key=lambda lv: lv.rank)
        if levels:
            found.append((plan, levels))
    return found


def benefits_of(facts: PlanFacts, tenant: str, merchant_id: str, plan_id: str, level_id: str) -> list[BenefitBinding]:
    """The plan's benefits for ``level_id`` whose activity is effective now."""
    found = []
    for binding in facts.of_merchant("benefit", tenant, merchant_id):
        activity: Activity | None = facts.get("activity", tenant, merchant_id, binding.activity_id)
        if (binding.plan_id == plan_id and activity is not None and activity.effective
                and (not binding.levels or level_id in binding.levels)):
            found.append(binding)
    return found


def catalogue(facts: PlanFacts, tenant: str, merchant_id: str) -> dict[str, Any] | None:
    """The display-ready catalogue of a merchant's effective plans: levels, sellable products,
    active benefits and card template.  None when the merchant is not defined."""
    merchant = facts.get("merchant", tenant, merchant_id)
    if merchant is None:
        return None
    plans = []
    for plan in facts.of_merchant("plan", tenant, merchant_id):
        if facts.status("plan", tenant, merchant_id, plan.plan_id) is not Lifecycle.EFFECTIVE:
            continue
        template: CardTemplate | None = facts.get("card_template", tenant, merchant_id, plan.template_id)
        levels = []
        for level in sorted(plan.levels, key=lambda lv: lv.rank):
            products = [p for p in facts.of_merchant("product", tenant, merchant_id)
                        if p.plan_id == plan.plan_id and p.level_id == level.level_id
                        and isinstance(sale(facts, tenant, merchant_id, p.product_id), Sale)]
            levels.append({
                "level_id": level.level_id, "name": level.name, "rank": level.rank,
                "channels": [c.value for c in level.channels],
                "spend_threshold": str(level.spend_threshold) if level.spend_threshold is not None else None,
                "products": [{"product_id": p.product_id, "price": str(p.price), "duration_days": p.duration_days}
                             for p in products],
                "benefits": [{"benefit_id": b.benefit_id, "activity_id": b.activity_id,
                              "coupon_template": b.coupon_template,
                              "value": str(b.value) if b.value is not None else None, "quantity": b.quantity}
                             for b in benefits_of(facts, tenant, merchant_id, plan.plan_id, level.level_id)],
            })
        plans.append({
            "plan_id": plan.plan_id, "name": plan.name, "version": plan.version,
            "card": {"template_id": plan.template_id, "title": template.title if template else None,
                     "background": template.background if template else None},
            "levels": levels,
        })
    return {"tenant_id": tenant, "merchant_id": merchant_id, "name": merchant.name,
            "suspended": merchant.suspended, "plans": plans}


# -- the facts travel inside the rules, so the engine stays (state, event, rules) -> ...


def facts_of(rules: TenantRules) -> PlanFacts:
    private = rules.__pydantic_private__
    facts = private.get("_membership_plans") if private else None
    return facts if facts is not None else EMPTY


EMPTY = PlanFacts()


def with_facts(book: RuleBook, facts: PlanFacts) -> RuleBook:
    """``book`` whose every tenant's rules carry ``facts`` (each rule keeps its published lines)."""

    def carry(rules: TenantRules) -> TenantRules:
        copy = rules.model_copy()
        copy._membership_plans = facts
        return copy

    return RuleBook(carry(book.default), {tenant: carry(rules) for tenant, rules in book.tenants.items()})
