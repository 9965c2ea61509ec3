"""Benefit usage reported back (``benefit-usage``) and the instances' periodic work.

A report names one of the member's instances by its grant id:

- ``used`` on an order: refused (dead-lettered ``benefit_not_usable``) when the
  instance is voided, used up, or outside its validity at the report's event
  time; an instance of quantity n is used after n orders.  Its conditions'
  thresholds hold too: under its minimum spend (the report's ``order_amount``,
  which a report of such an instance must give) it is dead-lettered
  ``below_min_spend``; beyond ``per_order`` instances of its kind on one order,
  ``over_per_order_limit``;
- ``voided``: never usable again (refused once it is used);
- ``restored``: the order it was used on was refunded, so it is usable again
  (expired, if its validity ended before the refund; voided, if its membership
  card was voided meanwhile).

A benefit the member does not hold -- another member's, say -- is dead-lettered
``unknown_benefit``.  A repeat (the same order used again, an order restored
that is not among its uses, a voided instance voided again) changes nothing.
Every change is published on ``benefit-changes``.

A membership card revoked by the refund of its order voids the instances
bundled with it that are still issued (``void_bundled``): the card instance and
its coupons, a coupon used on some of its orders for the rest of its uses;
used-up and expired ones stay as they are.

The periodic evaluation expires issued instances at ``valid_until``, sends one
expiry reminder ``remind_days_before`` ahead to instances still issued, and
drops settled instances past their retention (``engine/benefit_instances.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from config.membership_plans import CARD_BENEFIT
from config.topics import Topic
from engine.benefit_instances import forget_settled, instances, settle_due, usable
from engine.due_moments import LookAhead
from engine.outcome import Reject
from engine.redemptions.coupons import BENEFIT as POINTS_COUPON
from engine.step import Step
from models.benefit_state import BenefitInstance
from models.benefits import BenefitChange, BenefitStatus, BenefitUsage, UsageAction
from models.outputs import DeadLetterReason, NotificationKind

#: kinds with reminders of their own (engine/redemptions/coupons.py; a card's renewal reminder)
OWN_REMINDERS = frozenset({POINTS_COUPON, CARD_BENEFIT})


def apply_usage(step: Step, report: BenefitUsage) -> None:
    inst = instances(step.state).get(report.benefit_id)
    if inst is None:
        raise Reject(DeadLetterReason.UNKNOWN_BENEFIT,
                     f"member {step.state.member_id} holds no benefit {report.benefit_id}")
    if report.action is UsageAction.USED:
        _use(step, report, inst)
    elif report.action is UsageAction.VOIDED:
        _void(step, report, inst)
    else:
        _restore(step, report, inst)


def _use(step: Step, report: BenefitUsage, inst: BenefitInstance) -> None:
    order_id = report.order_id
    assert order_id is not None  # the contract requires it
    if order_id in inst.uses:
        return  # reported already
    why = usable(inst, report.occurred_at)
    if why is not None:
        raise Reject(DeadLetterReason.BENEFIT_NOT_USABLE, f"benefit {report.benefit_id}: {why}")
    _check_thresholds(step, report, inst, order_id)
    inst.uses[order_id] = report.amount_saved
    if len(inst.uses) >= inst.quantity:
        _settle(inst, BenefitStatus.USED, report.occurred_at)
    else:  # an instance expired by the evaluation, used before its end by a report that came late
        _settle(inst, BenefitStatus.ISSUED, None)
    _publish(step, report.benefit_id, inst, "used", order_id=order_id, amount_saved=report.amount_saved)


def _check_thresholds(step: Step, report: BenefitUsage, inst: BenefitInstance, order_id: str) -> None:
    """The instance's minimum spend and per-order limit, against the order the report names."""
    c = inst.conditions
    if c is None:
        return
    if c.min_spend is not None and (report.order_amount is None or report.order_amount < c.min_spend):
        has = "the report gives no order_amount" if report.order_amount is None else \
            f"the order has {report.order_amount}"
        raise Reject(DeadLetterReason.BELOW_MIN_SPEND,
                     f"benefit {report.benefit_id}: needs goods of {c.min_spend} on order {order_id}, {has}")
    if c.per_order is not None:
        on_order = [bid for bid, other in instances(step.state).items()
                    if other.benefit == inst.benefit and order_id in other.uses]
        if len(on_order) >= c.per_order:
            raise Reject(DeadLetterReason.OVER_PER_ORDER_LIMIT,
                         f"benefit {report.benefit_id}: at most {c.per_order} {inst.benefit} per order, order "
                         f"{order_id} uses {', '.join(on_order)}")


def _void(step: Step, report: BenefitUsage, inst: BenefitInstance) -> None:
    if inst.status is BenefitStatus.VOIDED:
        return
    if inst.uses:
        raise Reject(DeadLetterReason.BENEFIT_NOT_USABLE,
                     f"benefit {report.benefit_id}: used on order {', '.join(inst.uses)}; restore it first")
    _settle(inst, BenefitStatus.VOIDED, report.occurred_at)
    _publish(step, report.benefit_id, inst, "voided")


def _restore(step: Step, report: BenefitUsage, inst: BenefitInstance) -> None:
    order_id = report.order_id
    if order_id not in inst.uses:
        return  # never used on it, or restored already
    saved = inst.uses.pop(order_id)
    ended = inst.valid_until is not None and report.occurred_at >= inst.valid_until
    if inst.status is BenefitStatus.VOIDED:
        pass  # voided with its card: the use is given back, the instance stays void
    elif _card_voided(step, inst):
        _settle(inst, BenefitStatus.VOIDED, report.occurred_at)  # used up before its card was refunded
    elif ended:
        _settle(inst, BenefitStatus.EXPIRED, inst.valid_until)
    else:
        _settle(inst, BenefitStatus.ISSUED, None)
    _publish(step, report.benefit_id, inst, "restored", order_id=order_id, amount_saved=saved)


def _card_voided(step: Step, inst: BenefitInstance) -> bool:
    card = instances(step.state).get(inst.card_id) if inst.card_id is not None else None
    return card is not None and card.status is BenefitStatus.VOIDED


def void_bundled(step: Step, card_id: str) -> None:
    """Void the issued instances bundled with membership card ``card_id`` (the card's own too),
    one ``benefit-changes`` each; settled ones (used up, expired, voided) stay as they are."""
    for benefit_id, inst in instances(step.state).items():
        if inst.card_id == card_id and inst.status is BenefitStatus.ISSUED:
            _settle(inst, BenefitStatus.VOIDED, step.occurred_at)
            _publish(step, benefit_id, inst, "voided")


def _settle(inst: BenefitInstance, status: BenefitStatus, at: datetime | None) -> None:
    inst.status = status
    inst.settled_at = at


def _publish(step: Step, benefit_id: str, inst: BenefitInstance, action: str, *,
             order_id: str | None = None, amount_saved: Decimal | None = None) -> None:
    step.emit(Topic.BENEFIT_CHANGES, BenefitChange(
        change_id=step._id("bc", benefit_id, action, order_id or ""),
        benefit_id=benefit_id, benefit=inst.benefit, tier=inst.tier, status=inst.status, action=action,
        order_id=order_id, amount_saved=amount_saved, uses=len(inst.uses), **step._common()))


# -- periodic evaluation ------------------------------------------------------------


def settle_instances(step: Step, as_of: datetime) -> bool:
    """Expire issued instances whose validity ended, remind of those ending soon, forget old settled ones."""
    state, rules = step.state, step.rules.benefits
    changed = False
    lead = timedelta(days=rules.remind_days_before)
    for benefit_id, inst in instances(state).items():
        if inst.status is not BenefitStatus.ISSUED or inst.valid_until is None:
            continue
        if inst.valid_until <= as_of:
            _settle(inst, BenefitStatus.EXPIRED, inst.valid_until)
            _publish(step, benefit_id, inst, "expired")
            changed = True
        elif _reminds(inst, lead) and inst.valid_until - lead <= as_of:
            inst.reminded = True
            step.notify(NotificationKind.BENEFIT_EXPIRY_REMINDER,
                        f"{inst.benefit} expires {inst.valid_until.astimezone(step.rules.tz).date()}, please use it",
                        benefit_id, benefit_id=benefit_id, benefit=inst.benefit,
                        valid_until=inst.valid_until.isoformat())
            changed = True
    return forget_settled(state, as_of, rules) or changed


def _reminds(inst: BenefitInstance, lead: timedelta) -> bool:
    """An issued instance gets one reminder, unless it is valid no longer than the lead (it was
    new when it came within it) or its kind has reminders of its own."""
    assert inst.valid_until is not None
    start = inst.valid_from or inst.issued_at
    return bool(lead) and not inst.reminded and inst.benefit not in OWN_REMINDERS and inst.valid_until - start > lead


def instances_due(ahead: LookAhead) -> datetime | None:
    """The earliest expiry or reminder of an issued instance, or retention of a settled one."""
    kept = ahead.state.benefits
    if not kept:
        return None
    rules = ahead.rules.benefits
    lead = timedelta(days=rules.remind_days_before)
    due = settle_due(ahead.state, rules)
    issued = BenefitStatus.ISSUED  # looked up once: an enum's member costs a class lookup each time
    for inst in kept.values():
        until = inst.valid_until
        if until is None or inst.status is not issued:
            continue
        moment = until - lead if _reminds(inst, lead) else until
        if due is None or moment < due:
            due = moment
    return due
