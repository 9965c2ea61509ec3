"""The demo's cast: who the members are and how often each does what."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Share of members who are heavy spenders (at least one).
HEAVY_SHARE = 0.03


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
