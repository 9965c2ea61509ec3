"""The deliberately bad events (about 1% of the stream), so dead letters show up.

Raw malformed JSON, negative or over-limit amounts, no member id, unknown
verdicts.  Each carries an ``event_id`` starting with ``BAD_ID_PREFIX``, or is
a raw ``str``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from config.topics import Topic
from memberflow.dev.demo.formats import TENANT, Event, Ids, stamp
from memberflow.dev.demo.schedule import Slot

BAD_SHARE = 0.01
BAD_ID_PREFIX = "bad"
BAD_KINDS = ("malformed_json", "negative_amount", "missing_member_id", "unknown_verdict", "amount_over_limit")


def bad_event(rng: random.Random, ids: Ids, slot: Slot) -> Event:
    """One deliberately bad event of a random kind, instead of what ``slot`` would have been."""
    mid = slot.persona.member_id
    kind = rng.choice(BAD_KINDS)
    value: dict[str, Any] = {
        "event_id": ids.next(BAD_ID_PREFIX),
        "tenant_id": TENANT,
        "member_id": mid,
        "occurred_at": stamp(slot.at),
    }
    order = {"type": "order_paid", "order_id": ids.next("o"), "items": []}
    if kind == "malformed_json":
        text = json.dumps({**value, **order, "amount": "42.00"})
        return Topic.ORDERS, mid, text[: len(text) // 2]
    if kind == "negative_amount":
        return Topic.ORDERS, mid, {**value, **order, "amount": "-15.00"}
    if kind == "amount_over_limit":
        return Topic.ORDERS, mid, {**value, **order, "amount": "1250000.00"}
    if kind == "unknown_verdict":
        return Topic.COMPLAINTS, mid, {**value, "type": "complaint", "complaint_id": ids.next("c"),
                                       "verdict": "frivolous"}
    del value["member_id"]
    return Topic.LOGINS, mid, {**value, "type": "login", "device_id": slot.persona.devices[0]}
