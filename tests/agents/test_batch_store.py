"""The members agent's warm states: what a batch may reuse from earlier batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.batch_store import BatchStore, WarmStates
from agents.evaluation import due_mark
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.clock import micros
from models.journal import MemberRecord
from models.state import MemberState, PointLot, state_json
from tables.current_event import MessageEvent
from tables.members import decode, not_due, unmarked

RULES = RuleBook.load(SHIPPED_RULES_DIR).default


class Table:
    """Stands in for the members table: counts reads."""

    def __init__(self, states: dict[bytes, MemberState]) -> None:
        self.raw = {k: state_json(v) for k, v in states.items()}
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return self.raw.get(key)


def state(member: str, growth: int = 0) -> MemberState:
    return MemberState(tenant_id="t", member_id=member, growth=growth)


def batch(table: Table, warm: WarmStates) -> BatchStore:
    store = BatchStore(table, warm)
    store.current = MessageEvent(object())  # type: ignore[arg-type]
    return store


def test_a_stored_state_is_reused_by_the_next_batch_without_a_read() -> None:
    table, warm = Table({b"a": state("a")}), WarmStates(10)
    warm.check(1)
    first = batch(table, warm)
    a = first.get(b"a")
    assert a is not None and table.reads == 1
    a.state.growth = 5
    first.put(b"a", a)
    warm.give_back(first.cache)  # after the batch was stored
    second = batch(table, warm)
    again = second.get(b"a")
    assert again is a and again.state.growth == 5 and table.reads == 1


def test_a_batch_that_fails_leaves_no_half_changed_state_behind() -> None:
    table, warm = Table({b"a": state("a", growth=1)}), WarmStates(10)
    warm.check(1)
    warm.give_back({b"a": MemberRecord(state("a", growth=1))})
    failed = batch(table, warm)
    failed.get(b"a").state.growth = 999  # changed, then the batch fails: never given back
    retry = batch(table, warm)
    assert retry.get(b"a").state.growth == 1 and table.reads == 1  # read again from the table


def test_a_new_generation_forgets_everything_and_the_size_is_bounded() -> None:
    warm = WarmStates(2)
    warm.check(1)
    warm.give_back({k: MemberRecord(state(k.decode())) for k in (b"a", b"b", b"c")})
    assert list(warm.stored) == [b"b", b"c"]  # least recently stored dropped first
    warm.check(2)  # partitions may have moved: another worker may have written them
    assert warm.take(b"c") is None
    none = WarmStates(0)
    none.give_back({b"a": MemberRecord(state("a"))})
    assert none.take(b"a") is None


T0 = datetime.fromisoformat("2026-06-01T12:00:00+08:00")
EXPIRES = datetime.fromisoformat("2026-09-01T00:00:00+08:00")


def quiet(member: str) -> MemberState:
    """A base-tier member whose only scheduled work is a lot expiring (warned 30 days ahead)."""
    lot = PointLot(lot_id="l", amount=10, earned_at=T0, expires_at=EXPIRES)
    return MemberState(tenant_id="t", member_id=member, lots=[lot], watermark=T0)


def test_an_evaluated_state_carries_its_due_mark_and_the_evaluation_passes_over_it_until_then() -> None:
    table, warm = Table({}), WarmStates(0)
    writer = batch(table, warm)
    writer.put(b"a", MemberRecord(quiet("a")))
    ((_, raw, _),) = writer.pending()
    assert unmarked(raw) == raw  # changed by events only: the next evaluation looks at it in full
    # an event later than the evaluation: marked from it
    writer.put(b"a", MemberRecord(quiet("a")), due_mark(quiet("a"), RULES, T0 - timedelta(hours=1)))
    ((key, raw, _),) = writer.pending()
    table.raw[key] = raw
    assert unmarked(raw) != raw and decode(raw) == quiet("a")  # the mark does not change the state read back
    warn_from = EXPIRES - timedelta(days=RULES.points.expiry.warn_lead_days)
    reader = batch(table, warm)
    assert reader.skips(b"a", raw, micros(T0), RULES)
    assert reader.skips(b"a", raw, micros(warn_from - timedelta(microseconds=1)), RULES)
    assert not reader.skips(b"a", raw, micros(warn_from), RULES)  # due: get() decodes what the scan read
    assert reader.get(b"a").state == quiet("a") and table.reads == 0
    assert not batch(table, warm).skips(b"a", raw, micros(T0 - timedelta(seconds=1)), RULES)  # before the mark's since
    other = type(RULES).model_validate({**RULES.model_dump(), "time_zone": "UTC"})
    assert not batch(table, warm).skips(b"a", raw, micros(T0), other)  # other rules: the mark does not hold
    changed = batch(table, warm)
    changed.put(b"a", MemberRecord(quiet("a")))  # an event earlier in the batch: the scanned value is stale
    assert not changed.skips(b"a", raw, micros(T0), RULES)


def test_a_member_evaluated_is_marked_from_the_evaluation_on_and_an_event_drops_the_mark() -> None:
    table, warm = Table({}), WarmStates(0)
    writer = batch(table, warm)
    member = quiet("a")
    member.lots[0].expires_at = None
    member.last_login_at = T0
    later = T0 + timedelta(days=3)
    writer.put(b"a", MemberRecord(member), due_mark(member, RULES, later))
    ((_, raw, _),) = writer.pending()
    passes_over = lambda moment: not_due(raw, micros(moment), RULES.fingerprint)  # noqa: E731
    assert passes_over(later) and not passes_over(T0)
    churn = T0 + timedelta(days=RULES.evaluation.nudges.churn_days)
    assert not passes_over(churn) and passes_over(churn - timedelta(microseconds=1))
    writer.put(b"a", MemberRecord(member))  # an event of the same batch changed it after the evaluation
    ((_, raw, _),) = writer.pending()
    assert unmarked(raw) == raw
