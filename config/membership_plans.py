"""Merchant membership plans and paid cards (seed 002), as steps on ``membership-plans``.

The document's model: a merchant has plans; a plan has levels; a level lists
the channels members join it by; a channel may sell a card product; a plan's
benefits are bound to activities (a coupon template).  Its merchant-side flow
is a chain of distributed calls any of which can fail or be retried, so every
call is published as a *step* and the definitions are a fold over the steps
that ends the same whatever their order or repetition (``engine.plans``):

- a definition (merchant, card template, plan with its levels, card product,
  benefit binding, activity) carries a ``version``: the highest one wins, and
  the same version published twice is the same fact;
- a lifecycle step moves a plan or product along ``draft -> pending ->
  effective -> retired``; a status never goes back, so a step that arrives after
  a later one changes nothing.

Every step is keyed ``tenant/merchant`` (merchants are scoped within a tenant).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from config.strict import Strict
from models.fields import Ident, LineId, Money

#: ids of definitions appear in URLs and output ids
DefId = LineId


class Lifecycle(StrEnum):
    """A plan's or product's status; each is reached once and never left backwards."""

    DRAFT = "draft"
    PENDING = "pending"
    EFFECTIVE = "effective"
    RETIRED = "retired"

    @property
    def rank(self) -> int:
        return _LIFECYCLE_ORDER.index(self)


_LIFECYCLE_ORDER = list(Lifecycle)


class JoinChannel(StrEnum):
    """How a member joins a level (engine/memberships.py, engine/join_channels.py)."""

    PURCHASE = "purchase"  # buying the level's card product (an order item)
    REGISTRATION = "registration"  # registering with the merchant (a registration naming it), once allowed
    SPEND_THRESHOLD = "spend_threshold"  # the member's spend with the merchant reaching the level's threshold
    INVITATION = "invitation"  # invited by a member holding an active membership of the plan
    OPERATOR_GRANT = "operator_grant"  # an operator's membership_grant command


class Step(Strict):
    """Fields of every merchant-side step."""

    tenant_id: Ident = "default"
    merchant_id: DefId


class Versioned(Step):
    version: int = Field(default=1, ge=1, description="monotonic per definition: the highest version wins")


class MerchantDefinition(Versioned):
    """A merchant of the tenant; ``suspended`` stops new sales, memberships are kept."""

    type: Literal["merchant"] = "merchant"
    name: str = Field(min_length=1, max_length=128)
    suspended: bool = False


class CardTemplate(Versioned):
    """How a plan's card is shown to members."""

    type: Literal["card_template"] = "card_template"
    template_id: DefId
    title: str = Field(min_length=1, max_length=128)
    background: str = Field(default="", max_length=256, description="colour or image URL")


class PlanLevel(Strict):
    level_id: DefId
    name: str = Field(min_length=1, max_length=64)
    rank: int = Field(ge=1, le=100, description="higher is better: buying a higher rank upgrades")
    channels: list[JoinChannel] = Field(min_length=1, max_length=5)
    spend_threshold: Money | None = Field(
        default=None, gt=0, description="with channel spend_threshold: the member's spend with the merchant that "
                                        "joins this level")

    @model_validator(mode="after")
    def _threshold(self) -> PlanLevel:
        listed = JoinChannel.SPEND_THRESHOLD in self.channels
        if listed and self.spend_threshold is None:
            raise ValueError("spend_threshold: a level joined by spend_threshold names its threshold")
        if not listed and self.spend_threshold is not None:
            raise ValueError("spend_threshold: only a level listing the spend_threshold channel has one")
        return self


class PlanDefinition(Versioned):
    type: Literal["plan"] = "plan"
    plan_id: DefId
    name: str = Field(min_length=1, max_length=128)
    template_id: DefId
    levels: list[PlanLevel] = Field(min_length=1, max_length=20)
    renewal_reminder_days: int = Field(default=7, ge=0, le=365,
                                       description="a paid membership's renewal reminder this long before it ends")

    @model_validator(mode="after")
    def _distinct(self) -> PlanDefinition:
        ids = [lv.level_id for lv in self.levels]
        ranks = [lv.rank for lv in self.levels]
        if len(set(ids)) != len(ids):
            raise ValueError("levels: level ids must be distinct")
        if len(set(ranks)) != len(ranks):
            raise ValueError("levels: ranks must be distinct")
        return self

    def level(self, level_id: str) -> PlanLevel | None:
        return next((lv for lv in self.levels if lv.level_id == level_id), None)


class CardProduct(Versioned):
    """A paid card: buying it joins (or extends) ``level_id`` of ``plan_id`` for ``duration_days``.
    Sold as an order item ``{"category": "membership_card", "merchant_id": ..., "sku": product_id}``."""

    type: Literal["product"] = "product"
    product_id: DefId
    plan_id: DefId
    level_id: DefId
    price: Money
    duration_days: int = Field(ge=1, le=3660)
    auto_renew: bool = Field(default=False, description="a subscription: the renewal reminder's moment asks the "
                             "billing system to renew it instead (a membership_renewal_request notification)")


class Activity(Versioned):
    """A merchant's activity (e.g. a coupon activity); a benefit bound to it is given only while it is effective."""

    type: Literal["activity"] = "activity"
    activity_id: DefId
    name: str = Field(min_length=1, max_length=128)
    effective: bool = False


class Cadence(StrEnum):
    ONCE = "once"  # with each card bought: joining, extending, upgrading
    MONTHLY = "monthly"  # in every calendar month (tenant time zone) the membership is active, from the joining one


class BenefitBinding(Versioned):
    """A benefit of a plan (to every level unless ``levels`` says), given on its ``cadence``."""

    type: Literal["benefit"] = "benefit"
    benefit_id: DefId
    plan_id: DefId
    activity_id: DefId
    coupon_template: Ident
    value: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000000"), decimal_places=2,
                                  allow_inf_nan=False, description="face value in money")
    quantity: int = Field(default=1, ge=1, le=100)
    levels: list[DefId] = Field(default_factory=list, max_length=20, description="none: every level")
    cadence: Cadence = Cadence.ONCE


class PlanStatus(Step):
    """Move a plan along its lifecycle (idempotent; a status already passed changes nothing)."""

    type: Literal["plan_status"] = "plan_status"
    plan_id: DefId
    status: Lifecycle


class ProductStatus(Step):
    type: Literal["product_status"] = "product_status"
    product_id: DefId
    status: Lifecycle


PlanStep = Annotated[
    MerchantDefinition | CardTemplate | PlanDefinition | CardProduct | Activity | BenefitBinding
    | PlanStatus | ProductStatus,
    Field(discriminator="type"),
]

#: the order item category that sells a card product (``sku`` is the product id)
CARD_CATEGORY = "membership_card"
#: the benefit kind of a card instance on ``benefit-grants`` (its grant id is the card id)
CARD_BENEFIT = "membership_card"


class PlanStepRequest(Strict):
    """An operator's merchant-side step through the admin service (published to ``membership-plans``)."""

    step: PlanStep
    reason: str = Field(min_length=1, max_length=500, description="why, for the audit trail")
    request_id: str = Field(min_length=1, max_length=128, description="idempotency key: a retry gets 409")


class PlanStepPublished(Strict):
    key: str = Field(description="the Kafka key it was published under: tenant/merchant")
    type: str
    request_id: str
