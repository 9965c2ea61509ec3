"""The checkout quote: a cart priced for one member as of a moment, as a dry run.

The tier's discount (seed 003's ``applyMemberDiscount``) is applied per line and
rounded to the cent by ``checkout.rounding``; the coupons the shopper picked
apply in the order given when they are usable then and their conditions hold
(minimum spend on the discounted goods, categories, channel, at most ``per_order``
of one kind among those that apply), each taking at most its face value off the
goods it may apply to; shipping is free from the
tier's free-shipping threshold on.  The points are what ``apply_event`` would
credit for an ``order_paid`` of the goods to pay with these items, computed on
a copy of the state: nothing changes.  The payment options are what a points +
cash request for the goods to pay would settle (``engine.redemptions.payments``;
shipping is paid in cash).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from config.rules import Rounding, TenantRules
from engine.apply import apply_event
from engine.benefit_instances import instances, usable
from engine.experiments import arm_rules
from engine.redemptions.common import BLOCKED
from engine.redemptions.payments import Refusal, plan_payment
from engine.wallet import spendable
from models.events import OrderPaid
from models.outputs import LedgerEntry, LedgerKind
from models.quotes import CouponVerdict, PaymentOption, QuoteRequest, QuoteResult
from models.redemptions import PaymentMode
from models.state import MemberState, copy_state

CENT = Decimal("0.01")
ROUNDING = {Rounding.HALF_UP: ROUND_HALF_UP, Rounding.HALF_EVEN: ROUND_HALF_EVEN, Rounding.DOWN: ROUND_DOWN}
QUOTE_ORDER = "quote"


def quote(state: MemberState, rules: TenantRules, cart: QuoteRequest, at: datetime) -> QuoteResult:
    rules = arm_rules(state, rules, at)  # a member in a live experiment is priced by its arm's rules
    matrix = rules.tiers.by_id(state.tier).benefits
    rounding = ROUNDING[rules.checkout.rounding]
    lines = [((item.unit_price * item.quantity), (item.unit_price * matrix.discount).quantize(CENT, rounding)
              * item.quantity, item.category) for item in cart.items]
    member_total = sum((member for _, member, _ in lines), Decimal(0))
    left = member_total
    verdicts: list[CouponVerdict] = []
    applied: list[str] = []  # the kinds of the coupons that apply so far, for per-order limits
    for benefit_id in cart.coupons:
        verdict = _coupon(state, benefit_id, cart, lines, member_total, left, at, applied)
        left -= verdict.saving
        verdicts.append(verdict)
    shipping = Decimal(0) if member_total >= matrix.free_shipping_threshold else cart.shipping_fee
    points, by_rule = _points(state, rules, cart, left, at)
    available = spendable(state, at)
    return QuoteResult(
        tenant_id=state.tenant_id, member_id=state.member_id, at=at.isoformat(), tier=state.tier,
        discount=matrix.discount, list_total=sum((listed for listed, _, _ in lines), Decimal(0)),
        member_total=member_total, coupons=verdicts, goods_to_pay=left,
        free_shipping_threshold=matrix.free_shipping_threshold, shipping=shipping, total=left + shipping,
        points=points, points_by_rule=by_rule, spendable_points=available,
        payment_options=_payment_options(state, rules, cart, left, lines, available))


def _payment_options(state: MemberState, rules: TenantRules, cart: QuoteRequest, goods: Decimal,
                     lines: list[tuple[Decimal, Decimal, str]], available: int) -> list[PaymentOption]:
    """What a points + cash request for ``goods`` would settle: the most points can pay, and at most
    the points the cart asks for.  Each line's member unit price decides its band."""
    pay_rules = rules.redemptions.points_cash
    bands = [(member / item.quantity, item.quantity) for (_, member, _), item in zip(lines, cart.items, strict=True)]

    def option(mode: str, points_cap: int) -> PaymentOption:
        def refused(reason: str) -> PaymentOption:
            return PaymentOption(mode=mode, available=False, points=0, points_value=Decimal("0.00"), cash=goods,
                                 parts=[], reason=reason)

        if state.status in BLOCKED:
            return refused(f"the account is {state.status.value}")
        if goods <= 0:
            return refused("nothing left to pay")
        if available < pay_rules.min_balance:
            return refused(f"{available} spendable < minimum {pay_rules.min_balance}")
        # the minimum is the member's balance's, not the points asked for
        plan = plan_payment(goods, PaymentMode.POINTS_FIRST, None, min(available, points_cap),
                            pay_rules.model_copy(update={"min_balance": 0}), bands)
        if isinstance(plan, Refusal):
            return refused(plan.detail)
        return PaymentOption(mode=mode, available=True, points=plan.points, points_value=plan.points_value,
                             cash=plan.cash_amount, parts=list(plan.parts))

    options = [option("most_points", available)]
    if cart.points is not None:
        options.append(option("points_wanted", cart.points))
    return options


def _coupon(state: MemberState, benefit_id: str, cart: QuoteRequest, lines: list[tuple[Decimal, Decimal, str]],
            member_total: Decimal, left: Decimal, at: datetime, applied: list[str]) -> CouponVerdict:
    def refused(reason: str) -> CouponVerdict:
        return CouponVerdict(benefit_id=benefit_id, applies=False, saving=Decimal(0), reason=reason)

    inst = instances(state).get(benefit_id)
    if inst is None:
        return refused("not held by this member")
    if benefit_id in cart.coupons[:cart.coupons.index(benefit_id)]:
        return refused("picked twice")
    why = usable(inst, at)
    if why is not None:
        return refused(why)
    if not inst.value:
        return refused("has no face value")
    eligible = member_total
    c = inst.conditions
    if c is not None:
        if c.min_spend is not None and member_total < c.min_spend:
            return refused(f"needs goods of {c.min_spend}, the cart has {member_total}")
        if c.channel is not None and cart.channel != c.channel:
            return refused(f"only through {c.channel}")
        if c.per_order is not None and applied.count(inst.benefit) >= c.per_order:
            return refused(f"at most {c.per_order} {inst.benefit} per order")
        if c.categories:
            eligible = sum((member for _, member, category in lines if category in c.categories), Decimal(0))
            if not eligible:
                return refused(f"only on {', '.join(c.categories)}")
    saving = min(inst.value, eligible, left)
    if saving > 0:
        applied.append(inst.benefit)
    return CouponVerdict(benefit_id=benefit_id, applies=saving > 0, saving=saving,
                         reason=None if saving > 0 else "nothing left to take off")


def _points(state: MemberState, rules: TenantRules, cart: QuoteRequest, amount: Decimal,
            at: datetime) -> tuple[int, dict[str, int]]:
    order = OrderPaid(type="order_paid", event_id=QUOTE_ORDER, tenant_id=state.tenant_id, member_id=state.member_id,
                      occurred_at=at, order_id=QUOTE_ORDER, amount=amount, items=cart.items)
    outcome = apply_event(copy_state(state), order, rules)
    by_rule: dict[str, int] = {}
    for out in outcome.outputs:
        entry = out.value
        if isinstance(entry, LedgerEntry) and entry.kind is LedgerKind.EARN and entry.retracts is None:
            by_rule[entry.rule] = by_rule.get(entry.rule, 0) + entry.delta
    return sum(by_rule.values()), by_rule
