"""``make run``'s live console: the output topics tailed, one line per output, a status line now and then."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer

from config.topics import Topic
from memberflow.dev.demo.feed import Progress
from memberflow.dev.processes import Child

STATUS_EVERY = 5.0
IDLE_STATUS_EVERY = 60.0
LEDGER_PER_SECOND = 5
#: The output topics the console follows, in the status line's order, and their short labels.
SHORT: dict[Topic, str] = {
    Topic.POINTS_LEDGER: "ledger",
    Topic.TIER_CHANGES: "tier",
    Topic.BADGE_CHANGES: "badge",
    Topic.MEMBERSHIP_CHANGES: "card",
    Topic.REDEMPTION_RESULTS: "redeem",
    Topic.BENEFIT_GRANTS: "grant",
    Topic.BENEFIT_CHANGES: "benefit",
    Topic.NOTIFICATIONS: "notify",
    Topic.DEAD_LETTERS: "dead",
    Topic.RISK_FLAGS: "risk",
    Topic.MEMBER_CONTACTS: "contact",
}


def say(text: str = "") -> None:
    print(text, flush=True)


# -- one line per output ----------------------------------------------------------


def _ledger(v: dict[str, Any]) -> str:
    return f"{v.get('member_id', '?'):<6} {v.get('delta', 0):+d} {v.get('rule', '')}  → {v.get('balance', '?')} pts"


def _tier(v: dict[str, Any]) -> str:
    why = "invitation" if v.get("reason") == "invitation" else f"{v.get('metric', '')} {v.get('metric_value', '')}"
    return f"{v.get('member_id', '?'):<6} {v.get('from_tier', '?')} → {v.get('to_tier', '?')} ({why})"


def _badge(v: dict[str, Any]) -> str:
    return (f"{v.get('member_id', '?'):<6} {v.get('line_id', '?')} L{v.get('from_level', '?')} → "
            f"L{v.get('to_level', '?')} (v{v.get('rule_version', '?')})")


def _card(v: dict[str, Any]) -> str:
    return (f"{v.get('member_id', '?'):<6} {v.get('kind', '?')} {v.get('merchant_id', '?')}/{v.get('plan_id', '?')} "
            f"{v.get('level_id', '?')} until {v.get('until') or '-'}")


def _granted(kind: str, granted: dict[str, Any]) -> str:
    """A few words on what an accepted request got."""
    if kind == "coupon":
        return f"{granted.get('quantity', 1)}×{granted.get('denomination', '?')} yuan"
    if kind == "merchandise":
        return f"{granted.get('quantity', 1)}×{granted.get('item_id', '?')}"
    if kind == "gift":
        return f"→ {granted.get('to_member_id', '?')}"
    if kind == "gift_respond":
        verb = "from" if granted.get("accept") else "declined from"
        return f"{granted.get('points', '?')} pts {verb} {granted.get('from_member_id', '?')}"
    if kind == "points_cash":
        return f"order {granted.get('order_id', '?')} cash {granted.get('cash_amount', '?')}"
    return ""


def _redeem(v: dict[str, Any]) -> str:
    kind = v.get("kind", "?")
    parts = [f"{v.get('member_id', '?'):<6} {kind} {v.get('status', '?')}"]
    if v.get("reason"):
        parts.append(str(v["reason"]))
    if v.get("points_spent"):
        parts.append(f"-{v['points_spent']} pts")
    if v.get("points_returned"):
        parts.append(f"+{v['points_returned']} pts")
    granted = v.get("granted")
    if isinstance(granted, dict) and (what := _granted(kind, granted)):
        parts.append(f"({what})")
    return " ".join(parts)


def _benefit_change(v: dict[str, Any]) -> str:
    parts = [v.get("benefit", "?"), v.get("action", "?"), v.get("order_id") or ""]
    return f"{v.get('member_id', '?'):<6} " + " ".join(p for p in parts if p)


def _grant(v: dict[str, Any]) -> str:
    parts = [v.get("benefit", "?"), v.get("tier") or "", str(v.get("value") or "")]
    return f"{v.get('member_id', '?'):<6} " + " ".join(p for p in parts if p)


def _notify(v: dict[str, Any]) -> str:
    return f"{v.get('member_id', '?'):<6} {v.get('kind', '?')}: {v.get('message', '')}"


def _risk(v: dict[str, Any]) -> str:
    members = v.get("members") or []
    return (f"{v.get('member_id', '?'):<6} {v.get('rule', '?')} on device {v.get('device_id', '?')}: "
            f"{len(members)} members > {v.get('limit', '?')} ({v.get('action', '?')})")


def _dead(v: dict[str, Any]) -> str:
    return f"{v.get('source_topic', '?'):<6} {v.get('reason', '?')}: {str(v.get('detail', ''))[:100]}"


def _contact(v: dict[str, Any]) -> str:
    given = [name for name in ("name", "phone", "email") if v.get(name)]
    return f"{v.get('member_id', '?'):<6} {', '.join(given) or 'nothing'} given"


FORMATS: dict[Topic, Callable[[dict[str, Any]], str]] = {
    Topic.POINTS_LEDGER: _ledger,
    Topic.TIER_CHANGES: _tier,
    Topic.BADGE_CHANGES: _badge,
    Topic.MEMBERSHIP_CHANGES: _card,
    Topic.REDEMPTION_RESULTS: _redeem,
    Topic.BENEFIT_GRANTS: _grant,
    Topic.BENEFIT_CHANGES: _benefit_change,
    Topic.NOTIFICATIONS: _notify,
    Topic.DEAD_LETTERS: _dead,
    Topic.RISK_FLAGS: _risk,
    Topic.MEMBER_CONTACTS: _contact,
}


def describe(logical: Topic | str, raw: bytes | None) -> str:
    """One console line for an output of the logical topic ``logical``: its label, then what happened."""
    label = SHORT[logical].upper()
    try:
        value = json.loads(raw or b"{}")
        body = FORMATS[logical](value if isinstance(value, dict) else {})
    except (ValueError, TypeError) as exc:
        body = f"(unreadable: {exc})"
    return f"{label:<8} {body}"


# -- the console -------------------------------------------------------------------


@dataclass
class Console:
    """Tails the output topics and prints what happens, ledger lines sampled."""

    bootstrap: str
    physical: dict[str, Topic]  # physical topic -> logical
    progress: Progress
    totals: Counter = field(default_factory=Counter)
    began: float = field(default_factory=time.monotonic)
    second: int = -1
    ledger_this_second: int = 0
    last_status: float = field(default_factory=time.monotonic)
    feed_reported: bool = False
    last_seen: int = 0

    @property
    def seen(self) -> int:
        return sum(self.totals.values())

    def show(self, logical: Topic, raw: bytes | None) -> None:
        self.totals[logical] += 1
        if logical == Topic.POINTS_LEDGER and not self._ledger_slot():
            return
        say(describe(logical, raw))

    def _ledger_slot(self) -> bool:
        now = int(time.monotonic())
        if now != self.second:
            self.second, self.ledger_this_second = now, 0
        self.ledger_this_second += 1
        return self.ledger_this_second <= LEDGER_PER_SECOND

    def status(self, force: bool = False) -> None:
        now = time.monotonic()
        quiet = self.progress.done and self.seen == self.last_seen  # nothing new: every minute is enough
        if not force and now - self.last_status < (IDLE_STATUS_EVERY if quiet else STATUS_EVERY):
            return
        self.last_status, self.last_seen = now, self.seen
        counts = "  ".join(f"{short} {self.totals[t]}" for t, short in SHORT.items())
        say(f"-- {now - self.began:4.0f}s  fed {self.progress.sent} events  |  {counts}")
        if self.progress.done and not self.feed_reported:
            self.feed_reported = True
            what = f"failed: {self.progress.error}" if self.progress.error else "finished"
            say(f"-- demo feed {what} ({self.progress.sent} events); Ctrl-C to stop")

    def follow(self, children: Sequence[Child], deadline: float | None) -> int:
        """Print the outputs as they come, until ``deadline`` (or Ctrl-C, or ``ProcessFailed``
        when one of ``children`` exits); 0 if it saw any."""
        consumer = KafkaConsumer(
            *self.physical,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            client_id="memberflow-console",
        )
        try:
            while deadline is None or time.monotonic() < deadline:
                for child in children:
                    child.check()
                for records in consumer.poll(timeout_ms=250).values():
                    for record in records:
                        self.show(self.physical[record.topic], record.value)
                self.status()
        finally:
            consumer.close()
        self.status(force=True)
        return 0 if self.seen else 1
