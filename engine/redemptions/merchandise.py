"""Points for catalogue items (seed 001 §6(3) redemption items).

Stock is not counted here (see config/redemptions.py): the fulfilment system
owns inventory; ``in_stock`` lets operations stop a sold-out item, and the
engine enforces the per-order and per-member caps.
"""

from __future__ import annotations

from engine.redemptions.common import answer, can_afford, reject, spending_blocked, take_pieces
from engine.step import Step
from engine.wallet import held
from models.outputs import LedgerKind
from models.redemptions import MerchandiseIssued, MerchandiseRequest, RejectReason

BENEFIT = "merchandise"


def apply_merchandise(step: Step, request: MerchandiseRequest) -> None:
    item = step.rules.redemptions.merchandise.items.get(request.item_id)
    if item is None:
        return reject(step, request, RejectReason.UNKNOWN_ITEM, f"no item {request.item_id!r} in the catalogue")
    if not item.in_stock:
        return reject(step, request, RejectReason.OUT_OF_STOCK, f"{request.item_id} is out of stock")
    if request.quantity > item.max_per_order:
        return reject(step, request, RejectReason.OVER_ORDER_CAP, f"at most {item.max_per_order} per order")
    bought = step.state.redemption.merchandise.get(request.item_id, 0)
    if item.max_per_member is not None and bought + request.quantity > item.max_per_member:
        return reject(
            step, request, RejectReason.OVER_MEMBER_LIMIT, f"{bought} redeemed already, at most {item.max_per_member}"
        )
    if spending_blocked(step, request):
        return None
    each = item.points_at(step.rules.redemptions.points_cash)
    cost = each * request.quantity
    if not can_afford(step, request, cost):
        return None
    state = step.state
    take_pieces(state, cost, step.occurred_at)
    step.ledger(LedgerKind.SPEND, "merchandise", -cost, held(state))
    state.redemption.merchandise[request.item_id] = bought + request.quantity
    step.grant(
        BENEFIT,
        quantity=request.quantity,
        details={"item_id": request.item_id, "name": item.name, "request_id": request.request_id},
    )
    answer(
        step,
        request,
        spent=cost,
        granted=MerchandiseIssued(
            kind="merchandise",
            item_id=request.item_id, name=item.name, quantity=request.quantity, points_each=each
        ),
    )
    return None
