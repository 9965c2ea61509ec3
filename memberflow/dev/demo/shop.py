"""The demo's shop: a catalogue of SKUs, and the baskets and discounts of the members' orders."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from memberflow.dev.demo.formats import CENT, money
from memberflow.dev.demo.personas import Persona

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


class Shop:
    """Draws from the stream's main random sequence (``rng``): the catalogue when made, then each basket."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.catalog: dict[str, list[tuple[str, Decimal]]] = {}
        for category, (count, low, high, _) in CATEGORIES.items():
            code = category[:3].upper()
            self.catalog[category] = [
                (f"{code}-{n:03d}", Decimal(rng.uniform(low, high)).quantize(Decimal("0.1")) - CENT)
                for n in range(1, count + 1)
            ]

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
        """A coupon, a 2% promotion, or nothing."""
        roll = self.rng.random()
        if roll < 0.2:
            coupon = Decimal(self.rng.choice((5, 10, 15)))
            return coupon if total > coupon * 3 else Decimal(0)
        if roll < 0.3:
            return (total * Decimal("0.02")).quantize(CENT)
        return Decimal(0)
