"""Event time, exactly: a member's outcome does not depend on how its topics interleave.

Kafka orders a member's events within one topic, never across topics, so the
worker sees them in an order that depends on fetch timing.  ``apply_in_time``
applies an event as of its own ``occurred_at``:

* an event later than every event in the member's journal is applied at once
  and appended to the journal (the common case: a few microseconds more);
* an earlier one -- *late* -- is put in its place: the journal's events after
  it are replayed from the journal's base state with it in between, and what
  changed in their outputs is published as corrections (``engine.corrections``);
* one more than ``limits.max_lateness`` behind the member's latest event time
  is dead-lettered as ``too_late`` (never one of the engine's own member
  commands: ``NEVER_TOO_LATE``); one with an implausible time (before the
  programme started, or further ahead of the broker's receipt than
  ``limits.max_clock_skew``) as ``implausible_time``.  Nothing of either is applied.

Arrival-ordered, by design: redemption requests and gift answers (answered
against the balance at the moment they are processed, as a checkout would),
the engine's member commands (gift hand-offs, device verdicts, accepted invitations), and
the lock decisions: a malicious complaint, a malicious review, false registration information.
Each is applied when it arrives and fixes the member's history up to it
(``fix_history``), as does a periodic evaluation that acts on the member: an
event older than such a moment that arrives after it is applied after it.
Everything else is interleaving-independent.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from config.rules import TenantRules
from config.topics import MEMBER_EVENTS
from engine.apply import apply_event, apply_new, complete_event, duplicate, is_duplicate, new_member
from engine.clock import micros
from engine.corrections import correct
from engine.intake import Invalid, parse_event
from engine.outcome import Applied, Emitted, Outcome
from engine.wallet import held
from models.commands import MemberCommandBase
from models.events import Complaint, MemberEvent, Moderation, Review, Verdict, Verification, VerificationResult
from models.journal import NEW_MEMBER, Journal, Key, MemberRecord, frame, read_frame
from models.outputs import DeadLetterReason
from models.redemptions import RedemptionBase
from models.state import MemberState, copy_state, state_json, state_of_json


def _subclasses(base: type) -> set[type]:
    found = set()
    for sub in base.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


#: the order of topics between events of the same microsecond
RANK: dict[str, int] = {topic: rank for rank, topic in enumerate(MEMBER_EVENTS)}
#: each topic's name as a journal entry keeps it
TOPIC_NAMES: dict[str, bytes] = {topic: topic.encode() for topic in MEMBER_EVENTS}
#: a journal's payloads were validated on arrival; no size limit when they are read again
NO_LIMIT = 2**62


class Arrival(NamedTuple):
    """How an event reached the engine: its topic, its payload as it arrived, and when the
    broker received it, in milliseconds since the epoch (None when nobody knows: a file
    replayed offline).  A tuple: every event makes one."""

    topic: str
    payload: bytes
    received_ms: int | None = None


#: the engine's own member commands: each follows an event the engine already accepted (a device's verdict
#: on a registration, a gift handed over, an invitation accepted), so none is ever too late -- while a worker
#: catches up a backlog the member's topics run ahead of the agents that send them
NEVER_TOO_LATE: frozenset[type] = frozenset(_subclasses(MemberCommandBase))
#: event types applied in the order they arrive
ARRIVAL_ORDERED: frozenset[type] = frozenset(_subclasses(RedemptionBase)) | NEVER_TOO_LATE
#: event types applied in the order they arrive when their outcome says so: a complaint whose verdict is
#: malicious, a review moderated malicious, a verification that found false information
ARRIVAL_ORDERED_WHEN: dict[type, Callable[[Any], bool]] = {
    Complaint: lambda event: event.verdict is Verdict.MALICIOUS,
    Review: lambda event: event.moderation is Moderation.MALICIOUS,
    Verification: lambda event: event.result is VerificationResult.FALSE_INFORMATION,
}
#: the types of the events ``arrival_ordered`` may say are (the others are time-ordered: one set
#: lookup on the hot path)
MAYBE_ARRIVAL_ORDERED: frozenset[type] = ARRIVAL_ORDERED | ARRIVAL_ORDERED_WHEN.keys()


def arrival_ordered(event: MemberEvent) -> bool:
    kind = type(event)
    if kind in ARRIVAL_ORDERED:
        return True
    when = ARRIVAL_ORDERED_WHEN.get(kind)
    return when is not None and when(event)


def implausible(occurred_at: datetime, occurred_micros: int, received_ms: int | None,
                rules: TenantRules) -> str:
    """Why an event time is implausible (``apply_in_time`` asks only when it is)."""
    limits = rules.limits
    _, start, skew, _ = rules.event_time
    if occurred_micros < start:
        return f"occurred_at {occurred_at.isoformat()} is before the programme started ({limits.programme_start})"
    assert received_ms is not None and occurred_micros > received_ms * 1000 + skew
    received = datetime.fromtimestamp(received_ms / 1000, UTC).isoformat()
    return (f"occurred_at {occurred_at.isoformat()} is more than {limits.max_clock_skew} after the broker "
            f"received the event ({received})")


def apply_in_time(
    record: MemberRecord | None, event: MemberEvent, arrival: Arrival, rules: TenantRules
) -> tuple[MemberRecord, Outcome]:
    """Apply ``event`` to the member as of its event time; ``record`` is changed in place
    (or created) and returned with the outcome.  Every event pays for what is written here, so
    the common case -- an event after every event the journal keeps -- is written out in full."""
    event = complete_event(event, rules)
    topic, payload, received = arrival
    created = record is None
    if created:
        record = MemberRecord(new_member(event.tenant_id, event.member_id, rules))
    state, moment = record.state, event.occurred_at
    occurred = micros(moment)
    lateness, start, skew, bound = rules.event_time
    if occurred < start or received is not None and occurred > received * 1000 + skew:
        why = implausible(moment, occurred, received, rules)
        return record, Outcome(state, Applied.REJECTED, reason=DeadLetterReason.IMPLAUSIBLE_TIME, detail=why)
    if is_duplicate(state, event, rules):
        return record, duplicate(state, event)  # the duplicate's answer, if it has one
    latest = record.latest_micros if record.latest_at is state.watermark else _latest(record)
    if occurred < latest - lateness and type(event) not in NEVER_TOO_LATE:
        detail = (f"occurred_at {moment.isoformat()} is more than {rules.limits.max_lateness} behind "
                  f"the member's latest event time ({state.watermark.isoformat() if state.watermark else ''})")
        return record, Outcome(state, Applied.REJECTED, reason=DeadLetterReason.TOO_LATE, detail=detail)
    if type(event) in MAYBE_ARRIVAL_ORDERED and arrival_ordered(event):
        outcome = apply_new(state, event, rules)
        if outcome.result is Applied.APPLIED:
            fix_history(record)
        return record, outcome
    journal = record.journal
    rank, seq = RANK[topic], 0
    if journal.newest >= occurred:  # not after every event kept: seldom
        seq = _seq(journal, occurred, rank)
        if (occurred, rank, seq) < journal.last_key():
            key = (occurred, rank, seq)
            return record, _rewind(record, key, frame(key, topic, payload), event, rules)
    # After every event kept: apply it and add it at the end.
    base, stored = None, record.stored_json
    if journal.newest < occurred - lateness:  # no late event can go before any kept (or none are kept)
        base = NEW_MEMBER if created else stored if stored is not None else state_json(state)
    elif stored is not None and journal.count >= bound // 2:
        _checkpoint(journal, stored, lateness)
    outcome = apply_new(state, event, rules)
    if outcome.result is not Applied.APPLIED:
        return record, outcome
    if base is not None:
        journal.rebase(base)
    journal.add(occurred, rank, seq, TOPIC_NAMES[topic], payload)
    record.stored_json = None
    if state.watermark is moment:
        record.latest_at, record.latest_micros, latest = moment, occurred, occurred
    points = journal.checkpoints
    if points or journal.count > bound:  # else nothing can fold: the common case
        horizon = latest - lateness
        if points and points[0][0][0] < horizon or journal.count > bound and _replays(
                bisect_left(journal.keys, (horizon,)), journal.count, bool(points), bound):
            fold(record, rules)  # it has something to fold
    return record, outcome


def _latest(record: MemberRecord) -> int:
    """The member's latest event time in microseconds (0: none yet), worked out once per watermark."""
    watermark = record.state.watermark
    if watermark is None:
        return 0
    if record.latest_at is not watermark:
        record.latest_at, record.latest_micros = watermark, micros(watermark)
    return record.latest_micros


def fix_history(record: MemberRecord) -> None:
    """Nothing before now is replayed again: the state is the journal's new base."""
    record.journal.rebase(None)
    record.stored_json = None


def _checkpoint(journal: Journal, stored_json: bytes, lateness: int) -> None:
    """Keep ``stored_json`` -- the state after the journal's last entry, as stored -- as a base to
    fold to later, when the last one kept is half the allowed lateness older.  Only a journal of
    at least half ``retention.journal_entries`` keeps them (one that folds): a few kilobytes each,
    at most three."""
    points = journal.checkpoints
    if points and points[-1][0][0] > journal.newest - lateness // 2:
        return
    last = journal.last_key()
    if not points or points[-1][0] < last:
        points.append((last, stored_json))


def _rewind(record: MemberRecord, key: Key, framed: bytes, event: MemberEvent, rules: TenantRules) -> Outcome:
    """Put a late event in its place: replay the events after it with it before them."""
    journal = record.journal
    at = bisect_right(journal.keys, key)
    frames = journal.frames
    before, after = frames[:at], frames[at:]
    state, _ = replay(record, before, rules)
    memo = journal.outputs
    if all(k in memo for k in journal.keys[at:]):  # what they published, as this worker last worked it out
        published = [out for k in journal.keys[at:] for out in memo[k]]
    else:
        _, published = replay_onto(copy_state(state), after, rules)
    late = apply_new(state, event, rules) if not is_duplicate(state, event, rules) else duplicate(state, event)
    if late.result is not Applied.APPLIED:
        return Outcome(record.state, late.result, [] if late.result is Applied.REJECTED else late.outputs,
                       late.reason, late.detail)
    remembered: dict[Key, list[Emitted]] = {key: late.outputs}
    _, replayed = replay_onto(state, after, rules, remember=(journal.keys[at:], remembered))
    corrections = correct(published, late.outputs + replayed, held(record.state))
    journal.insert(at, key, framed)
    memo.update(remembered)
    record.state = state
    record.stored_json = None
    if len(journal) > rules.retention.journal_entries:
        fold(record, rules)
    return Outcome(state, Applied.REWOUND, corrections)


def fold(record: MemberRecord, rules: TenantRules) -> None:
    """Fold the journal's events older than ``max_lateness`` behind the member's latest
    event time into its base -- no late event can be put before them any more:

    * all of them, when all have aged so (dropping the journal costs nothing);
    * up to the latest checkpoint that has aged so (its state is the new base: nothing
      is applied again);
    * else by replaying them to the new base, when ``_replays`` says so."""
    journal, state = record.journal, record.state
    if not journal.count or state.watermark is None:
        return
    horizon = _latest(record) - rules.event_time.lateness
    keys, points = journal.keys, journal.checkpoints
    if keys[-1][0] < horizon:
        journal.rebase(None)
        return
    aged = 0
    while aged < len(points) and points[aged][0][0] < horizon:
        aged += 1
    if aged:
        at, base = points[aged - 1]
        journal.rebase(base, bisect_right(keys, at))
        return
    expired = bisect_left(keys, (horizon,))
    if _replays(expired, len(keys), bool(points), rules.retention.journal_entries):
        folded, _ = replay(record, journal.frames[:expired], rules)
        journal.rebase(state_json(folded), expired)


def _replays(expired: int, entries: int, checkpoints: bool, bound: int) -> bool:
    """Whether to fold ``expired`` aged entries of ``entries`` by replaying them: at least ``bound``
    (``retention.journal_entries``) of them -- replaying them costs what applying them did, once
    for that many events; folding fewer, a decode and an encode of the state each time, cost more
    than the events themselves -- and, while the journal holds checkpoints, half of it: its
    checkpoints fold it before half of it has aged, unless the member was read back from the table
    since they were kept (a member read back for every event keeps none long enough)."""
    return expired >= bound and (not checkpoints or 2 * expired >= entries)


def _seq(journal: Journal, occurred: int, rank: int) -> int:
    """The number of an event of the topic of ``rank`` at ``occurred`` among the journal's events of that
    topic and microsecond: the topic's own order puts those in order (the last part of its key)."""
    keys, seq = journal.keys, 0
    at = bisect_right(keys, (occurred, len(RANK)))
    while at and keys[at - 1][0] == occurred:
        at -= 1
        if keys[at][1] == rank:
            seq = max(seq, keys[at][2] + 1)
    return seq


def parse(framed: bytes) -> MemberEvent:
    _, topic, payload, _ = read_frame(framed)
    event = parse_event(topic, payload, NO_LIMIT)
    assert not isinstance(event, Invalid), f"journal entry no longer valid: {event}"
    return event


def replay(record: MemberRecord, frames: list[bytes], rules: TenantRules) -> tuple[MemberState, list[Emitted]]:
    """The state after the journal entries ``frames`` applied in order to the record's base state, with
    their outputs."""
    base = record.journal.base
    assert base is not None  # a journal with entries has its base
    state = record.state
    start = new_member(state.tenant_id, state.member_id, rules) if base == NEW_MEMBER else \
        state_of_json(base)
    return replay_onto(start, frames, rules)


def replay_onto(state: MemberState, frames: list[bytes], rules: TenantRules, *,
                remember: tuple[list[Key], dict[Key, list[Emitted]]] | None = None) -> tuple[
        MemberState, list[Emitted]]:
    """``state`` (changed in place) after the journal entries ``frames`` applied in order, with
    their outputs; ``remember`` = (their keys, a memo): each entry's outputs go into the memo."""
    outputs: list[Emitted] = []
    for i, framed in enumerate(frames):
        produced = apply_event(state, parse(framed), rules).outputs
        if remember is not None:
            keys, memo = remember
            memo[keys[i]] = produced
        outputs += produced
    return state, outputs
