"""Helpers for the tests of raw input payloads (engine intake, the agents'
record processing, the offline replay): an order as its JSON payload."""

from __future__ import annotations

import json
from typing import Any

MAX_BYTES = 65536


def order(**over: Any) -> dict[str, Any]:
    """A valid ``order_paid`` payload of m1 (o-bad, 100.00, two items); ``over`` replaces
    fields, and a field set to ``...`` is left out."""
    base = {
        "type": "order_paid",
        "event_id": "e-bad",
        "member_id": "m1",
        "occurred_at": "2026-03-02T10:00:00+08:00",
        "order_id": "o-bad",
        "amount": "100.00",
        "items": [{"sku": "s1", "category": "general", "unit_price": "50.00", "quantity": 2}],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def raw(value: Any) -> bytes:
    """A payload as read from Kafka: bytes as they are, anything else as JSON."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()
