"""Importing members (engine/imports.py and models/imports.py): a row becomes a member with its
lots (ledger entries of rule ``import``), tier, growth and profile; the same row again is a
duplicate; a member with activity is refused whole; rows are validated with the path and why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.evaluation import evaluate_member
from models.commands import ImportMember
from models.imports import ImportRow, as_of_context, import_command_id
from models.outputs import ContactChange, LedgerKind, TierChange
from models.state import copy_state, state_json

AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)
ROW = {
    "member_id": "m1", "name": "Ann Lee", "phone": "+86 138 0000 0001", "email": "Ann@Example.com",
    "birthday": "1990-05-17", "tier": "GOLD", "tier_since": "2025-07-01T00:00:00+08:00",
    "protection_until": "2026-06-30T00:00:00+08:00", "growth": 1500,
    "lots": "120 2025-04-01T10:00:00+08:00 2027-01-01T00:00:00+08:00; 30 2025-09-01T10:00:00+08:00",
}


def command(row: dict | ImportRow, at: datetime = AS_OF) -> ImportMember:
    row = row if isinstance(row, ImportRow) else ImportRow.model_validate(row, context=as_of_context(at))
    return ImportMember(type="import_member", command_id=import_command_id(row), tenant_id=row.tenant_id,
                        member_id=row.member_id, occurred_at=at, row=row)


def test_a_row_becomes_a_member_with_its_lots_tier_growth_and_profile(base_rules, member):
    m = member(base_rules)
    out = m.apply(command(ROW))
    assert out.result == "applied"
    assert [(e.kind, e.rule, e.delta, e.balance) for e in m.ledger] == [
        (LedgerKind.EARN, "import", 120, 120), (LedgerKind.EARN, "import", 30, 150)]
    assert m.ledger[0].expires_at == datetime.fromisoformat("2027-01-01T00:00:00+08:00")
    assert m.ledger[1].expires_at is None
    assert [(lot.amount, lot.earned_at.isoformat()) for lot in m.state.lots] == [
        (120, "2025-04-01T10:00:00+08:00"), (30, "2025-09-01T10:00:00+08:00")]
    assert (m.state.tier, m.state.tier_since.isoformat(), m.state.protection_until.isoformat()) == (
        "GOLD", "2025-07-01T00:00:00+08:00", "2026-06-30T00:00:00+08:00")
    [change] = m.tier_changes
    assert (change.from_tier, change.to_tier, change.reason, change.direction) == ("NORMAL", "GOLD", "import", "up")
    assert m.grants == []  # no upgrade gift for a migrated tier
    assert (m.state.growth, m.state.lifetime_earned, str(m.state.birthday)) == (1500, 150, "1990-05-17")
    [contact] = m.of(ContactChange)
    assert (contact.name, contact.phone, contact.email) == ("Ann Lee", "+8613800000001", "ann@example.com")


def test_the_same_row_again_changes_nothing(base_rules, member):
    m = member(base_rules)
    m.apply(command(ROW))
    before = state_json(m.state)
    again = m.apply(command(ROW, datetime(2026, 3, 2, tzinfo=UTC)))  # a rerun, later: the same command id
    assert (again.result, again.outputs) == ("duplicate", []) and state_json(m.state) == before


def test_a_member_with_activity_is_refused_whole(base_rules, member):
    m = member(base_rules)
    m.login("2026-02-01T10:00:00+08:00")
    before = copy_state(m.state)
    out = m.apply(command(ROW))
    assert (out.result, out.reason, out.outputs) == ("rejected", "member_exists", [])
    assert m.state == before
    changed = m.apply(command({**ROW, "growth": 7}))  # another row for the member: refused too
    assert changed.reason == "member_exists" and m.state == before


def test_an_unknown_tier_is_refused(base_rules, member):
    m = member(base_rules)
    out = m.apply(command({**ROW, "tier": "PLATINUM"}))
    assert (out.result, out.reason, out.outputs) == ("rejected", "invalid_event", [])


def test_the_id_is_the_tenant_member_and_content():
    row = ImportRow.model_validate(ROW)
    same = ImportRow.model_validate({**ROW, "lots": [
        {"points": 120, "earned_at": "2025-04-01T10:00:00+08:00", "expires_at": "2027-01-01T00:00:00+08:00"},
        {"points": 30, "earned_at": "2025-09-01T10:00:00+08:00"}]})
    assert import_command_id(row) == import_command_id(same)
    assert import_command_id(row) != import_command_id(ImportRow.model_validate({**ROW, "growth": 1501}))
    assert import_command_id(row) != import_command_id(ImportRow.model_validate({**ROW, "tenant_id": "acme"}))


@pytest.mark.parametrize(("change", "path", "why"), [
    ({"lots": "120"}, ("lots",), "want '<points> <earned at> [<expires at>]'"),
    ({"lots": "-5 2025-04-01T10:00:00+08:00"}, ("lots", 0, "points"), "greater than or equal to 1"),
    ({"lots": "5 2025-04-01"}, ("lots", 0, "earned_at"), "timezone"),
    ({"lots": "5 2025-04-01T10:00:00+08:00 2025-03-01T10:00:00+08:00"}, ("lots", 0), "after earned_at"),
    ({"lots": "5 2025-04-01T10:00:00+08:00 2026-02-01T10:00:00+08:00"}, ("lots",), "expired before the import"),
    ({"lots": "5 2026-04-01T10:00:00+08:00"}, ("lots",), "earned after the import"),
    ({"time_zone": "Mars/Olympus"}, ("time_zone",), "unknown time zone"),
    ({"email": "nobody"}, ("email",), "email"),
    ({"growth": -1}, ("growth",), "greater than or equal to 0"),
    ({"tier": None}, (), "need a tier"),
    ({"colour": "red"}, ("colour",), "Extra inputs"),
    ({"member_id": ""}, ("member_id",), "at least 1"),
])
def test_a_bad_row_is_refused_with_the_path_and_why(change, path, why):
    with pytest.raises(ValidationError) as refused:
        ImportRow.model_validate({**ROW, **change}, context=as_of_context(AS_OF))
    error = refused.value.errors()[0]
    assert tuple(error["loc"]) == path and why in error["msg"]


def test_an_imported_tier_is_not_downgraded_before_its_protection_ends(base_rules, member):
    m = member(base_rules)
    m.apply(command({"member_id": "m1", "tier": "GOLD", "protection_until": "2026-09-01T00:00:00+08:00"}))
    changed, outputs = evaluate_member(m.state, m.rules, datetime(2026, 3, 2, tzinfo=UTC), "ev-1")
    assert changed and m.state.tier == "GOLD"
    assert m.state.downgrade_at == datetime.fromisoformat("2026-09-01T00:00:00+08:00")
    assert not [o for o in outputs if isinstance(o.value, TierChange)]
    _, outputs = evaluate_member(m.state, m.rules, datetime(2026, 9, 1, tzinfo=UTC), "ev-2")
    assert [o.value.to_tier for o in outputs if isinstance(o.value, TierChange)] and m.state.tier != "GOLD"
