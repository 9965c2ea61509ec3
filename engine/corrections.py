"""Corrections: what is published when a late event changes outputs published before it.

When a late event is put in its place in time, the events after it are
replayed (``engine.event_time``).  The outputs of that replay are compared
with those of the history as it was, output id by output id:

* an id only the new history has is published as it is;
* an id whose value changed is *retracted* -- a copy of the old output with an
  id of its own and ``retracts`` naming the old id (a ledger entry's delta
  negated) -- and then published again, under its id, with its new value;
* an id only the old history had is retracted.

Consumers keep the last output published under an id and drop a retracted
one.  Applied so, the outputs of any arrival order leave the same *effective*
outputs (``effective``) as the events in time order would have.  The one
field that reflects arrival order is a ledger entry's ``balance``: the
member's balance in the order entries were published, which the corrections
keep exact (each correction entry carries the running balance).

Member commands, redemption results and evaluation slices belong to the
arrival-ordered kinds; a replay never withdraws or re-sends them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from config.topics import Topic
from engine.ids import derive_id
from engine.outcome import Emitted
from models.devices import DeviceActivity, RiskFlag
from models.outputs import BadgeChange, BenefitGrant, ContactChange, DeadLetter, LedgerEntry, Notification, TierChange
from models.redemptions import RedemptionResult

#: output type -> the field holding its id
ID_FIELDS: dict[type, str] = {
    LedgerEntry: "entry_id",
    TierChange: "change_id",
    BadgeChange: "change_id",
    BenefitGrant: "grant_id",
    Notification: "notification_id",
    RedemptionResult: "result_id",
    DeadLetter: "dead_letter_id",
    DeviceActivity: "activity_id",
    ContactChange: "contact_id",
    RiskFlag: "flag_id",
}
#: topics whose outputs a replay may retract and restate
CORRECTED = frozenset({Topic.POINTS_LEDGER, Topic.TIER_CHANGES, Topic.BADGE_CHANGES, Topic.BENEFIT_GRANTS,
                       Topic.NOTIFICATIONS})
#: topics whose outputs a replay only adds (a dead letter it finds, a late event's device report, a late
#: profile's contact details, which depend on nothing before them, a risk flag the replay raises -- the
#: member's state keeps it open for an operator); never withdrawn or sent again
ADDED_ONLY = frozenset({Topic.DEAD_LETTERS, Topic.DEVICE_ACTIVITY, Topic.MEMBER_CONTACTS, Topic.RISK_FLAGS})


def output_id(value: BaseModel) -> str:
    field = ID_FIELDS.get(type(value))
    return getattr(value, field) if field is not None else value.command_id  # a member command


def comparable(value: BaseModel) -> dict[str, Any]:
    """What must be equal for two outputs with one id to be the same output (not a ledger
    entry's ``balance``, which follows the order of publication, nor the rules version that
    decided it: the same output under newer rules is not withdrawn and sent again)."""
    return value.model_dump(exclude=_NOT_COMPARED_LEDGER if isinstance(value, LedgerEntry) else _NOT_COMPARED)


_NOT_COMPARED = {"rules_version"}
_NOT_COMPARED_LEDGER = {"balance", "rules_version"}


def retraction(out: Emitted) -> Emitted:
    value = out.value
    field = ID_FIELDS[type(value)]
    original = getattr(value, field)
    digest = hashlib.blake2b(value.model_dump_json().encode(), digest_size=8).hexdigest()
    update: dict[str, Any] = {field: derive_id("rt", original, digest), "retracts": original}
    if isinstance(value, LedgerEntry):
        update["delta"] = -value.delta
    return Emitted(out.topic, out.key, value.model_copy(update=update), out.partition)


def correct(old: list[Emitted], new: list[Emitted], balance: int) -> list[Emitted]:
    """What to publish so that the outputs ``old`` (published) become ``new``; ``balance`` is the
    member's balance before them, carried through the correction entries."""
    before = {output_id(out.value): out for out in old if out.topic in CORRECTED}
    after: dict[str, Emitted] = {}
    published: list[Emitted] = []
    for out in new:
        if out.topic in CORRECTED:
            after[output_id(out.value)] = out
        elif out.topic in ADDED_ONLY and output_id(out.value) not in {output_id(o.value) for o in old
                                                                       if o.topic == out.topic}:
            published.append(out)
    for key, out in after.items():
        was = before.get(key)
        if was is None:
            published.append(out)
        elif comparable(was.value) != comparable(out.value):
            published += [retraction(was), out]
    published += [retraction(out) for key, out in before.items() if key not in after]
    return _posted(published, balance)


def _posted(outputs: list[Emitted], balance: int) -> list[Emitted]:
    """The outputs with every ledger entry's balance the running balance as published."""
    posted = []
    for out in outputs:
        value = out.value
        if isinstance(value, LedgerEntry):
            balance += value.delta
            if value.balance != balance:
                out = Emitted(out.topic, out.key, value.model_copy(update={"balance": balance}), out.partition)
        posted.append(out)
    return posted


def effective(outputs: Iterable[Emitted]) -> dict[str, Emitted]:
    """Output id -> the output in force after ``outputs`` were applied in order: the last
    one published under each id, those retracted left out."""
    in_force: dict[str, Emitted] = {}
    for out in outputs:
        retracts = getattr(out.value, "retracts", None)
        if retracts is not None:
            in_force.pop(retracts, None)
        else:
            in_force[output_id(out.value)] = out
    return in_force
