"""The benefit instances part of a member's state (``MemberState.benefits``).

One instance per grant, by grant id, oldest first.  Bounded: settled instances
(used, expired, voided) are dropped ``keep_settled_days`` after they settled,
and beyond ``max_instances`` the oldest settled ones go first
(``engine/benefit_instances.py``).  msgspec Structs, like the rest of the state.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec
from msgspec import field

from models.benefits import BenefitStatus


class InstanceConditions(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The state's twin of ``models.conditions.Conditions``."""

    min_spend: Decimal | None = None
    categories: list[str] = field(default_factory=list)
    channel: str | None = None
    per_order: int | None = None  # instances of this benefit one order may use (None: any)


class BenefitInstance(msgspec.Struct, kw_only=True, omit_defaults=True):
    benefit: str
    tier: str | None = None
    value: Decimal | None = None
    quantity: int = 1
    conditions: InstanceConditions | None = None
    issued_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: BenefitStatus = BenefitStatus.ISSUED
    uses: dict[str, Decimal | None] = field(default_factory=dict)  # order id -> amount saved
    settled_at: datetime | None = None  # when it became used, expired or voided
    reminded: bool = False  # its expiry reminder went out

    @property
    def settled(self) -> bool:
        return self.status is not BenefitStatus.ISSUED
