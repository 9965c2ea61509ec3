"""The demo stream: a deterministic, realistic synthetic stream of member events.

``generate`` yields ``(logical topic, key, value)`` in event-time order: the
profiles and registrations in the first hour, then day by day the members' orders, refunds of
earlier orders, reviews, logins and complaints (from ``Stream.rng``, the main
random sequence), the weekly business-line scores (``scores``), the
redemptions (``redemptions``) and the verifications (``signups``), about 1% of the events deliberately bad
(``bad_events``).  The scores, redemptions and sign-ups never consume the main random
sequence, so the other events (and their ids) are the same as without them.
``member-commands`` are the engine's own and never generated here.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from config.topics import Topic
from memberflow.dev.demo.bad_events import BAD_SHARE, bad_event
from memberflow.dev.demo.formats import CENT, TENANT, Event, Ids, money, stamp
from memberflow.dev.demo.personas import Persona, personas
from memberflow.dev.demo.redemptions import COUPON_USE, REDEMPTION_SLOTS, Redeemer
from memberflow.dev.demo.schedule import DAYS, Schedule, Slot
from memberflow.dev.demo.scores import WeeklyScores
from memberflow.dev.demo.shop import Shop
from memberflow.dev.demo.signups import SIGNUP_SLOTS, Signups

#: Share of members who send a profile, and how many regular ones among them are invited to BLACK_GOLD.
PROFILE_SHARE = 0.35
INVITED = 2
VERDICTS = (("dismissed", 0.6), ("upheld", 0.35), ("malicious", 0.05))


def _count(rng: random.Random, rate: float) -> int:
    """A whole number of actions with mean ``rate``."""
    whole = int(rate)
    return whole + (1 if rng.random() < rate - whole else 0)


@dataclass
class OrderSeen:
    order_id: str
    amount: Decimal
    day: int


class Stream:
    """Mutable generation state; ``events()`` drives it day by day."""

    def __init__(self, members: int, seed: int, start: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.schedule = Schedule(start, days)
        self.ids = Ids(seed)
        self.cast = personas(members, seed)
        self.shop = Shop(self.rng)
        self.scores = WeeklyScores(seed, self.cast, self.schedule)
        self.redeemer = Redeemer(seed, self.cast, self.schedule, self.ids)
        self.signups = Signups(seed, self.cast, self.schedule, self.ids)
        self.last_order: dict[str, OrderSeen] = {}
        self.refunds: dict[int, list[Slot]] = defaultdict(list)  # day -> the refunds due then
        self.builders: dict[str, Callable[[Slot, int], Event]] = {
            "profile": self.profile,
            "order": self.order,
            "refund": self.refund,
            "review": self.review,
            "login": self.login,
            "complaint": self.complaint,
        }

    # -- the schedule --------------------------------------------------------

    def moment(self, day: int, first_hour: int = 0) -> datetime:
        return self.schedule.moment(self.rng, day, first_hour)

    def profile_slots(self) -> list[Slot]:
        profiled = [p for p in self.cast if self.rng.random() < PROFILE_SHARE]
        invited = {p.member_id for p in [p for p in profiled if p.kind == "regular"][:INVITED]}
        step = 3600 / max(1, len(profiled))
        start = self.schedule.start
        return [
            self.schedule.slot(start + timedelta(seconds=int(i * step)), "profile", p, invited=p.member_id in invited)
            for i, p in enumerate(profiled)
        ]

    def day_slots(self, day: int) -> list[Slot]:
        busy = self.schedule.busy(day)
        first_hour = 1 if day == 0 else 0  # the profiles own the first hour
        slots = list(self.refunds.pop(day, []))
        for p in self.cast:
            order_rate = p.orders if p.heavy and day >= p.heavy_from else min(p.orders, 0.25)
            plan = {
                "order": order_rate * busy,
                "login": p.logins * busy,
                "review": p.reviews,
                "complaint": p.complaints,
            }
            for kind, rate in plan.items():
                slots.extend(self.schedule.slot(self.moment(day, first_hour), kind, p)
                             for _ in range(_count(self.rng, rate)))
        slots.extend(self.scores.slots(day))
        slots.extend(self.redeemer.slots(day, first_hour))
        slots.extend(self.signups.slots(day))
        return sorted(slots)

    # -- events ------------------------------------------------------------

    def base(self, slot: Slot, kind: str) -> dict[str, Any]:
        return {
            "event_id": self.ids.next("ev"),
            "tenant_id": TENANT,
            "member_id": slot.persona.member_id,
            "occurred_at": stamp(slot.at),
            "type": kind,
        }

    def profile(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "profile")
        value["birthday"] = self.birthday().isoformat()
        if self.rng.random() < 0.3:
            value["time_zone"] = "Asia/Shanghai"
        if slot.data.get("invited"):
            value["invited_tier"] = "BLACK_GOLD"
        return Topic.PROFILES, slot.persona.member_id, value

    def birthday(self) -> date:
        year = self.rng.randrange(1960, 2006)
        if self.rng.random() < 0.15:  # some birthdays fall inside the demo weeks
            inside = (self.schedule.start + timedelta(days=self.rng.randrange(self.schedule.days))).date()
            return date(year, inside.month, min(inside.day, 28))
        return date(year, self.rng.randrange(1, 13), self.rng.randrange(1, 29))

    def order(self, slot: Slot, day: int) -> Event:
        persona = slot.persona
        items = self.shop.basket(persona)
        total = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal(0))
        amount = total - self.shop.discount(total)
        value = self.base(slot, "order_paid")
        value.update(order_id=self.ids.next("o"), amount=money(amount), items=items)
        self.last_order[persona.member_id] = OrderSeen(value["order_id"], amount, day)
        self.redeemer.paid(persona.member_id, value["order_id"], amount)
        self.maybe_refund(persona, value["order_id"], amount, day)
        return Topic.ORDERS, persona.member_id, value

    def maybe_refund(self, persona: Persona, order_id: str, amount: Decimal, day: int) -> None:
        if self.rng.random() >= (0.02 if persona.heavy else 0.06):
            return
        when = day + self.rng.randint(1, 10)
        if when >= self.schedule.days:
            return
        partial = self.rng.random() < 0.6
        refund = (amount * Decimal(self.rng.uniform(0.1, 0.7))).quantize(CENT) if partial else amount
        self.refunds[when].append(
            self.schedule.slot(self.moment(when), "refund", persona, order_id=order_id, amount=max(refund, CENT))
        )

    def refund(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "order_refunded")
        value.update(order_id=slot.data["order_id"], amount=money(slot.data["amount"]))
        self.redeemer.refunded(slot.persona.member_id, slot.data["order_id"])
        return Topic.ORDERS, slot.persona.member_id, value

    def review(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "review")
        value["review_id"] = self.ids.next("r")
        last = self.last_order.get(slot.persona.member_id)
        if last is not None and self.rng.random() < 0.7:
            value["order_id"] = last.order_id
        return Topic.REVIEWS, slot.persona.member_id, value

    def login(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "login")
        value["device_id"] = self.rng.choice(slot.persona.devices)
        return Topic.LOGINS, slot.persona.member_id, value

    def complaint(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "complaint")
        verdicts, weights = zip(*VERDICTS, strict=True)
        value.update(complaint_id=self.ids.next("c"), verdict=self.rng.choices(verdicts, weights)[0])
        if value["verdict"] == "malicious":
            self.redeemer.complained_of(slot.persona.member_id)
        return Topic.COMPLAINTS, slot.persona.member_id, value

    def build(self, slot: Slot, day: int) -> Event:
        member = slot.persona.member_id
        if slot.kind == "scores":
            return Topic.BUSINESS_SCORES, member, self.scores.snapshot(slot)
        if slot.kind in REDEMPTION_SLOTS:
            return Topic.REDEMPTIONS, member, self.redeemer.request(slot, day)
        if slot.kind == COUPON_USE:
            return Topic.BENEFIT_USAGE, member, self.redeemer.usage(slot)
        if slot.kind in SIGNUP_SLOTS:
            topic, value = self.signups.event(slot)
            return Topic(topic), member, value
        if slot.kind != "profile" and self.rng.random() < BAD_SHARE:
            return bad_event(self.rng, self.ids, slot)
        return self.builders[slot.kind](slot, day)

    def events(self) -> Iterator[Event]:
        for slot in sorted(self.profile_slots() + self.signups.registration_slots()):
            yield self.build(slot, 0)
        for day in range(self.schedule.days):
            for slot in self.day_slots(day):
                yield self.build(slot, day)


def generate(members: int, seed: int, start: datetime, days: int = DAYS) -> Iterator[Event]:
    """The demo stream: ``(logical topic, member id key, value)`` in event-time order.

    ``value`` is a dict, or a ``str`` holding a raw (malformed) payload.
    """
    return Stream(members, seed, start, days).events()
