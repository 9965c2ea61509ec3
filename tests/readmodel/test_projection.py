"""The projection on SQLite and PostgreSQL: the tables hold the outputs in force (upserts by
id, retractions undone), a redelivery changes nothing, members are summarised from the
changelog, a tombstone removes a member, positions advance with the rows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from config.topics import Topic
from engine.corrections import retraction
from memberflow.readmodel import projection, schema
from memberflow.readmodel.database import VERSION_KEY, positions, prepare
from memberflow.readmodel.projection import Projection, Record
from models.commands import TierOverride
from models.outputs import Notification, NotificationKind
from tests.engine.fixtures import Member
from tests.readmodel.fixtures import CHANGELOG, changelog, dump, in_force, rules, stream

NOW = datetime(2025, 3, 24, tzinfo=UTC)


def project(db: sa.Engine, records) -> int:
    with db.begin() as conn:
        return Projection(rules(), now=lambda: NOW).apply(conn, records)


def test_the_stream_has_corrections():
    outputs, _ = stream()
    assert {o.topic for o in outputs if getattr(o.value, "retracts", None)} >= {Topic.TIER_CHANGES,
                                                                               Topic.BENEFIT_GRANTS}


def test_a_retraction_deletes_the_entry_and_a_restatement_brings_it_back(db):
    outputs, records = stream()
    project(db, records)
    entry = next(o for o in outputs if o.topic == Topic.POINTS_LEDGER)
    withdrawn = retraction(entry)
    base = records[-1].offset

    def ledger_record(offset: int, value) -> Record:
        return Record(Topic.POINTS_LEDGER, Topic.POINTS_LEDGER, 0, base + offset, entry.key.encode(),
                      value.model_dump_json().encode(), 0)

    def present() -> bool:
        with db.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).where(schema.ledger.c.entry_id == entry.value.entry_id)) == 1

    assert present()
    project(db, [ledger_record(1, withdrawn.value)])
    assert not present()
    project(db, [ledger_record(1, withdrawn.value)])  # redelivered
    assert not present()
    project(db, [ledger_record(2, entry.value.model_copy(update={"delta": 7}))])
    assert present()
    project(db, [ledger_record(3, withdrawn.value), ledger_record(4, entry.value)])  # one batch: the last wins
    assert present()


def test_the_ledger_holds_the_entries_in_force(db):
    _, records = stream()
    project(db, records)
    expected = in_force(Topic.POINTS_LEDGER)
    with db.connect() as conn:
        rows = {r.entry_id: r for r in conn.execute(sa.select(schema.ledger))}
    assert rows.keys() == expected.keys()
    for entry_id, entry in expected.items():
        row = rows[entry_id]
        assert (row.member_id, row.kind, row.rule, row.delta, row.balance) == (
            entry.member_id, entry.kind.value, entry.rule, entry.delta, entry.balance)
        assert row.occurred_at.replace(tzinfo=UTC) == entry.occurred_at.astimezone(UTC)


def test_each_output_table_holds_the_outputs_in_force(db):
    _, records = stream()
    project(db, records)
    with db.connect() as conn:
        for topic, table, id_column in ((Topic.BENEFIT_GRANTS, schema.grants, "grant_id"),
                                        (Topic.TIER_CHANGES, schema.tier_changes, "change_id"),
                                        (Topic.REDEMPTION_RESULTS, schema.redemptions, "result_id"),
                                        (Topic.DEAD_LETTERS, schema.dead_letters, "dead_letter_id")):
            ids = set(conn.scalars(sa.select(table.c[id_column])))
            assert ids == set(in_force(topic)), topic
            assert ids, topic


def test_account_changes_keep_status_changes_and_tier_overrides_of_the_notifications(db):
    m = Member(rules().default)
    m.complain("malicious", "2026-03-01T12:00:00+08:00")  # no points to cover it: locked
    m.pay("o1", "30", "2026-03-02T12:00:00+08:00")
    m.apply(TierOverride(type="tier_override", command_id="oc-1", member_id="m1", reason="VIP", request_id="q1",
                         occurred_at=datetime(2026, 3, 3, tzinfo=UTC), actor="t:ann", tier="GOLD",
                         until=datetime(2026, 6, 1, tzinfo=UTC)))
    other = Notification(tenant_id="default", member_id="m1", occurred_at=NOW, cause_event_id="e9",
                         notification_id="nt-9", message="nudge", kind=NotificationKind.NEXT_TIER_NUDGE)
    notes = [*m.notifications, other]
    assert {n.kind for n in m.notifications} == {NotificationKind.ACCOUNT_STATUS, NotificationKind.TIER_OVERRIDE}
    project(db, [Record("notifications", "notifications", 0, i, b"m1", n.model_dump_json().encode(), 0)
                 for i, n in enumerate(notes)])
    with db.connect() as conn:
        rows = conn.execute(sa.select(schema.account_changes).order_by(schema.account_changes.c.kind)).all()
    assert [(r.kind, r.status, r.tier, r.previous) for r in rows] == [
        ("account_status", "locked", None, None), ("tier_override", None, "GOLD", "NORMAL")]
    assert rows[0].reason.startswith("account locked: complaint") and rows[1].operator == "t:ann"
    assert other.notification_id not in {r.notification_id for r in rows}


def test_a_redelivery_or_a_batch_at_a_time_changes_nothing(db):
    _, records = stream()
    project(db, records)
    once = dump(db)
    project(db, records)
    assert dump(db) == once
    prepare(db, fresh=True)
    for start in range(0, len(records), 50):
        project(db, records[start:start + 50])
    assert dump(db) == once


def test_members_are_summarised_from_the_changelog(db):
    _, records = stream()
    project(db, records)
    with db.connect() as conn:
        members = {r.member_id: r for r in conn.execute(sa.select(schema.members))}
        by_member = dict(conn.execute(sa.select(schema.ledger.c.member_id, sa.func.sum(schema.ledger.c.delta))
                                      .group_by(schema.ledger.c.member_id)).all())
    assert len(members) >= 50
    for member_id, row in members.items():
        assert row.page["member_id"] == member_id
        assert row.balance == row.page["points"]["balance"] == row.spendable + row.pending
        assert row.tier == row.page["tier"]
        assert row.joined_at is not None and row.joined_at <= row.last_event_at
        # the ledger in force adds up to what the member holds (less what is owed)
        assert by_member.get(member_id, 0) == row.balance - row.debt, member_id


def test_a_tombstone_removes_the_member(db):
    _, records = stream()
    project(db, records)
    key = records[-1].key
    project(db, [changelog(records[-1].offset + 1, key, None)])
    with db.connect() as conn:
        keys = {f"{r.tenant_id}\x1f{r.member_id}".encode() for r in conn.execute(sa.select(schema.members))}
    assert key not in keys and keys


def test_a_member_changed_many_times_in_one_batch_is_summarised_once_from_its_last_state(db, monkeypatch):
    """A projector behind the workers fetches many states of one member at once: only the last is
    summarised (the row holds the latest state), so catching up costs less per record."""
    _, records = stream()
    members = [r for r in records if r.topic != Topic.POINTS_LEDGER and r.value and r.physical == CHANGELOG]
    first, second = members[0], members[1]
    summarised: list[str] = []
    real = projection.member_summary

    def counted(state, rules, as_of):
        summarised.append(state.member_id)
        return real(state, rules, as_of)

    monkeypatch.setattr(projection, "member_summary", counted)
    # the first member: an older state of the second member's, then a tombstone, then its own state
    history = [changelog(0, first.key, second.value), changelog(1, first.key, None),
               changelog(2, first.key, first.value), changelog(3, second.key, second.value),
               changelog(4, second.key, None)]
    project(db, history)
    with db.connect() as conn:
        rows = {r.member_id: r for r in conn.execute(sa.select(schema.members))}
    first_id = first.key.decode().partition("\x1f")[2]
    assert summarised == [first_id]  # once, the last state; the second member's last record is a tombstone
    assert list(rows) == [first_id] and rows[first_id].page["member_id"] == first_id
    assert positions(db)[(CHANGELOG, 0)] == 5


def test_a_changelog_record_that_is_no_member_is_passed_over(db):
    project(db, [changelog(0, b"\x00memberflow:end-of-changelog", b"")])
    assert not dump(db)["members"]
    assert positions(db)[(CHANGELOG, 0)] == 1


def test_positions_advance_with_the_rows(db):
    _, records = stream()
    project(db, records[:100])
    last = max(r.offset for r in records[:100] if r.topic == Topic.POINTS_LEDGER)
    assert positions(db)[(Topic.POINTS_LEDGER.value, 0)] == last + 1
    project(db, records)
    assert positions(db)[(CHANGELOG, 0)] == records[-1].offset + 1


def test_another_projection_version_rebuilds_but_keeps_the_tokens(db):
    _, records = stream()
    project(db, records)
    with db.begin() as conn:
        conn.execute(sa.insert(schema.api_tokens).values(token_id="t1", secret_hash="x", tenant_id=None,
                                                         role="admin", name="first", created_at=NOW))
        conn.execute(sa.update(schema.readmodel_meta).where(schema.readmodel_meta.c.key == VERSION_KEY)
                     .values(value="0"))
    assert prepare(db) is True
    assert positions(db) == {}
    assert not any(dump(db)[t.name] for t in schema.PROJECTION if t is not schema.readmodel_meta)
    with db.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.api_tokens)) == 1
    assert prepare(db) is False
