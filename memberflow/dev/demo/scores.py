"""Weekly business-line score snapshots (seed 000), in the data API's own shape.

A subset of members gets a snapshot every week: ``user_pin``, ``dt`` and the
business lines' fields as strings, no ``event_id`` nor ``occurred_at`` (the
engine derives both).  Some of them drift upward, so badges are awarded.
Drawn from a random sequence of their own, so the rest of the stream is the
same as without them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from memberflow.dev.demo.formats import CST, money
from memberflow.dev.demo.personas import Persona
from memberflow.dev.demo.schedule import Schedule, Slot

#: Share of members with business-line scores, and of those whose scores climb.
SCORED_SHARE = 0.15
CLIMBER_SHARE = 0.4
BAITIAO_SHARE = 0.5


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


def scored(rng: random.Random, persona: Persona) -> Scored:
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


class WeeklyScores:
    """The scored members of a cast, and their snapshots day by day."""

    def __init__(self, seed: int, cast: list[Persona], schedule: Schedule) -> None:
        self.rng = random.Random(f"scores:{seed}")
        self.schedule = schedule
        self.by_id = {p.member_id: p for p in cast}
        self.scored = [scored(self.rng, p) for p in cast if self.rng.random() < SCORED_SHARE]

    def slots(self, day: int) -> list[Slot]:
        """Weekly snapshots, each member on its own weekday, dated the day they fall on.

        A snapshot's event time is ``dt`` at 00:00, so it goes to the day whose
        span holds that midnight (the first one is the first midnight after the start).
        """
        start = self.schedule.start
        first = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tzinfo=CST)
        low = start + timedelta(days=day)
        week = timedelta(days=7)
        slots = []
        for s in self.scored:
            base = first + timedelta(days=s.weekday)
            n = max(0, math.ceil((low - base) / week))
            at = base + n * week
            if at < low + timedelta(days=1):
                slots.append(self.schedule.slot(at, "scores", self.by_id[s.member_id], scored=s, week=n))
        return slots

    def snapshot(self, slot: Slot) -> dict[str, Any]:
        """A snapshot as the data API sends it: numbers as strings, no ids."""
        s: Scored = slot.data["scored"]
        week: int = slot.data["week"]
        rng = self.rng
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
        return value
