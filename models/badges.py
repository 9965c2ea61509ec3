"""Business-line score snapshots (input) and per-line badge state (seed 000).

A snapshot comes from a business line's data API as it is, e.g.
``{"user_pin":"xxx","lc_score":"450","gdlc_jy_flag":"0","xjk_jy_amt":"1600.00",
"jt_hold_amt":"3000.00","dt":"2022-11-30"}``: ``user_pin`` is the member id,
``dt`` the snapshot date, every other field belongs to some business line and
is kept as it came (numbers arrive as strings); the engine reads the fields
each line declares, with the line's types.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, tzinfo
from typing import Any

import msgspec
from msgspec import field
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.fields import Ident, LineId, fixed_offset


def snapshot_id(data: dict[str, Any]) -> str:
    """Deterministic event id of a snapshot that names none: a digest of the
    whole payload (member, date and values, key order aside), so a re-sent
    snapshot is a duplicate and a corrected one (same date, other values) is not."""
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "bs-" + hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def _event_id_is_optional(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in schema.get("required", []) if name != "event_id"]


class BusinessScores(BaseModel):
    """One member's scores on one day, from one or more business lines."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True, validate_by_alias=True,
                              json_schema_extra=_event_id_is_optional)

    member_id: Ident = Field(alias="user_pin", description="the member id (the data API's user pin)")
    dt: date = Field(description="snapshot date; its event time is 00:00 of it in the tenant's time zone")
    tenant_id: Ident = "default"
    event_id: Ident = Field(description="derived from user_pin, dt and the payload when not given")
    line_id: LineId | None = Field(default=None, description="evaluate this line only (else every line it feeds)")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="event time; absent = dt 00:00 in the tenant's time zone (set by the engine)"
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_event_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("event_id"):
            return {**data, "event_id": snapshot_id(data)}
        return data

    @property
    def scores(self) -> dict[str, Any]:
        """The business-line fields, as they came."""
        return self.model_extra or {}

    def in_zone(self, tz: tzinfo) -> BusinessScores:
        """This snapshot with its event time set: dt at 00:00 in ``tz`` unless given."""
        if self.occurred_at is not None:
            return self
        return self.model_copy(update={"occurred_at": fixed_offset(datetime.combine(self.dt, time(0), tzinfo=tz))})


class BadgeState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A member's badge in one business line (part of the member state: a msgspec Struct)."""

    level: int = 0  # 0 = no badge yet
    since: datetime | None = None
    rule_version: int = 0  # version of the line's definition that decided the level
    last_snapshot: date | None = None  # dt of the last snapshot applied for this line
    values: dict[str, str] = field(default_factory=dict)  # the line's fields of that snapshot
    #: set when an evaluation first finds the member short: no downgrade before it (like tiers)
    protection_until: datetime | None = None
    downgrade_warned: bool = False
