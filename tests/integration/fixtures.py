"""Helpers of the integration tests: deterministic event streams, the ids of
outputs, a worker's metrics, waiting for a condition, and what the offline
replay expects.  (Fixtures that start brokers: conftest.py.)"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import yaml

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from config.topics import Topic
from memberflow.dev.cluster import WorkerProcess
from memberflow.tools.replay import MemoryStore, replay

BASE_DAY = "2026-03-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"
OUTPUTS = ("points-ledger", "tier-changes", "benefit-grants", "benefit-changes", "notifications", "dead-letters")
ID_FIELDS = ("entry_id", "change_id", "grant_id", "notification_id", "dead_letter_id")


def output_id(value: dict) -> str:
    return next(value[f] for f in ID_FIELDS if f in value)


def effective(values: Iterable[dict]) -> dict[str, dict]:
    """Output id -> the output in force once ``values`` (in the order published) are applied:
    the last one published under each id, retracted ones left out (``engine.corrections``).
    Left aside: a ledger entry's ``balance`` (the running balance as published) and where a
    dead letter's input was (the replay of a file knows no partition or offset)."""
    in_force: dict[str, dict] = {}
    for value in values:
        if value.get("retracts"):
            in_force.pop(value["retracts"], None)
        else:
            in_force[output_id(value)] = comparable(value)
    return in_force


def comparable(value: dict) -> dict:
    """An output without what depends on the order of publication or where its input was."""
    aside = ("balance",) if "entry_id" in value else ("partition", "offset") if "dead_letter_id" in value else ()
    return {k: v for k, v in value.items() if k not in aside}


#: the test streams span four weeks and go out as fast as the producer can, every topic at once, so
#: an event may reach its member after others up to four weeks later than it (the shipped bound is a week)
LATENESS = "P35D"


def stream_rules_dir(directory: Path, **sections: dict) -> Path:
    """A rules directory: the shipped default with ``limits.max_lateness`` = LATENESS and ``sections``."""
    data = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text())
    data.setdefault("limits", {})["max_lateness"] = LATENESS
    data.update(sections)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "default.yaml").write_text(yaml.safe_dump(data))
    return directory


def replayed(events: list[tuple[str, str, dict]], rules: RuleBook, store: MemoryStore | None = None) -> list[dict]:
    """What the offline replay of ``events`` (in this order) publishes on the ``OUTPUTS`` topics -- the
    ones the live side is read on -- as JSON values."""
    return [json.loads(e.value.model_dump_json())
            for e in replay(({"topic": t, "key": k, "value": v} for t, k, v in events), rules, store=store)
            if e.topic in OUTPUTS]


def member_outputs(cluster, topic: str, member: str) -> list[dict]:
    """A member's outputs on ``topic``, once per id (outputs are at-least-once), in the order first seen."""
    unique: dict[str, dict] = {}
    for _, v in cluster.consume([topic], idle=0.5, timeout=30):
        if v.get("member_id") == member:
            unique.setdefault(v.get("change_id") or v.get("grant_id") or v.get("notification_id")
                              or v.get("command_id"), v)
    return list(unique.values())


def consumed_total(worker: WorkerProcess, outcome: str | None = None) -> float:
    """Sum of memberflow_events_consumed_total, optionally for one outcome."""
    total = 0.0
    for labels, value in re.findall(r"^memberflow_events_consumed_total\{([^}]*)\} (\S+)$", worker.metrics(), re.M):
        if outcome is None or f'outcome="{outcome}"' in labels:
            total += float(value)
    return total


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    """A sample's value (0 when absent); a metric without labels matches with none given."""
    for found_labels, value in re.findall(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", worker.metrics(), re.M):
        if all(f'{k}="{v}"' in found_labels for k, v in labels.items()):
            return float(value)
    return 0.0


def wait_until(predicate, timeout: float = 90.0, interval: float = 0.3) -> None:
    """Return once ``predicate()`` holds, asking again every ``interval`` seconds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def mixed_events(n: int, members: int, seed: int, *, order_sensitive: bool = True) -> list[tuple[str, str, dict]]:
    """A deterministic stream of valid events for ``members`` members.

    With ``order_sensitive=False`` it leaves out what makes the result depend
    on how events of *different* topics interleave (malicious complaints,
    invitations), so a redelivery that interleaves topics differently must
    still end in the same state and the same set of output ids.
    """
    rng = random.Random(seed)
    paid: dict[str, list[tuple[str, Decimal]]] = {}
    out: list[tuple[str, str, dict]] = []
    for i in range(n):
        member = f"m{rng.randrange(members):04d}"
        when = BASE_DAY.format(day=1 + i * 27 // n, hour=rng.randrange(24), minute=rng.randrange(60))
        base = {"event_id": f"ev-{seed}-{i}", "member_id": member, "occurred_at": when}
        r = rng.random()
        if r < 0.45:
            amount = Decimal(rng.randrange(500, 40000)) / 100
            order_id = f"o-{seed}-{i}"
            paid.setdefault(member, []).append((order_id, amount))
            items = [{"sku": f"sku{rng.randrange(50)}", "category": rng.choice(["fresh", "featured", "dairy"]),
                      "unit_price": str(amount), "quantity": 1}]
            out.append(("orders", member, {**base, "type": "order_paid", "order_id": order_id,
                                           "amount": str(amount), "items": items}))
        elif r < 0.52 and paid.get(member):
            order_id, amount = rng.choice(paid[member])
            part = (amount * Decimal(rng.choice([25, 50, 100])) / 100).quantize(Decimal("0.01"))
            out.append(("orders", member, {**base, "type": "order_refunded", "order_id": order_id,
                                           "amount": str(part)}))
        elif r < 0.72:
            out.append(("reviews", member, {**base, "review_id": f"r-{i}"}))
        elif r < 0.92:
            out.append(("logins", member, {**base, "device_id": f"d{rng.randrange(3)}"}))
        elif order_sensitive:
            verdict = rng.choice(["malicious", "upheld", "dismissed"])
            out.append(("complaints", member, {**base, "complaint_id": f"c-{i}", "verdict": verdict}))
        else:
            out.append(("complaints", member, {**base, "complaint_id": f"c-{i}", "verdict": "dismissed"}))
    return out


def quiet_members(members: int, seed: int) -> list[tuple[str, str, dict]]:
    """Members with one small order in February and one login early in March:
    at an evaluation in April nothing is due for them but the churn warning,
    30 days after the login (which falls on 2-9 March, so between 1 and 8 April)."""
    out: list[tuple[str, str, dict]] = []
    for i in range(members):
        member = f"q{i:04d}"
        items = [{"sku": "sku1", "category": "dairy", "unit_price": "50.00", "quantity": 1}]
        out.append(("orders", member, {"event_id": f"qo-{seed}-{i}", "member_id": member, "type": "order_paid",
                                       "occurred_at": f"2026-02-10T10:{i % 60:02d}:00+08:00",
                                       "order_id": f"qo-{seed}-{i}", "amount": "50.00", "items": items}))
        out.append(("logins", member, {"event_id": f"ql-{seed}-{i}", "member_id": member, "device_id": "d0",
                                       "occurred_at": f"2026-03-{2 + i % 8:02d}T09:00:00+08:00"}))
    return out


# -- periodic evaluation ------------------------------------------------------

SLICE = 7


def command(as_of: str) -> dict:
    return {"type": "evaluate", "as_of": as_of}


def expected_outputs(lines: list[dict], rules_dir: Path) -> list[dict]:
    outputs = replay(lines, RuleBook.load(rules_dir), store=MemoryStore())
    return [json.loads(e.value.model_dump_json()) for e in outputs if e.topic != Topic.DEVICE_ACTIVITY]


def evaluation_ids_of(outputs, cause: str) -> set[str]:
    return {output_id(v) for _, v in outputs if v.get("cause_event_id") == cause}
