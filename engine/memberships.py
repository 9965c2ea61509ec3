"""Memberships of merchants' plans bought as paid cards (seed 002's member side).

A card is bought as an item of an ``order_paid``: ``category`` is
``membership_card``, ``merchant_id`` the merchant and ``sku`` the card product
(no dedicated purchase event: the order is paid once, and a redelivered order
is a duplicate before it gets here).  Every card item of the order must be
sellable (``engine.plans.sale``), or the whole order is dead-lettered
``not_sellable`` with the reason, before anything else of it applies.

Buying joins the product's level for ``duration_days`` from the payment;
buying again while active extends ``until`` by the duration (a lower level than
the one held extends it too, and keeps the level); buying a higher level
upgrades from the payment on.  Joining issues a card instance (its id derived
from the member, the plan and the joining order) and every benefit bound to
the plan's level whose activity is effective, as ``benefit-grants`` with ids per
(membership, benefit, period) -- the period being the card order, or the month
for monthly benefits.  The card and its benefits are kept as benefit instances
bundled with the card (``BenefitInstance.card_id``; the card's ``valid_until``
follows the membership's ``until``).  A refund of a card order (any refund of
it) revokes the membership it joined, extended or upgraded, and voids the
bundled instances still issued (``engine.benefit_usage.void_bundled``).  The
periodic evaluation sends the renewal reminder the plan's
``renewal_reminder_days`` before ``until`` and expires it at ``until``.

The other channels (registration, spend threshold, invitation, operator grant:
engine/join_channels.py) join through ``join``, with the same card and benefits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.membership_plans import CARD_BENEFIT, CARD_CATEGORY, Cadence, JoinChannel, PlanDefinition, PlanLevel
from config.rules import TenantRules
from config.topics import Topic
from engine.benefit_instances import instances, issue
from engine.benefit_usage import void_bundled
from engine.clock import local_day, start_moment
from engine.due_moments import LookAhead
from engine.ids import derive_id
from engine.orders import apply_order_paid, apply_order_refunded
from engine.outcome import Reject
from engine.plans import Sale, benefits_of, facts_of, sale
from engine.step import Step
from models.benefits import BenefitStatus
from models.events import OrderItem, OrderPaid, OrderRefunded
from models.outputs import (
    BenefitGrant,
    DeadLetterReason,
    MembershipChange,
    MembershipChangeKind,
    NotificationKind,
)
from models.state import Membership, MembershipStatus, MemberState


def membership_key(merchant_id: str, plan_id: str) -> str:
    return f"{merchant_id}/{plan_id}"


def memberships_of(state: MemberState) -> dict[str, Membership]:
    """The member's memberships (read only: empty when the state has none yet)."""
    return state.memberships or {}


def _held(state: MemberState) -> dict[str, Membership]:
    if not state.memberships:
        state.memberships = {}
    return state.memberships


def card_items(event: OrderPaid) -> list[OrderItem]:
    return [item for item in event.items if item.category == CARD_CATEGORY]


def card_sales(step: Step, event: OrderPaid) -> list[tuple[OrderItem, Sale]]:
    """The order's card items with what they sell; raises ``Reject`` naming the first one not on sale."""
    facts = facts_of(step.rules)
    found = []
    for i, item in enumerate(card_items(event)):
        if item.merchant_id is None:
            raise Reject(DeadLetterReason.INVALID_EVENT,
                         f"items[{i}].merchant_id: a membership card names its merchant")
        sold = sale(facts, step.state.tenant_id, item.merchant_id, item.sku)
        if isinstance(sold, str):
            raise Reject(DeadLetterReason.NOT_SELLABLE, f"items[{i}]: {sold}")
        found.append((item, sold))
    return found


def apply_order_paid_with_cards(step: Step, event: OrderPaid) -> None:
    """An order paid: its card items checked first, then earning, then the memberships."""
    sales = card_sales(step, event)
    apply_order_paid(step, event)
    for item, sold in sales:
        for _ in range(item.quantity):
            buy(step, sold, event.order_id, item.unit_price)


def _change(step: Step, kind: MembershipChangeKind, membership: Membership, order_id: str | None,
            bought: tuple[str, Decimal] | None = None) -> None:
    """Publish a change; ``bought``: the card product and price the order paid, when a purchase caused it."""
    product_id, amount = bought if bought is not None else (membership.product_id, None)
    step.emit(Topic.MEMBERSHIP_CHANGES, MembershipChange(
        change_id=step._id("mc", membership.merchant_id, membership.plan_id, kind.value, len(membership.orders)),
        kind=kind, merchant_id=membership.merchant_id, plan_id=membership.plan_id, level_id=membership.level_id,
        status=membership.status.value, since=membership.since, until=membership.until, channel=membership.channel,
        card_id=membership.card_id, order_id=order_id, product_id=product_id, amount=amount,
        **step._common()))


def _remind_at(until: datetime, days: int) -> datetime | None:
    return until - timedelta(days=days) if days else None


def buy(step: Step, sold: Sale, order_id: str, paid: Decimal) -> None:
    """Join, extend or upgrade the membership of the product's plan, bought for ``paid``."""
    state, now = step.state, step.occurred_at
    plan, level, product = sold.plan, sold.level, sold.product
    key = membership_key(product.merchant_id, plan.plan_id)
    memberships = _held(state)
    held = memberships.get(key)
    term = timedelta(days=product.duration_days)
    if held is not None and held.status is MembershipStatus.ACTIVE and held.until is not None and held.until <= now:
        _expire(step, held)  # ended before the evaluation recorded it: recorded now, before joining anew
    if held is None or held.status is not MembershipStatus.ACTIVE:
        kind = MembershipChangeKind.JOINED
        held = Membership(
            merchant_id=product.merchant_id, plan_id=plan.plan_id, level_id=level.level_id, since=now,
            until=now + term, channel=JoinChannel.PURCHASE.value, product_id=product.product_id,
            card_id=derive_id("card", state.tenant_id, state.member_id, product.merchant_id, plan.plan_id, order_id))
        memberships.pop(key, None)
        memberships[key] = held
        _issue(step, held, order_id)
    else:
        current = plan.level(held.level_id)
        if current is not None and level.rank > current.rank:
            kind = MembershipChangeKind.UPGRADED
            held.level_id, held.until, held.product_id = level.level_id, now + term, product.product_id
        else:
            kind = MembershipChangeKind.EXTENDED
            held.until = (held.until or now) + term
    held.orders.append(order_id)
    held.auto_renew = product.auto_renew
    held.remind_at = _remind_at(held.until, plan.renewal_reminder_days)
    held.changed_at = now
    _change(step, kind, held, order_id, (product.product_id, paid))
    if kind is not MembershipChangeKind.JOINED:
        _card_follows(state, held)
        _grant_benefits(step, held, order_id)


def join(step: Step, plan: PlanDefinition, level: PlanLevel, channel: JoinChannel, cause: str,
         until: datetime | None = None) -> MembershipChangeKind | None:
    """Join ``level`` of ``plan`` by a channel other than purchase (engine/join_channels.py), for
    ``until`` (None: a free membership that does not end).  Held active at a lower rank: upgraded
    from now; at this level: ``until`` moved later if the channel gives longer; otherwise (a
    higher level held, or as long) nothing changes and it returns None.  ``cause`` names what
    joined it (the registration, the order reaching the threshold, the inviter, the grant), for
    the card and benefit ids."""
    state, now = step.state, step.occurred_at
    key = membership_key(plan.merchant_id, plan.plan_id)
    memberships = _held(state)
    held = memberships.get(key)
    period = f"{channel.value}:{cause}"
    if held is not None and held.status is MembershipStatus.ACTIVE and held.until is not None and held.until <= now:
        _expire(step, held)
    if held is None or held.status is not MembershipStatus.ACTIVE:
        kind = MembershipChangeKind.JOINED
        held = Membership(
            merchant_id=plan.merchant_id, plan_id=plan.plan_id, level_id=level.level_id, since=now, until=until,
            channel=channel.value,
            card_id=derive_id("card", state.tenant_id, state.member_id, plan.merchant_id, plan.plan_id, period))
        memberships.pop(key, None)
        memberships[key] = held
        _issue(step, held, period)
    else:
        current = plan.level(held.level_id)
        if current is not None and level.rank > current.rank:
            kind = MembershipChangeKind.UPGRADED
            held.level_id, held.until = level.level_id, until
        elif held.level_id == level.level_id and held.until is not None and (until is None or until > held.until):
            kind = MembershipChangeKind.EXTENDED
            held.until = until
        else:
            return None
    held.remind_at = _remind_at(held.until, plan.renewal_reminder_days) if held.until is not None else None
    held.changed_at = now
    _change(step, kind, held, None)
    if kind is not MembershipChangeKind.JOINED:
        _card_follows(state, held)
        _grant_benefits(step, held, period)
    return kind


def _issue(step: Step, membership: Membership, order_id: str) -> None:
    """The card instance, then the plan level's bound benefits."""
    _keep(step, membership, BenefitGrant(
        grant_id=membership.card_id, benefit=CARD_BENEFIT, valid_from=membership.since,
        valid_until=membership.until,
        details={"merchant_id": membership.merchant_id, "plan_id": membership.plan_id,
                 "level_id": membership.level_id, "card_id": membership.card_id, "order_id": order_id},
        **step._common()))
    _grant_benefits(step, membership, order_id)
    membership.month = month_of(step.local_time.date())
    _grant_benefits(step, membership, membership.month, Cadence.MONTHLY)


def _keep(step: Step, membership: Membership, grant: BenefitGrant) -> None:
    """Publish ``grant`` and keep it as a benefit instance bundled with the membership's card."""
    step.emit(Topic.BENEFIT_GRANTS, grant)
    issue(step.state, grant, step.rules.benefits, card_id=membership.card_id)


def _card_follows(state: MemberState, membership: Membership) -> None:
    """The card instance is valid as long as its membership: ``until`` moved by an extension or upgrade."""
    card = instances(state).get(membership.card_id)
    if card is not None and card.status is BenefitStatus.ISSUED:
        card.valid_until = membership.until


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_after(month: str, rules: TenantRules) -> datetime:
    year, number = int(month[:4]), int(month[5:])
    first = date(year + number // 12, number % 12 + 1, 1)
    return start_moment(first, rules.tz)


def _grant_benefits(step: Step, membership: Membership, period: str, cadence: Cadence = Cadence.ONCE) -> None:
    """The bound benefits of ``cadence`` for one period of the membership (a card order, or a
    month); ids per (membership, benefit, period), so a period's benefit is never given twice."""
    state = step.state
    for binding in benefits_of(facts_of(step.rules), state.tenant_id, membership.merchant_id,
                               membership.plan_id, membership.level_id):
        if binding.cadence is not cadence:
            continue
        _keep(step, membership, BenefitGrant(
            grant_id=derive_id("bg", state.tenant_id, state.member_id, membership.card_id, binding.benefit_id, period),
            benefit=binding.coupon_template, value=binding.value, quantity=binding.quantity,
            valid_from=step.occurred_at, valid_until=membership.until,
            details={"merchant_id": membership.merchant_id, "plan_id": membership.plan_id,
                     "level_id": membership.level_id, "card_id": membership.card_id,
                     "benefit_id": binding.benefit_id, "activity_id": binding.activity_id, "period": period},
            **step._common()))


def apply_order_refunded_with_cards(step: Step, event: OrderRefunded) -> None:
    """The refund's clawback, then revoking what the order bought once its card is refunded."""
    record = step.state.orders[event.order_id]
    apply_order_refunded(step, event, record)
    for membership in memberships_of(step.state).values():
        if event.order_id in membership.orders and membership.status is MembershipStatus.ACTIVE:
            revoke(step, membership, event.order_id)


def revoke(step: Step, membership: Membership, order_id: str | None) -> None:
    """Revoke ``membership`` (its refunded order, if any) and void the instances bundled with its card."""
    membership.status = MembershipStatus.REVOKED
    membership.remind_at = None
    membership.changed_at = step.occurred_at
    _change(step, MembershipChangeKind.REVOKED, membership, order_id)
    void_bundled(step, membership.card_id)


# -- periodic evaluation --------------------------------------------------------


def _expire(step: Step, membership: Membership) -> None:
    membership.status = MembershipStatus.EXPIRED
    membership.remind_at = None
    membership.changed_at = membership.until
    _change(step, MembershipChangeKind.EXPIRED, membership, None)


def expire_memberships(step: Step, as_of: datetime) -> bool:
    """Memberships past ``until`` expired; for the others a new month's benefits and the renewal reminder."""
    changed = False
    month = month_of(local_day(as_of, step.rules.tz))
    for membership in memberships_of(step.state).values():
        if membership.status is not MembershipStatus.ACTIVE:
            continue
        if membership.until is not None and membership.until <= as_of:
            _expire(step, membership)
            changed = True
            continue
        if membership.month is not None and month > membership.month:
            membership.month = month
            _grant_benefits(step, membership, month, Cadence.MONTHLY)
            changed = True
        if membership.remind_at is not None and membership.remind_at <= as_of:
            _renewal_notice(step, membership)
            membership.remind_at = None
            changed = True
    return changed


def _renewal_notice(step: Step, membership: Membership) -> None:
    """The member's reminder, or for an auto-renewing card the billing system's renewal request
    (it renews by charging the card product again: an ``order_paid`` that extends)."""
    until = membership.until.isoformat() if membership.until is not None else None
    common = {"merchant_id": membership.merchant_id, "plan_id": membership.plan_id, "level_id": membership.level_id,
              "until": until, "card_id": membership.card_id, "product_id": membership.product_id}
    if membership.auto_renew:
        step.notify(NotificationKind.MEMBERSHIP_RENEWAL_REQUEST,
                    f"renew card product {membership.product_id} of {membership.merchant_id} before {until}",
                    ordinal=f"{membership.card_id}/{until}", **common)
    else:
        step.notify(NotificationKind.MEMBERSHIP_RENEWAL_REMINDER,
                    f"your membership of {membership.plan_id} ends at {until}",
                    ordinal=f"{membership.card_id}/{until}", **common)


def memberships_due(ahead: LookAhead) -> datetime | None:
    due = None
    for membership in memberships_of(ahead.state).values():
        if membership.status is not MembershipStatus.ACTIVE:
            continue
        next_month = _month_after(membership.month, ahead.rules) if membership.month is not None else None
        for moment in (membership.remind_at, membership.until, next_month):
            if moment is not None and (due is None or moment < due):
                due = moment
    return max(due, ahead.since) if due is not None else None


# -- the member's view ----------------------------------------------------------


def memberships_view(state: MemberState, rules: TenantRules, as_of: datetime) -> dict[str, Any]:
    """A member's memberships of merchants' plans, as of ``as_of`` (one past ``until`` shows as
    expired even before the evaluation records it), with the plan's and level's names when defined."""
    facts = facts_of(rules)
    shown = []
    for key, membership in memberships_of(state).items():
        plan = facts.get("plan", state.tenant_id, membership.merchant_id, membership.plan_id)
        level = plan.level(membership.level_id) if plan is not None else None
        status = membership.status
        if status is MembershipStatus.ACTIVE and membership.until is not None and membership.until <= as_of:
            status = MembershipStatus.EXPIRED
        shown.append({
            "key": key, "merchant_id": membership.merchant_id, "plan_id": membership.plan_id,
            "plan_name": plan.name if plan is not None else None, "level_id": membership.level_id,
            "level_name": level.name if level is not None else None, "status": status.value,
            "since": membership.since.isoformat(),
            "until": membership.until.isoformat() if membership.until is not None else None,
            "channel": membership.channel, "card_id": membership.card_id, "product_id": membership.product_id,
        })
    return {"tenant_id": state.tenant_id, "member_id": state.member_id, "as_of": as_of.isoformat(),
            "memberships": shown}
