"""The figures of one simulated run, summed from its outputs as they are emitted.

Held per run: sums by rule, benefit, direction and day, the tier counts at
each evaluation, and per member the points issued and the final tier -- bounded
by members and days, never by events.  A correction (``retracts`` set) counts
against what it withdraws: a retracted ledger entry's delta is already negated,
a retracted tier change or grant counts -1.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from config.topics import Topic
from engine.outcome import Emitted
from models.outputs import BenefitGrant, DeadLetter, LedgerEntry, LedgerKind, TierChange

#: earn rules that move points between members (a gift's credit): earned, but not issued
TRANSFERS = frozenset({"gift"})


class Figures:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.events = 0
        self.outputs: Counter[str] = Counter()
        self.points_by_rule: Counter[str] = Counter()  # earned points (kind earn) by the rule that gave them
        self.points_by_kind: Counter[str] = Counter()
        self.liability_by_day: Counter[str] = Counter()  # net change of points held, by local day
        self.tier_changes: defaultdict[str, Counter[str]] = defaultdict(Counter)  # day -> up/down
        self.tier_changes_to: Counter[str] = Counter()  # "up:GOLD"
        self.grants: Counter[str] = Counter()
        self.grant_value: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.dead_letters: Counter[str] = Counter()
        self.tiers_over_time: defaultdict[str, Counter[str]] = defaultdict(Counter)  # as_of -> tier -> members
        self.member_points: Counter[str] = Counter()  # "tenant/member" -> points issued to the member
        self.member_tier: dict[str, str] = {}
        self._last_day: tuple[datetime | None, str] = (None, "")

    def _day(self, moment: datetime) -> str:
        last = self._last_day
        if last[0] is not moment:  # an event's outputs share its moment: converted once
            last = self._last_day = (moment, moment.astimezone(self.tz).date().isoformat())
        return last[1]

    def add(self, out: Emitted) -> None:
        value = out.value
        self.outputs[out.topic] += 1
        if out.topic == Topic.POINTS_LEDGER and isinstance(value, LedgerEntry):
            self.points_by_kind[value.kind.value] += value.delta
            self.liability_by_day[self._day(value.occurred_at)] += value.delta
            if value.kind is LedgerKind.EARN:
                self.points_by_rule[value.rule] += value.delta
                if value.rule not in TRANSFERS:
                    self.member_points[f"{value.tenant_id}/{value.member_id}"] += value.delta
        elif out.topic == Topic.TIER_CHANGES and isinstance(value, TierChange):
            sign = -1 if value.retracts else 1
            self.tier_changes[self._day(value.occurred_at)][value.direction.value] += sign
            self.tier_changes_to[f"{value.direction.value}:{value.to_tier}"] += sign
        elif out.topic == Topic.BENEFIT_GRANTS and isinstance(value, BenefitGrant):
            sign = -1 if value.retracts else 1
            self.grants[value.benefit] += sign
            if value.value is not None:
                self.grant_value[value.benefit] += sign * value.value * value.quantity
        elif out.topic == Topic.DEAD_LETTERS and isinstance(value, DeadLetter):
            self.dead_letters[value.reason.value] += 1

    def sample_tiers(self, as_of: datetime, tiers: Counter[str]) -> None:
        self.tiers_over_time[as_of.isoformat()].update(tiers)

    def merge(self, other: Figures) -> None:
        """Add another shard's figures of the same run."""
        self.events = max(self.events, other.events)  # every shard reads every line
        for mine, theirs in [(self.outputs, other.outputs), (self.points_by_rule, other.points_by_rule),
                             (self.points_by_kind, other.points_by_kind),
                             (self.liability_by_day, other.liability_by_day),
                             (self.tier_changes_to, other.tier_changes_to), (self.grants, other.grants),
                             (self.dead_letters, other.dead_letters), (self.member_points, other.member_points)]:
            mine.update(theirs)
        for day, counts in other.tier_changes.items():
            self.tier_changes[day].update(counts)
        for benefit, value in other.grant_value.items():
            self.grant_value[benefit] += value
        for as_of, counts in other.tiers_over_time.items():
            self.tiers_over_time[as_of].update(counts)
        self.member_tier.update(other.member_tier)

    def summary(self) -> dict[str, Any]:
        """The run's figures as JSON values (money as strings)."""
        liability, held = {}, 0
        for day in sorted(self.liability_by_day):
            held += self.liability_by_day[day]
            liability[day] = held
        return {
            "events": self.events,
            "members": len(self.member_tier),
            "outputs": dict(sorted(self.outputs.items())),
            "points_issued": sum(p for rule, p in self.points_by_rule.items() if rule not in TRANSFERS),
            "points_by_rule": dict(sorted(self.points_by_rule.items())),
            "points_by_kind": dict(sorted(self.points_by_kind.items())),
            "liability": held,
            "liability_by_day": liability,
            "upgrades": sum(c["up"] for c in self.tier_changes.values()),
            "downgrades": sum(c["down"] for c in self.tier_changes.values()),
            "tier_changes_by_day": {day: {"up": c["up"], "down": c["down"]}
                                    for day, c in sorted(self.tier_changes.items())},
            "tier_changes_by_tier": dict(sorted(self.tier_changes_to.items())),
            "grants": {b: {"count": self.grants[b], "face_value": str(self.grant_value[b])}
                       for b in sorted(self.grants)},
            "grants_face_value": str(sum(self.grant_value.values(), Decimal(0))),
            "members_by_tier": dict(sorted(Counter(self.member_tier.values()).items())),
            "members_by_tier_over_time": {as_of: dict(sorted(c.items()))
                                          for as_of, c in sorted(self.tiers_over_time.items())},
            "dead_letters": dict(sorted(self.dead_letters.items())),
        }
