"""When things happen: the stream's days, the traffic of each hour, and the slots built into events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.personas import Persona

#: Days of event time in a stream, by default.
DAYS = 56
#: Relative traffic per local hour (quiet nights, lunch and evening peaks).
HOURLY = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2.5, 4, 4, 3.5, 4, 5, 4.5, 3.5, 3.5, 4, 4.5, 5.5, 7, 7.5, 6.5, 4, 2)
WEEKEND_FACTOR = 1.3


@dataclass(order=True)
class Slot:
    """Something a member does at a moment; built into an event in time order."""

    at: datetime
    seq: int
    kind: str = field(compare=False)
    persona: Persona = field(compare=False)
    data: dict[str, Any] = field(default_factory=dict, compare=False)


class Schedule:
    """The stream's span (``days`` from ``start``, in UTC+8) and its slots, numbered as they are made.

    Two slots at the same moment come out in the order they were made.
    """

    def __init__(self, start: datetime, days: int) -> None:
        self.start = (start if start.tzinfo else start.replace(tzinfo=CST)).astimezone(CST)
        self.days = days
        self.seq = 0

    def slot(self, at: datetime, kind: str, persona: Persona, **data: Any) -> Slot:
        self.seq += 1
        return Slot(at, self.seq, kind, persona, data)

    def moment(self, rng: random.Random, day: int, first_hour: int = 0) -> datetime:
        """A moment of ``day`` no earlier than ``first_hour``, busier hours likelier."""
        hour = rng.choices(range(first_hour, 24), HOURLY[first_hour:])[0]
        return self.start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))

    def busy(self, day: int) -> float:
        """How much more members do on ``day`` than on a weekday."""
        return WEEKEND_FACTOR if (self.start + timedelta(days=day)).weekday() >= 5 else 1.0


def demo_start(now: datetime | None = None, days: int = DAYS) -> datetime:
    """Midnight (UTC+8) ``days`` ago, so the stream's event time ends about now."""
    today = (now or datetime.now(CST)).astimezone(CST).date()
    return datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=CST)
