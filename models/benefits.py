"""Benefit instances' contracts: the conditions a benefit carries, usage reported
back by benefit and order systems (``benefit-usage``), and the status changes
memberflow publishes (``benefit-changes``).

Every grant (``BenefitGrant``) is an instance whose id is the grant id; its
status moves ``issued -> used | expired | voided`` (``engine/benefit_instances.py``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from models.conditions import Conditions as Conditions  # re-exported: part of the benefits contract
from models.events import InputEvent
from models.fields import Ident, Money
from models.outputs import Output


class BenefitStatus(StrEnum):
    ISSUED = "issued"
    USED = "used"
    EXPIRED = "expired"
    VOIDED = "voided"


class UsageAction(StrEnum):
    USED = "used"  # applied to an order
    VOIDED = "voided"  # withdrawn by the benefit system; never usable again
    RESTORED = "restored"  # the order it was used on was refunded: usable again


class BenefitUsage(InputEvent):
    """A benefit system or order system reports what became of one benefit instance.
    ``benefit_id`` is the grant id of ``benefit-grants``."""

    type: Literal["benefit_usage"] = "benefit_usage"
    benefit_id: Ident
    action: UsageAction
    order_id: Ident | None = Field(default=None, description="the order it was used on (used, restored)")
    amount_saved: Money | None = Field(default=None, description="what the benefit took off the order (used)")
    order_amount: Money | None = Field(
        default=None, description="the order's goods at the member's price before benefits are taken off (the "
                                  "quote's member_total; used): checked against the benefit's minimum spend, which "
                                  "a report of a benefit with one must give")

    @model_validator(mode="after")
    def _order_named(self) -> BenefitUsage:
        if self.action is not UsageAction.VOIDED and self.order_id is None:
            raise ValueError(f"order_id is required when the action is {self.action.value}")
        return self


class BenefitChange(Output):
    """A benefit instance changed status: used on an order, restored after a refund, voided, or expired."""

    change_id: str
    benefit_id: str = Field(description="the grant id of the instance")
    benefit: str = Field(description="its kind, as granted")
    tier: str | None = None
    status: BenefitStatus = Field(description="the instance's status after this change")
    action: Literal["used", "voided", "restored", "expired"]
    order_id: str | None = None
    amount_saved: Decimal | None = None
    uses: int = Field(description="orders it is used on now (a grant of quantity n is used after n)")
