"""The working context of one event applied to one member.

It holds the state being changed, the rules, the cause, and the outputs so
far, and derives every output id from the cause so replays give the same ids.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from config.rules import TenantRules
from config.topics import Topic
from engine.benefit_instances import issue
from engine.clock import local_day
from engine.ids import derive_id
from engine.outcome import Emitted
from engine.qualification import Qualification, qualification
from engine.windows import COUNTER_DAYS
from models.events import MemberEvent
from models.outputs import (
    BenefitGrant,
    LedgerEntry,
    LedgerKind,
    Notification,
    NotificationKind,
    TierChange,
    TierDirection,
)
from models.state import MemberState


class Step:
    def __init__(self, state: MemberState, rules: TenantRules, cause_id: str, occurred_at: datetime) -> None:
        self.state = state
        self.rules = rules
        self.cause_id = cause_id
        self.occurred_at = occurred_at
        self.outputs: list[Emitted] = []
        #: the event's moment in the tenant's time zone (converted once per step) and its day
        self.local_time = occurred_at.astimezone(rules.tz)
        self.day: date = self.local_time.date()
        self._qualification: Qualification | None = None
        self._watermark_day: tuple[datetime, date] | None = None
        #: the risk flag this event's earnings are held under (set by engine.spending before an order applies)
        self.hold: str | None = None
        #: the money a refund took back from its order (set by engine.orders: a refund beyond the order is capped)
        self.refunded = Decimal(0)
        #: what every output names when the member is in a live experiment (rules of an arm)
        arm = rules.arm
        self._arm_fields = {"experiment": arm.experiment, "variant": arm.variant} if arm is not None else None

    @classmethod
    def for_event(cls, state: MemberState, rules: TenantRules, event: MemberEvent) -> Step:
        return cls(state, rules, event.event_id, event.occurred_at)

    def _id(self, prefix: str, *parts: object) -> str:
        return derive_id(prefix, self.state.tenant_id, self.state.member_id, self.cause_id, *parts)

    def _common(self) -> dict[str, Any]:
        common = {
            "tenant_id": self.state.tenant_id,
            "member_id": self.state.member_id,
            "occurred_at": self.occurred_at,
            "cause_event_id": self.cause_id,
            "rules_version": self.rules.version,
        }
        if self._arm_fields is not None:
            common.update(self._arm_fields)
        return common

    def emit(self, topic: Topic, value: Any) -> None:
        self.outputs.append(Emitted(topic, self.state.member_id, value))

    def qualification(self) -> Qualification:
        """The member's qualification as of this step's day, computed once per step
        (metrics do not change while one evaluation runs)."""
        if self._qualification is None:
            self._qualification = qualification(self.state, self.rules.tiers, self.day)
        return self._qualification

    @property
    def beyond_counters(self) -> bool:
        """The event's day is older than the per-day counters are kept, so a
        daily limit could not be enforced: capped rewards are not given."""
        latest = self.watermark_day()
        return latest is not None and (latest - self.day).days > COUNTER_DAYS

    def watermark_day(self) -> date | None:
        """The local day of the latest event applied (before this one), converted once per watermark."""
        wm = self.state.watermark
        if wm is None:
            return None
        cached = self._watermark_day
        if cached is None or cached[0] is not wm:
            cached = self._watermark_day = (wm, local_day(wm, self.rules.tz))
        return cached[1]

    def counter(self, name: str, day: date | None = None) -> int:
        return self.state.counters.get(day or self.day, {}).get(name, 0)

    def bump(self, name: str, by: int = 1, day: date | None = None) -> None:
        bucket = self.state.counters.setdefault(day or self.day, {})
        bucket[name] = bucket.get(name, 0) + by

    def ledger(self, kind: LedgerKind, rule: str, delta: int, balance: int, **extra: Any) -> None:
        self.emit(
            Topic.POINTS_LEDGER,
            LedgerEntry(
                entry_id=self._id("le", kind.value, rule, extra.get("order_id") or "", extra.pop("seq", 0)),
                kind=kind,
                rule=rule,
                delta=delta,
                balance=balance,
                **extra,
                **self._common(),
            ),
        )

    def tier_change(self, from_tier: str, to_tier: str, up: bool, reason: str, metric: str, value: Decimal) -> None:
        self.emit(
            Topic.TIER_CHANGES,
            TierChange(
                change_id=self._id("tc", from_tier, to_tier),
                from_tier=from_tier,
                to_tier=to_tier,
                direction=TierDirection.UP if up else TierDirection.DOWN,
                reason=reason,
                metric=metric,
                metric_value=value,
                **self._common(),
            ),
        )

    def grant(self, benefit: str, ordinal: object = 0, *, period: str | None = None, **fields: Any) -> str:
        """A benefit grant, kept as an issued benefit instance; returns its id.  With ``period`` its
        id is (member, benefit, period, ordinal), whatever the cause."""
        grant_id = (
            derive_id("bg", self.state.tenant_id, self.state.member_id, benefit, period, ordinal)
            if period is not None
            else self._id("bg", benefit, ordinal)
        )
        grant = BenefitGrant(grant_id=grant_id, benefit=benefit, **fields, **self._common())
        self.emit(Topic.BENEFIT_GRANTS, grant)
        issue(self.state, grant, self.rules.benefits)
        return grant_id

    def notify(self, kind: NotificationKind, message: str, ordinal: object = 0, channel: str | None = None,
               **data: Any) -> None:
        self.emit(
            Topic.NOTIFICATIONS,
            Notification(
                notification_id=self._id("nt", kind.value, ordinal),
                kind=kind,
                message=message,
                channel=channel,
                data=data,
                **self._common(),
            ),
        )
