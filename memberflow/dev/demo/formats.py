"""How the demo's events are written: money, times, ids and the bytes on the wire."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from config.topics import Topic

#: The demo's members live in UTC+8; every time in the stream is written in it.
CST = timezone(timedelta(hours=8))
CENT = Decimal("0.01")
#: The demo's one tenant.
TENANT = "default"

#: ``(logical topic, member id key, value)``: ``value`` is a dict, or a ``str`` holding a raw (malformed) payload.
Event = tuple[Topic, str, dict[str, Any] | str]


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def stamp(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


def encode(value: dict[str, Any] | str) -> bytes:
    """An event's value as published: compact JSON, or a raw payload as it is."""
    return (value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))).encode()


class Ids:
    """Ids unique within a stream and the same for the same seed: ``<prefix><seed>-<n>``, counted per prefix."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counters: dict[str, int] = defaultdict(int)

    def next(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}{self.seed}-{self.counters[prefix]:06d}"
