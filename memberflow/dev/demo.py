"""The demo feed: a deterministic, realistic synthetic stream of member events.

``generate`` yields ``(logical topic, key, value)`` in event-time order over
about eight weeks: profiles first, then days of orders (with real baskets and
coupons), refunds of earlier orders, reviews, logins and complaints, shaped by
time of day and weekday.  A few members are heavy spenders who climb
SILVER -> GOLD -> DIAMOND within a month, a couple are invited to BLACK_GOLD,
and about 1% of the events are deliberately bad (raw malformed JSON, negative
or over-limit amounts, no member id, unknown verdicts) so dead letters show
up.  Bad events carry an ``event_id`` starting with ``BAD_ID_PREFIX`` (or are
a raw ``str``).  The same seed gives the same stream, ids included.

Beside those, a subset of members gets a weekly ``business-scores`` snapshot
in the data API's own shape (seed 000: ``user_pin``, ``dt`` and the business
lines' fields as strings, no ``event_id`` nor ``occurred_at``: the engine
derives both), some of them drifting upward so badges are awarded; and
members with points redeem now and then (``redemptions``): mostly coupons of
the shipped denominations, some catalogue merchandise, and a few gifts to
other members that the receiver accepts a few days later.  These never
consume the main random stream, so the other events (and their ids) are the
same as without them.  ``member-commands`` are the engine's own and never
generated here.

``feed`` publishes that stream to the broker at a steady rate.
"""

from __future__ import annotations

import json
import math
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

DAYS = 56
SEED = 7
CST = timezone(timedelta(hours=8))
CENT = Decimal("0.01")
BAD_SHARE = 0.01
BAD_ID_PREFIX = "bad"
HEAVY_SHARE = 0.03
PROFILE_SHARE = 0.35
INVITED = 2

#: Relative traffic per local hour (quiet nights, lunch and evening peaks).
HOURLY = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2.5, 4, 4, 3.5, 4, 5, 4.5, 3.5, 3.5, 4, 4.5, 5.5, 7, 7.5, 6.5, 4, 2)
WEEKEND_FACTOR = 1.3

#: category -> (SKU count, lowest and highest unit price, most units per line)
CATEGORIES: dict[str, tuple[int, int, int, int]] = {
    "fresh": (30, 3, 35, 3),
    "dairy": (15, 4, 25, 3),
    "snacks": (25, 3, 20, 4),
    "featured": (12, 10, 80, 2),
    "electronics": (10, 99, 2999, 1),
}
GROCERIES = ("fresh", "dairy", "snacks", "featured")
GROCERY_WEIGHTS = (4, 2, 3, 1)
VERDICTS = (("dismissed", 0.6), ("upheld", 0.35), ("malicious", 0.05))
BAD_KINDS = ("malformed_json", "negative_amount", "missing_member_id", "unknown_verdict", "amount_over_limit")

#: Share of members with business-line scores, and of those whose scores climb.
SCORED_SHARE = 0.15
CLIMBER_SHARE = 0.4
BAITIAO_SHARE = 0.5
#: Daily chance that a member with points redeems some (heavy spenders more often).
REDEEM_RATE = {"heavy": 0.12, "regular": 0.04, "casual": 0.02}
#: Spend only this share of the points a member surely has (the estimate is conservative already).
REDEEM_HEADROOM = 0.8
GIFT_ANSWER_DAYS = (1, 3)
#: Kinds built from their own random streams, never bad, never consuming ``Stream.rng``.
EXTRA_KINDS = frozenset({"scores", "redeem", "gift_respond"})

Event = tuple[str, str, dict[str, Any] | str]


@dataclass(frozen=True)
class Persona:
    """How one member behaves: daily rates of each action and basket size."""

    member_id: str
    kind: str  # "heavy", "regular" or "casual"
    orders: float
    logins: float
    reviews: float
    complaints: float
    lines: tuple[int, int]
    devices: tuple[str, ...]
    heavy_from: int = 0  # first day of heavy spending

    @property
    def heavy(self) -> bool:
        return self.kind == "heavy"


@dataclass(frozen=True)
class Scored:
    """How one member's business-line scores move from week to week."""

    member_id: str
    weekday: int  # day offset of the weekly snapshot, 0..6
    climber: bool
    lc: float  # wealth score
    lc_step: float
    gold: float  # gold held (yuan)
    gold_step: float
    treasury: float  # money moved through Small Treasury in the week
    treasury_growth: float
    high_end_from: int | None  # week from which the member trades high-end products
    baitiao: tuple[float, float] | None  # credit score and its weekly step


def _scored(rng: random.Random, persona: Persona) -> Scored:
    climber = rng.random() < CLIMBER_SHARE
    gold = 0.0 if rng.random() < 0.3 else rng.uniform(300, 6000)
    return Scored(
        member_id=persona.member_id,
        weekday=rng.randrange(7),
        climber=climber,
        lc=rng.uniform(180, 460),
        lc_step=rng.uniform(20, 45) if climber else rng.uniform(-10, 12),
        gold=gold,
        gold_step=rng.uniform(600, 2500) if climber else rng.uniform(-200, 300),
        treasury=rng.uniform(800, 4000) if climber else rng.uniform(0, 3000),
        treasury_growth=rng.uniform(1.15, 1.4) if climber else rng.uniform(0.85, 1.1),
        high_end_from=rng.randrange(2, 7) if climber and rng.random() < 0.5 else None,
        baitiao=(rng.uniform(420, 680), rng.uniform(15, 35) if climber else rng.uniform(-8, 10))
        if rng.random() < BAITIAO_SHARE else None,
    )


@cache
def shipped_redemptions() -> Any:
    """The shipped default rules' redemption settings (denominations, catalogue)."""
    from config.rules import load_rules_file
    from config.settings import SHIPPED_RULES_DIR

    return load_rules_file(SHIPPED_RULES_DIR / "default.yaml").redemptions


def member_id(index: int) -> str:
    return f"m{index + 1:04d}"


def _persona(rng: random.Random, index: int, kind: str, heavy_rank: int) -> Persona:
    devices = tuple(f"d-{member_id(index)}-{n}" for n in range(1, rng.choice((1, 1, 2, 3)) + 1))
    if kind == "heavy":
        start = 0 if heavy_rank < 3 else rng.randrange(0, 22)
        return Persona(member_id(index), kind, 0.85, 1.2, 0.25, 0.002, (5, 9), devices, start)
    if kind == "regular":
        return Persona(member_id(index), kind, rng.uniform(0.08, 0.2), rng.uniform(0.3, 0.9), 0.04, 0.002, (1, 4),
                       devices)
    return Persona(member_id(index), kind, rng.uniform(0.02, 0.06), rng.uniform(0.05, 0.3), 0.01, 0.001, (1, 3),
                   devices)


def personas(members: int, seed: int) -> list[Persona]:
    """The cast of a stream: the same for the same ``members`` and ``seed``."""
    rng = random.Random(f"personas:{seed}")
    heavy = set(rng.sample(range(members), max(1, round(members * HEAVY_SHARE)))) if members else set()
    ranked = {index: rank for rank, index in enumerate(sorted(heavy))}
    cast = []
    for index in range(members):
        kind = "heavy" if index in heavy else ("regular" if rng.random() < 0.5 else "casual")
        cast.append(_persona(rng, index, kind, ranked.get(index, 0)))
    return cast


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def stamp(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


def _count(rng: random.Random, rate: float) -> int:
    """A whole number of actions with mean ``rate``."""
    whole = int(rate)
    return whole + (1 if rng.random() < rate - whole else 0)


@dataclass(order=True)
class Slot:
    """Something a member does at a moment; built into an event in time order."""

    at: datetime
    seq: int
    kind: str = field(compare=False)
    persona: Persona = field(compare=False)
    data: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class OrderSeen:
    order_id: str
    amount: Decimal
    day: int


class Stream:
    """Mutable generation state; ``events()`` drives it day by day."""

    def __init__(self, members: int, seed: int, start: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.start = (start if start.tzinfo else start.replace(tzinfo=CST)).astimezone(CST)
        self.days = days
        self.cast = personas(members, seed)
        self.by_id = {p.member_id: p for p in self.cast}
        self.catalog = self._catalog()
        self.counters: dict[str, int] = defaultdict(int)
        self.seq = 0
        self.last_order: dict[str, OrderSeen] = {}
        self.refunds: dict[int, list[Slot]] = defaultdict(list)
        # scores and redemptions: their own random streams, so the rest stays as it was
        self.scores_rng = random.Random(f"scores:{seed}")
        self.redeem_rng = random.Random(f"redemptions:{seed}")
        self.scored = [_scored(self.scores_rng, p) for p in self.cast if self.scores_rng.random() < SCORED_SHARE]
        self.later: dict[int, list[Slot]] = defaultdict(list)
        self.points: dict[str, int] = defaultdict(int)  # points each member surely has (a low estimate)
        self.earned: dict[str, int] = {}  # order id -> points credited for it in ``points``
        self.risky: set[str] = set()  # members a malicious complaint may have locked
        self.redemption_rules = shipped_redemptions()

    # -- ids and catalog ---------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}{self.seed}-{self.counters[prefix]:06d}"

    def _catalog(self) -> dict[str, list[tuple[str, Decimal]]]:
        catalog = {}
        for category, (count, low, high, _) in CATEGORIES.items():
            code = category[:3].upper()
            catalog[category] = [
                (f"{code}-{n:03d}", Decimal(self.rng.uniform(low, high)).quantize(Decimal("0.1")) - CENT)
                for n in range(1, count + 1)
            ]
        return catalog

    # -- the schedule --------------------------------------------------------

    def slot(self, at: datetime, kind: str, persona: Persona, **data: Any) -> Slot:
        self.seq += 1
        return Slot(at, self.seq, kind, persona, data)

    def moment(self, day: int, first_hour: int = 0, rng: random.Random | None = None) -> datetime:
        rng = self.rng if rng is None else rng
        hour = rng.choices(range(first_hour, 24), HOURLY[first_hour:])[0]
        return self.start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))

    def profile_slots(self) -> list[Slot]:
        profiled = [p for p in self.cast if self.rng.random() < PROFILE_SHARE]
        invited = {p.member_id for p in [p for p in profiled if p.kind == "regular"][:INVITED]}
        step = 3600 / max(1, len(profiled))
        return [
            self.slot(self.start + timedelta(seconds=int(i * step)), "profile", p, invited=p.member_id in invited)
            for i, p in enumerate(profiled)
        ]

    def day_slots(self, day: int) -> list[Slot]:
        weekend = (self.start + timedelta(days=day)).weekday() >= 5
        busy = WEEKEND_FACTOR if weekend else 1.0
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
                slots.extend(self.slot(self.moment(day, first_hour), kind, p) for _ in range(_count(self.rng, rate)))
        slots.extend(self.later.pop(day, []))
        slots.extend(self.score_slots(day))
        slots.extend(self.redeem_slots(day, first_hour))
        return sorted(slots)

    def score_slots(self, day: int) -> list[Slot]:
        """Weekly snapshots, each member on its own weekday, dated the day they fall on.

        A snapshot's event time is ``dt`` at 00:00, so it goes to the day whose
        span holds that midnight (the first one is the first midnight after the start).
        """
        first = datetime.combine(self.start.date() + timedelta(days=1), datetime.min.time(), tzinfo=CST)
        low = self.start + timedelta(days=day)
        week = timedelta(days=7)
        slots = []
        for s in self.scored:
            base = first + timedelta(days=s.weekday)
            n = max(0, math.ceil((low - base) / week))
            at = base + n * week
            if at < low + timedelta(days=1):
                slots.append(self.slot(at, "scores", self.by_id[s.member_id], scored=s, week=n))
        return slots

    def redeem_slots(self, day: int, first_hour: int) -> list[Slot]:
        """Members with enough points redeem some now and then."""
        rng, cheapest = self.redeem_rng, self.coupon_cost(min(self.redemption_rules.coupons.denominations))
        slots = []
        for p in self.cast:
            if p.member_id in self.risky or self.points[p.member_id] * REDEEM_HEADROOM < cheapest:
                continue
            if rng.random() < REDEEM_RATE[p.kind]:
                slots.append(self.slot(self.moment(day, first_hour, rng), "redeem", p))
        return slots

    # -- events ------------------------------------------------------------

    def base(self, slot: Slot, kind: str) -> dict[str, Any]:
        return {
            "event_id": self.next_id("ev"),
            "tenant_id": "default",
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
        return "profiles", slot.persona.member_id, value

    def birthday(self) -> date:
        year = self.rng.randrange(1960, 2006)
        if self.rng.random() < 0.15:  # some birthdays fall inside the demo weeks
            inside = (self.start + timedelta(days=self.rng.randrange(self.days))).date()
            return date(year, inside.month, min(inside.day, 28))
        return date(year, self.rng.randrange(1, 13), self.rng.randrange(1, 29))

    def basket(self, persona: Persona) -> list[dict[str, Any]]:
        lines = []
        for _ in range(self.rng.randint(*persona.lines)):
            category = self.rng.choices(GROCERIES, GROCERY_WEIGHTS)[0]
            lines.append(self.line(category))
        if persona.kind != "casual" and self.rng.random() < 0.02:
            lines.append(self.line("electronics"))
        return lines

    def line(self, category: str) -> dict[str, Any]:
        sku, price = self.rng.choice(self.catalog[category])
        quantity = self.rng.randint(1, CATEGORIES[category][3])
        return {"sku": sku, "category": category, "unit_price": money(price), "quantity": quantity}

    def discount(self, total: Decimal) -> Decimal:
        roll = self.rng.random()
        if roll < 0.2:
            coupon = Decimal(self.rng.choice((5, 10, 15)))
            return coupon if total > coupon * 3 else Decimal(0)
        if roll < 0.3:
            return (total * Decimal("0.02")).quantize(CENT)
        return Decimal(0)

    def order(self, slot: Slot, day: int) -> Event:
        persona = slot.persona
        items = self.basket(persona)
        total = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal(0))
        amount = total - self.discount(total)
        value = self.base(slot, "order_paid")
        value.update(order_id=self.next_id("o"), amount=money(amount), items=items)
        self.last_order[persona.member_id] = OrderSeen(value["order_id"], amount, day)
        # the base rule alone earns a point a yuan; other rules only add
        self.earned[value["order_id"]] = int(amount)
        self.points[persona.member_id] += int(amount)
        self.maybe_refund(persona, value["order_id"], amount, day)
        return "orders", persona.member_id, value

    def maybe_refund(self, persona: Persona, order_id: str, amount: Decimal, day: int) -> None:
        if self.rng.random() >= (0.02 if persona.heavy else 0.06):
            return
        when = day + self.rng.randint(1, 10)
        if when >= self.days:
            return
        partial = self.rng.random() < 0.6
        refund = (amount * Decimal(self.rng.uniform(0.1, 0.7))).quantize(CENT) if partial else amount
        self.refunds[when].append(
            self.slot(self.moment(when), "refund", persona, order_id=order_id, amount=max(refund, CENT))
        )

    def refund(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "order_refunded")
        value.update(order_id=slot.data["order_id"], amount=money(slot.data["amount"]))
        # a refund claws back (part of) the order's points: count none of them any more
        self.points[slot.persona.member_id] -= self.earned.pop(slot.data["order_id"], 0)
        return "orders", slot.persona.member_id, value

    def review(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "review")
        value["review_id"] = self.next_id("r")
        last = self.last_order.get(slot.persona.member_id)
        if last is not None and self.rng.random() < 0.7:
            value["order_id"] = last.order_id
        return "reviews", slot.persona.member_id, value

    def login(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "login")
        value["device_id"] = self.rng.choice(slot.persona.devices)
        return "logins", slot.persona.member_id, value

    def complaint(self, slot: Slot, day: int) -> Event:
        value = self.base(slot, "complaint")
        verdicts, weights = zip(*VERDICTS, strict=True)
        value.update(complaint_id=self.next_id("c"), verdict=self.rng.choices(verdicts, weights)[0])
        if value["verdict"] == "malicious":  # a deduction, and a lock when short: stop redeeming
            self.risky.add(slot.persona.member_id)
        return "complaints", slot.persona.member_id, value

    # -- business-line scores (seed 000) ---------------------------------------

    def scores(self, slot: Slot, day: int) -> Event:
        """A snapshot as the data API sends it: numbers as strings, no ids."""
        s: Scored = slot.data["scored"]
        week: int = slot.data["week"]
        rng = self.scores_rng
        lc = max(0, min(999, round(s.lc + s.lc_step * week + rng.uniform(-8, 8))))
        gold = max(0.0, s.gold + s.gold_step * week + rng.uniform(-150, 150)) if s.gold or s.climber else 0.0
        treasury = max(0.0, s.treasury * s.treasury_growth**week * rng.uniform(0.9, 1.1))
        high_end = s.high_end_from is not None and week >= s.high_end_from
        value: dict[str, Any] = {
            "user_pin": s.member_id,
            "lc_score": str(lc),
            "gdlc_jy_flag": "1" if high_end else "0",
            "xjk_jy_amt": money(Decimal(treasury)),
            "jt_hold_amt": money(Decimal(gold)),
        }
        if s.baitiao is not None:
            base, step = s.baitiao
            value["bt_score"] = str(max(0, min(950, round(base + step * week + rng.uniform(-5, 5)))))
            value["bt_yq_flag"] = "1" if rng.random() < 0.04 else "0"
        value["dt"] = slot.at.date().isoformat()
        return "business-scores", s.member_id, value

    # -- redemptions (seed 001) --------------------------------------------------

    def coupon_cost(self, denomination: Decimal) -> int:
        return int(denomination * self.redemption_rules.coupons.points_per_yuan)

    def request(self, slot: Slot, kind: str, **fields: Any) -> Event:
        value = {
            "request_id": self.next_id("rq"),
            "tenant_id": "default",
            "member_id": slot.persona.member_id,
            "occurred_at": stamp(slot.at),
            "kind": kind,
            **fields,
        }
        return "redemptions", slot.persona.member_id, value

    def redeem(self, slot: Slot, day: int) -> Event:
        """Mostly coupons, some merchandise, a few gifts -- what the member can afford."""
        rng, rules, member = self.redeem_rng, self.redemption_rules, slot.persona.member_id
        budget = int(self.points[member] * REDEEM_HEADROOM)
        roll = rng.random()
        items = [(item_id, item) for item_id, item in sorted(rules.merchandise.items.items())
                 if item.in_stock and item.points <= budget]
        if roll < 0.15:
            if items:
                item_id, item = rng.choice(items)
                quantity = 2 if item.max_per_order >= 2 and item.points * 2 <= budget and rng.random() < 0.2 else 1
                self.points[member] -= item.points * quantity
                return self.request(slot, "merchandise", item_id=item_id, quantity=quantity)
        elif roll < 0.23 and budget >= 50 and len(self.cast) > 1:
            return self.gift(slot, day, budget)
        return self.coupon(slot, budget)

    def coupon(self, slot: Slot, budget: int) -> Event:
        rng, denominations = self.redeem_rng, sorted(self.redemption_rules.coupons.denominations)
        affordable = [d for d in denominations if self.coupon_cost(d) <= budget] or denominations[:1]
        denomination = rng.choices(affordable, [len(affordable) - i for i in range(len(affordable))])[0]
        cost = self.coupon_cost(denomination)
        most = min(self.redemption_rules.coupons.max_quantity, 3, max(1, budget // cost))
        quantity = rng.randint(1, most) if rng.random() < 0.25 else 1
        self.points[slot.persona.member_id] -= cost * quantity
        return self.request(slot, "coupon", denomination=str(denomination), quantity=quantity)

    def gift(self, slot: Slot, day: int, budget: int) -> Event:
        from engine.redemptions.gifts import gift_id_for

        rng, member = self.redeem_rng, slot.persona.member_id
        rules = self.redemption_rules.gifting
        top = min(budget, 500, rules.max_points or budget)
        points = max(rules.min_points, rng.randrange(50, top + 1, 10) if top >= 60 else top)
        friend = rng.choice([p for p in self.cast if p.member_id != member])
        self.points[member] -= points
        event = self.request(slot, "gift", to_member_id=friend.member_id, points=points)
        answer = day + rng.randint(*GIFT_ANSWER_DAYS)
        if answer < self.days and answer - day < rules.respond_days:
            gift_id = gift_id_for("default", member, event[2]["request_id"])
            self.later[answer].append(self.slot(self.moment(answer, 0, rng), "gift_respond", friend, gift_id=gift_id))
        return event

    def gift_respond(self, slot: Slot, day: int) -> Event:
        return self.request(slot, "gift_respond", gift_id=slot.data["gift_id"], accept=True)

    def bad(self, slot: Slot) -> Event:
        """One deliberately bad event of a random kind."""
        mid = slot.persona.member_id
        kind = self.rng.choice(BAD_KINDS)
        value: dict[str, Any] = {
            "event_id": self.next_id(BAD_ID_PREFIX),
            "tenant_id": "default",
            "member_id": mid,
            "occurred_at": stamp(slot.at),
        }
        order = {"type": "order_paid", "order_id": self.next_id("o"), "items": []}
        if kind == "malformed_json":
            text = json.dumps({**value, **order, "amount": "42.00"})
            return "orders", mid, text[: len(text) // 2]
        if kind == "negative_amount":
            return "orders", mid, {**value, **order, "amount": "-15.00"}
        if kind == "amount_over_limit":
            return "orders", mid, {**value, **order, "amount": "1250000.00"}
        if kind == "unknown_verdict":
            return "complaints", mid, {**value, "type": "complaint", "complaint_id": self.next_id("c"),
                                       "verdict": "frivolous"}
        del value["member_id"]
        return "logins", mid, {**value, "type": "login", "device_id": slot.persona.devices[0]}

    def build(self, slot: Slot, day: int) -> Event:
        if slot.kind in EXTRA_KINDS:
            return getattr(self, slot.kind)(slot, day)
        if slot.kind != "profile" and self.rng.random() < BAD_SHARE:
            return self.bad(slot)
        builder = getattr(self, slot.kind)
        return builder(slot, day)

    def events(self) -> Iterator[Event]:
        for slot in self.profile_slots():
            yield self.build(slot, 0)
        for day in range(self.days):
            for slot in self.day_slots(day):
                yield self.build(slot, day)


def generate(members: int, seed: int, start: datetime, days: int = DAYS) -> Iterator[Event]:
    """The demo stream: ``(logical topic, member id key, value)`` in event-time order.

    ``value`` is a dict, or a ``str`` holding a raw (malformed) payload.
    """
    return Stream(members, seed, start, days).events()


def demo_start(now: datetime | None = None, days: int = DAYS) -> datetime:
    """Midnight (UTC+8) ``days`` ago, so the stream's event time ends about now."""
    today = (now or datetime.now(CST)).astimezone(CST).date()
    return datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=CST)


def encode(value: dict[str, Any] | str) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))).encode()


@dataclass
class Progress:
    """What a feed has done so far (read by another thread)."""

    sent: int = 0
    done: bool = False
    error: str | None = None


def paced(events: Iterable[Event], rate: float, limit: int | None, stop: threading.Event) -> Iterator[Event]:
    """``events`` at about ``rate`` per second, in small bursts, until ``limit`` or ``stop``."""
    burst = max(1, int(rate / 20)) if rate > 0 else 1000
    began = time.monotonic()
    for n, event in enumerate(events):
        if stop.is_set() or (limit is not None and n >= limit):
            return
        if rate > 0 and n % burst == 0:
            ahead = began + n / rate - time.monotonic()
            if ahead > 0 and stop.wait(ahead):
                return
        yield event


def publish(producer: Any, events: Iterable[Event], topic_of: Callable[[str], str], progress: Progress) -> None:
    for topic, key, value in events:
        producer.send(topic_of(topic), key=key.encode(), value=encode(value))
        progress.sent += 1


def feed(
    members: int = 1000,
    rate: float = 200.0,
    limit: int | None = None,
    broker_url: str | None = None,
    seed: int = SEED,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    quiet: bool = False,
) -> int:
    """Publish the demo stream to the broker; returns an exit code.  Ctrl-C stops it."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from config.settings import Settings, bootstrap_of

    settings = Settings.from_env()
    url = broker_url or settings.broker_url
    stop = stop or threading.Event()
    progress = progress or Progress()
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap_of(url), linger_ms=10, client_id="memberflow-demo")
    except KafkaError as exc:
        progress.error, progress.done = f"cannot reach {url}: {exc}", True
        print(f"demo: {progress.error}", file=sys.stderr)
        return 1
    say(f"demo: publishing {members} members' events to {url} at {rate:g}/s (seed {seed})")
    code = 0
    try:
        publish(producer, paced(generate(members, seed, demo_start()), rate, limit, stop), settings.topic, progress)
    except KeyboardInterrupt:
        say("demo: interrupted")
    except KafkaError as exc:
        progress.error, code = str(exc), 1
        print(f"demo: {exc}", file=sys.stderr)
    finally:
        try:
            producer.flush(timeout=10)
        finally:
            producer.close(timeout=5)
        progress.done = True
    say(f"demo: {progress.sent} events published")
    return code
