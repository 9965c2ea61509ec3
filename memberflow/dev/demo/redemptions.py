"""Redemptions (seed 001): members with points spend some now and then.

Mostly coupons of the shipped denominations, some catalogue merchandise, and
a few gifts to other members that the receiver accepts a few days later.  A
member spends only from a low estimate of the points it surely has (orders
add, refunds take back the whole order's points), and never after a
malicious complaint (which may have locked it).  Drawn from a random sequence
of their own, so the rest of the stream is the same as without them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from functools import cache
from typing import Any

from config.redemptions import RedemptionRules
from config.rules import load_rules_file
from config.settings import SHIPPED_RULES_DIR
from engine.ids import derive_id
from engine.redemptions.coupons import BENEFIT as POINTS_COUPON
from engine.redemptions.gifts import gift_id_for
from memberflow.dev.demo.formats import TENANT, Ids, stamp
from memberflow.dev.demo.personas import Persona
from memberflow.dev.demo.schedule import Schedule, Slot

#: Daily chance that a member with points redeems some (heavy spenders more often).
REDEEM_RATE = {"heavy": 0.12, "regular": 0.04, "casual": 0.02}
#: Spend only this share of the points a member surely has (the estimate is conservative already).
REDEEM_HEADROOM = 0.8
#: A gift's receiver answers this many days later (at least, at most).
GIFT_ANSWER_DAYS = (1, 3)
#: The kinds of slot ``Redeemer.request`` builds.
REDEMPTION_SLOTS = frozenset({"redeem", "gift_respond"})
#: The slot of a redeemed coupon reported used on an order (``Redeemer.usage``, on ``benefit-usage``).
COUPON_USE = "coupon_use"
#: Chance that a redeemed coupon is used, and how many days later (at least, at most).
COUPON_USE_RATE, COUPON_USE_DAYS = 0.5, (1, 5)


@cache
def shipped_redemptions() -> RedemptionRules:
    """The shipped default rules' redemption settings (denominations, catalogue)."""
    return load_rules_file(SHIPPED_RULES_DIR / "default.yaml").redemptions


class Redeemer:
    """What members can afford, and the requests they send."""

    def __init__(self, seed: int, cast: list[Persona], schedule: Schedule, ids: Ids) -> None:
        self.rng = random.Random(f"redemptions:{seed}")
        self.cast = cast
        self.schedule = schedule
        self.ids = ids
        self.rules = shipped_redemptions()
        self.points: dict[str, int] = defaultdict(int)  # points each member surely has (a low estimate)
        self.earned: dict[str, int] = {}  # order id -> points credited for it in ``points``
        self.risky: set[str] = set()  # members a malicious complaint may have locked
        self.answers: dict[int, list[Slot]] = defaultdict(list)  # day -> the gift answers and coupon uses due then

    # -- what the stream tells it ------------------------------------------------

    def paid(self, member: str, order_id: str, amount: Decimal) -> None:
        """The base rule alone earns a point a yuan; other rules only add."""
        self.earned[order_id] = int(amount)
        self.points[member] += int(amount)

    def refunded(self, member: str, order_id: str) -> None:
        """A refund claws back (part of) the order's points: count none of them any more."""
        self.points[member] -= self.earned.pop(order_id, 0)

    def complained_of(self, member: str) -> None:
        """A malicious complaint: a deduction, and a lock when short -- stop redeeming."""
        self.risky.add(member)

    # -- when -----------------------------------------------------------------------

    def slots(self, day: int, first_hour: int) -> list[Slot]:
        """The gift answers due on ``day``, and the members who redeem that day."""
        slots = self.answers.pop(day, [])
        cheapest = self.coupon_cost(min(self.rules.coupons.denominations))
        for p in self.cast:
            if p.member_id in self.risky or self.points[p.member_id] * REDEEM_HEADROOM < cheapest:
                continue
            if self.rng.random() < REDEEM_RATE[p.kind]:
                slots.append(self.schedule.slot(self.schedule.moment(self.rng, day, first_hour), "redeem", p))
        return slots

    # -- what -----------------------------------------------------------------------

    def request(self, slot: Slot, day: int) -> dict[str, Any]:
        """The request a ``redeem`` or ``gift_respond`` slot sends."""
        if slot.kind == "gift_respond":
            return self._request(slot, "gift_respond", gift_id=slot.data["gift_id"], accept=True)
        return self.redeem(slot, day)

    def coupon_cost(self, denomination: Decimal) -> int:
        return int(denomination * self.rules.coupons.points_per_yuan)

    def _request(self, slot: Slot, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "request_id": self.ids.next("rq"),
            "tenant_id": TENANT,
            "member_id": slot.persona.member_id,
            "occurred_at": stamp(slot.at),
            "kind": kind,
            **fields,
        }

    def redeem(self, slot: Slot, day: int) -> dict[str, Any]:
        """Mostly coupons, some merchandise, a few gifts -- what the member can afford."""
        rng, member = self.rng, slot.persona.member_id
        budget = int(self.points[member] * REDEEM_HEADROOM)
        roll = rng.random()
        bands = self.rules.points_cash
        catalogue = sorted(self.rules.merchandise.items.items())
        items = [(item_id, item, item.points_at(bands)) for item_id, item in catalogue
                 if item.in_stock and item.points_at(bands) <= budget]
        if roll < 0.15:
            if items:
                item_id, item, each = rng.choice(items)
                quantity = 2 if item.max_per_order >= 2 and each * 2 <= budget and rng.random() < 0.2 else 1
                self.points[member] -= each * quantity
                return self._request(slot, "merchandise", item_id=item_id, quantity=quantity)
        elif roll < 0.23 and budget >= 50 and len(self.cast) > 1:
            return self.gift(slot, day, budget)
        return self.coupon(slot, budget)

    def coupon(self, slot: Slot, budget: int) -> dict[str, Any]:
        rng, denominations = self.rng, sorted(self.rules.coupons.denominations)
        affordable = [d for d in denominations if self.coupon_cost(d) <= budget] or denominations[:1]
        denomination = rng.choices(affordable, [len(affordable) - i for i in range(len(affordable))])[0]
        cost = self.coupon_cost(denomination)
        most = min(self.rules.coupons.max_quantity, 3, max(1, budget // cost))
        quantity = rng.randint(1, most) if rng.random() < 0.25 else 1
        self.points[slot.persona.member_id] -= cost * quantity
        value = self._request(slot, "coupon", denomination=str(denomination), quantity=quantity)
        self._maybe_use(slot, value, denomination)
        return value

    def _maybe_use(self, slot: Slot, request: dict[str, Any], denomination: Decimal) -> None:
        """The shop reports the coupon used on an order some days later (if still inside the stream)."""
        day = (slot.at - self.schedule.start).days + self.rng.randint(*COUPON_USE_DAYS)
        if self.rng.random() >= COUPON_USE_RATE or day >= self.schedule.days:
            return
        member = slot.persona.member_id
        benefit_id = derive_id("bg", TENANT, member, request["request_id"], POINTS_COUPON, 0)
        at = self.schedule.moment(self.rng, day)
        self.answers[day].append(self.schedule.slot(at, COUPON_USE, slot.persona, benefit_id=benefit_id,
                                                    saved=str(denomination)))

    def usage(self, slot: Slot) -> dict[str, Any]:
        """A ``coupon_use`` slot's report: the coupon used on a shop order."""
        return {"event_id": self.ids.next("bu"), "tenant_id": TENANT, "member_id": slot.persona.member_id,
                "occurred_at": stamp(slot.at), "type": "benefit_usage", "benefit_id": slot.data["benefit_id"],
                "action": "used", "order_id": self.ids.next("shop-o"), "amount_saved": slot.data["saved"]}

    def gift(self, slot: Slot, day: int, budget: int) -> dict[str, Any]:
        """Points to another member, who accepts a few days later (if still inside the stream)."""
        rng, member, rules = self.rng, slot.persona.member_id, self.rules.gifting
        top = min(budget, 500, rules.max_points or budget)
        points = max(rules.min_points, rng.randrange(50, top + 1, 10) if top >= 60 else top)
        friend = rng.choice([p for p in self.cast if p.member_id != member])
        self.points[member] -= points
        value = self._request(slot, "gift", to_member_id=friend.member_id, points=points)
        answer = day + rng.randint(*GIFT_ANSWER_DAYS)
        if answer < self.schedule.days and answer - day < rules.respond_days:
            gift_id = gift_id_for(TENANT, member, value["request_id"])
            at = self.schedule.moment(rng, answer)
            self.answers[answer].append(self.schedule.slot(at, "gift_respond", friend, gift_id=gift_id))
        return value
