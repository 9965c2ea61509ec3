"""Applying a member imported from a previous system (``ImportMember``, models/imports.py).

An import only creates members: a member with any activity already (an event
or command applied, so ``watermark`` is set) is refused with ``member_exists``
and nothing of the row is applied -- so points migrated once are never added to
points the member earned here, and importing a file again changes nothing (a
member imported before is a duplicate by its command id, or has activity).

For a new member, in this order and all as of the command's ``occurred_at``:

* profile: birthday and time zone kept; name, phone and email published on
  ``member-contacts`` (engine.contacts);
* tier: set as given, with ``tier_since`` (default: the import's moment) and
  ``protection_until``; a tier above the base is a ``tier-changes`` output with
  reason and metric ``import``; no upgrade gift (it was the previous system's
  to give);
* lots: each one a lot with its own earn and expiry times and a ledger entry
  of kind ``earn``, rule ``import`` (counted in ``lifetime_earned``);
* growth: the member's growth value.
"""

from __future__ import annotations

from decimal import Decimal

from engine.contacts import contact_change
from engine.outcome import Reject
from engine.step import Step
from engine.wallet import add_lot, held
from models.commands import ImportMember
from models.fields import fixed_offset
from models.outputs import DeadLetterReason, LedgerKind
from models.state import PointLot

RULE = "import"


def apply_import(step: Step, command: ImportMember) -> None:
    state, rules, row = step.state, step.rules, command.row
    if state.watermark is not None:
        raise Reject(DeadLetterReason.MEMBER_EXISTS, "the member has activity already; an import only creates "
                                                     "members")
    if row.tier is not None and row.tier not in rules.tiers.ranks_by_id:
        raise Reject(DeadLetterReason.INVALID_EVENT, f"unknown tier {row.tier!r}")
    if row.birthday is not None:
        state.birthday = row.birthday
    if row.time_zone is not None:
        state.time_zone = row.time_zone
    contact_change(step, row.name, row.phone, row.email)
    if row.tier is not None and row.tier != state.tier:
        previous = state.tier
        state.tier = row.tier
        state.tier_since = fixed_offset(row.tier_since or step.occurred_at)
        state.protection_until = fixed_offset(row.protection_until) if row.protection_until else None
        up = rules.tiers.rank(row.tier) > rules.tiers.rank(previous)
        step.tier_change(previous, row.tier, up, RULE, RULE, Decimal(0))
    for seq, lot in enumerate(sorted(row.lots, key=lambda lot: lot.earned_at)):
        earned_at = fixed_offset(lot.earned_at)
        expires = fixed_offset(lot.expires_at) if lot.expires_at is not None else None
        add_lot(state, PointLot(lot_id=step._id("lot", RULE, seq), amount=lot.points, earned_at=earned_at,
                                expires_at=expires))
        state.lifetime_earned += lot.points
        step.ledger(LedgerKind.EARN, RULE, lot.points, held(state), expires_at=expires, seq=seq)
    state.growth += row.growth
