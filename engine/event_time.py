"""Event time, exactly: a member's outcome does not depend on how its topics interleave.

Kafka orders a member's events within one topic, never across topics, so the
worker sees them in an order that depends on fetch timing.  ``apply_in_time``
applies an event as of its own ``occurred_at``:

* an event later than every event in the member's journal is applied at once
  (the common case, and as cheap as before) and appended to the journal;
* an earlier one -- *late* -- is put in its place: the journal's events after
  it are replayed from the journal's base state with it in between, and what
  changed in their outputs is published as corrections (``engine.corrections``);
* one more than ``limits.max_lateness`` behind the member's latest event time
  is dead-lettered as ``too_late``; one with an implausible time (before the
  programme started, or further ahead of the broker's receipt than
  ``limits.max_clock_skew``) as ``implausible_time``.  Nothing of either is applied.

Arrival-ordered, by design: redemption requests and gift answers (answered
against the balance at the moment they are processed, as a checkout would),
the engine's gift hand-offs, and the lock decision of a malicious complaint.
Each is applied when it arrives and fixes the member's history up to it
(``fix_history``), as does a periodic evaluation that acts on the member: an
event older than such a moment that arrives after it is applied after it.
Everything else is interleaving-independent.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import datetime

from config.rules import TenantRules
from config.topics import MEMBER_EVENTS
from engine.apply import apply_event, complete_event, is_duplicate, new_member
from engine.clock import micros
from engine.corrections import correct
from engine.intake import Invalid, parse_event
from engine.outcome import Applied, Emitted, Outcome
from engine.wallet import held
from models.commands import MemberCommandBase
from models.events import Complaint, MemberEvent, Verdict
from models.journal import JournalEntry, MemberRecord
from models.outputs import DeadLetterReason
from models.redemptions import RedemptionBase
from models.state import MemberState

#: the order of topics between events of the same microsecond
RANK: dict[str, int] = {topic: rank for rank, topic in enumerate(MEMBER_EVENTS)}
#: a journal's payloads were validated on arrival; no size limit when they are read again
NO_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class Arrival:
    """How an event reached the engine: its topic, its payload as it arrived, and
    when the broker received it (None when nobody knows: a file replayed offline)."""

    topic: str
    payload: bytes
    received_at: datetime | None = None


def arrival_ordered(event: MemberEvent) -> bool:
    if isinstance(event, RedemptionBase | MemberCommandBase):
        return True
    return isinstance(event, Complaint) and event.verdict is Verdict.MALICIOUS


def implausible(occurred_at: datetime, received_at: datetime | None, rules: TenantRules) -> str | None:
    limits = rules.limits
    if occurred_at < limits.programme_start:
        return f"occurred_at {occurred_at.isoformat()} is before the programme started ({limits.programme_start})"
    if received_at is not None and occurred_at > received_at + limits.max_clock_skew:
        return (f"occurred_at {occurred_at.isoformat()} is more than {limits.max_clock_skew} after the broker "
                f"received the event ({received_at.isoformat()})")
    return None


def apply_in_time(
    record: MemberRecord | None, event: MemberEvent, arrival: Arrival, rules: TenantRules
) -> tuple[MemberRecord, Outcome]:
    """Apply ``event`` to the member as of its event time; ``record`` is changed in place
    (or created) and returned with the outcome."""
    event = complete_event(event, rules)
    if record is None:
        record = MemberRecord(new_member(event.tenant_id, event.member_id, rules))
    state = record.state
    why = implausible(event.occurred_at, arrival.received_at, rules)
    if why is not None:
        return record, Outcome(state, Applied.REJECTED, reason=DeadLetterReason.IMPLAUSIBLE_TIME, detail=why)
    if is_duplicate(state, event, rules):
        return record, apply_event(state, event, rules)  # the duplicate's answer, if it has one
    lateness = rules.limits.max_lateness
    if state.watermark is not None and event.occurred_at < state.watermark - lateness:
        detail = (f"occurred_at {event.occurred_at.isoformat()} is more than {lateness} behind the member's "
                  f"latest event time ({state.watermark.isoformat()})")
        return record, Outcome(state, Applied.REJECTED, reason=DeadLetterReason.TOO_LATE, detail=detail)
    if arrival_ordered(event):
        outcome = apply_event(state, event, rules)
        if outcome.result is Applied.APPLIED:
            fix_history(record)
        return record, outcome
    journal = record.journal
    entry = JournalEntry((micros(event.occurred_at), RANK[arrival.topic], journal.seq.get(arrival.topic, 0)),
                         arrival.topic, arrival.payload)
    if not journal.entries or entry.key > journal.entries[-1].key:
        return record, _append(record, entry, event, rules)
    return record, _rewind(record, entry, event, rules)


def fix_history(record: MemberRecord) -> None:
    """Nothing before now is replayed again: the state is the journal's new base."""
    record.journal.base = None
    record.journal.entries = []
    record.stored_json = None


def _append(record: MemberRecord, entry: JournalEntry, event: MemberEvent, rules: TenantRules) -> Outcome:
    journal, state = record.journal, record.state
    horizon = micros(max(state.watermark or event.occurred_at, event.occurred_at) - rules.limits.max_lateness)
    if journal.entries and journal.entries[-1].micros < horizon:
        journal.base, journal.entries = None, []  # no late event can go before any of them any more
    base = None
    if not journal.entries:
        base = record.stored_json if record.stored_json is not None else state.model_dump_json().encode()
    outcome = apply_event(state, event, rules)
    if outcome.result is Applied.APPLIED:
        if base is not None:
            journal.base = base
        journal.entries.append(entry)
        journal.seq[entry.topic] = entry.key[2] + 1
        record.stored_json = None
        if len(journal.entries) > rules.retention.journal_entries:
            fold(record, rules)
    return outcome


def _rewind(record: MemberRecord, entry: JournalEntry, event: MemberEvent, rules: TenantRules) -> Outcome:
    """Put a late event in its place: replay the events after it with it before them."""
    journal = record.journal
    assert journal.base is not None  # a journal with entries has its base
    at = next(i for i, e in enumerate(journal.entries) if e.key > entry.key)
    before, after = journal.entries[:at], journal.entries[at:]
    state, _, _ = replay(journal.base, before, rules)
    old_state = MemberState.model_validate_json(state.model_dump_json())
    _, published, _ = replay_onto(old_state, after, rules)
    late = apply_event(state, event, rules)
    if late.result is not Applied.APPLIED:
        return Outcome(record.state, late.result, [] if late.result is Applied.REJECTED else late.outputs,
                       late.reason, late.detail)
    _, replayed, _ = replay_onto(state, after, rules)
    corrections = correct(published, late.outputs + replayed, held(record.state))
    insort(journal.entries, entry, key=lambda e: e.key)
    journal.seq[entry.topic] = entry.key[2] + 1
    record.state = state
    record.stored_json = None
    if len(journal.entries) > rules.retention.journal_entries:
        fold(record, rules)
    return Outcome(state, Applied.REWOUND, corrections)


def fold(record: MemberRecord, rules: TenantRules) -> None:
    """Fold the journal's events older than ``max_lateness`` behind the member's latest
    event time into its base: no late event can be put before them any more."""
    journal, state = record.journal, record.state
    if not journal.entries or state.watermark is None:
        return
    horizon = micros(state.watermark - rules.limits.max_lateness)
    expired = sum(1 for e in journal.entries if e.micros < horizon)
    if expired == len(journal.entries):
        journal.base, journal.entries = None, []
    elif expired:
        assert journal.base is not None
        folded, _, _ = replay(journal.base, journal.entries[:expired], rules)
        journal.base = folded.model_dump_json().encode()
        journal.entries = journal.entries[expired:]


def parse(entry: JournalEntry) -> MemberEvent:
    event = parse_event(entry.topic, entry.payload, NO_LIMIT)
    assert not isinstance(event, Invalid), f"journal entry no longer valid: {event}"
    return event


def replay(base: bytes, entries: list[JournalEntry], rules: TenantRules) -> tuple[MemberState, list[Emitted],
                                                                                   list[Applied]]:
    """The state after ``entries`` applied in order to the base state, with their outputs."""
    return replay_onto(MemberState.model_validate_json(base), entries, rules)


def replay_onto(state: MemberState, entries: list[JournalEntry], rules: TenantRules) -> tuple[
        MemberState, list[Emitted], list[Applied]]:
    outputs: list[Emitted] = []
    results: list[Applied] = []
    for entry in entries:
        outcome = apply_event(state, parse(entry), rules)
        outputs += outcome.outputs
        results.append(outcome.result)
    return state, outputs, results

