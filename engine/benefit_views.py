"""Read-only views of a member's benefit instances, for the lookup, the read model and checkout."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.benefit_instances import instances, usable
from models.benefit_state import BenefitInstance
from models.benefits import BenefitStatus
from models.state import MemberState


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def status_at(inst: BenefitInstance, as_of: datetime) -> BenefitStatus:
    """Its status as of ``as_of``: an issued instance past its end is expired, evaluated or not."""
    if inst.status is BenefitStatus.ISSUED and inst.valid_until is not None and inst.valid_until <= as_of:
        return BenefitStatus.EXPIRED
    return inst.status


def instance_view(benefit_id: str, inst: BenefitInstance, as_of: datetime) -> dict[str, Any]:
    c = inst.conditions
    return {
        "benefit_id": benefit_id,
        "benefit": inst.benefit,
        "tier": inst.tier,
        "value": None if inst.value is None else str(inst.value),
        "quantity": inst.quantity,
        "conditions": None if c is None else {
            "min_spend": None if c.min_spend is None else str(c.min_spend),
            "categories": list(c.categories), "channel": c.channel, "per_order": c.per_order},
        "issued_at": _when(inst.issued_at),
        "valid_from": _when(inst.valid_from),
        "valid_until": _when(inst.valid_until),
        "status": status_at(inst, as_of).value,
        "uses": [{"order_id": order_id, "amount_saved": None if saved is None else str(saved)}
                 for order_id, saved in inst.uses.items()],
        "settled_at": _when(inst.settled_at),
    }


def benefits_summary(state: MemberState, as_of: datetime) -> dict[str, Any]:
    """Every instance kept, newest first."""
    return {"benefits": [instance_view(bid, inst, as_of) for bid, inst in reversed(instances(state).items())]}


def valid_benefits(state: MemberState, as_of: datetime) -> list[dict[str, Any]]:
    """The instances an order placed at ``as_of`` could use, soonest-ending first."""
    valid = [(bid, inst) for bid, inst in instances(state).items() if usable(inst, as_of) is None]
    valid.sort(key=lambda pair: (pair[1].valid_until is None, pair[1].valid_until or as_of, pair[0]))
    return [instance_view(bid, inst, as_of) for bid, inst in valid]
