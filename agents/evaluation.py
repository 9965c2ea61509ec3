"""Periodic evaluation, slice by slice, inside the members agent.

A slice evaluates up to ``slice_size`` members of the partition it arrived
on, in key order after ``after``, and ends by sending the next slice to the
same partition.  The next slice is sent with the slice's outputs, before its
state is written, so a crash replays the slice (same outputs, same ids) and
then continues; live events interleave between slices.  A member whose
stored due mark says the evaluation has nothing to do is passed over
undecoded; every member decoded is stored with a fresh mark when that lets
the next evaluation pass over it, and one with nothing due as of the slice's
moment is not evaluated at all (``engine.evaluation.evaluate_marked``; the
mark it gets is ``due_mark``'s).
"""

from __future__ import annotations

import logging
from datetime import datetime

from faust import Table
from pydantic import ValidationError

from agents.batch_store import BatchStore
from agents.metrics import Metrics
from agents.records import Record, Result, dead_letter, refused
from agents.rules_in_force import RulesInForce
from config.rules import TenantRules
from config.topics import Topic
from engine.clock import micros
from engine.evaluation import evaluate_marked, next_due, rules_for
from engine.experiments import arm_tallies
from engine.outcome import Applied, Emitted
from models.evaluation import EvaluateSlice
from models.outputs import DeadLetterReason
from models.state import MemberState
from tables.members import SEPARATOR, DueMark, due_by_mark
from tables.scan import entries_after

log = logging.getLogger(__name__)


def due_mark(state: MemberState, rules: TenantRules, evaluated_as_of: datetime) -> DueMark:
    """The mark of a state the periodic evaluation has just looked at: from then
    (or from its latest event, if later) on, under these rules."""
    since = evaluated_as_of if state.watermark is None else max(evaluated_as_of, state.watermark)
    return DueMark.of(since, next_due(state, rules, since), rules.due_fingerprint)


class SliceRunner:
    """Runs the evaluation slices that reach the members agent, over the members table."""

    def __init__(self, members: Table, rules: RulesInForce, metrics: Metrics, partitions: int) -> None:
        self.members = members
        self.rules = rules
        self.metrics = metrics
        self.partitions = partitions

    def run(self, record: Record, store: BatchStore) -> Result:
        try:
            piece = EvaluateSlice.model_validate_json(record.value or b"")
        except ValidationError as exc:
            letter, reason = refused(record, exc)
            return Result(None, [letter], reason)
        if piece.partition != record.partition:
            reason = DeadLetterReason.INVALID_EVENT
            detail = f"slice for partition {piece.partition} arrived on {record.partition}"
            return Result(None, [dead_letter(record, reason, detail)], reason)
        book = self.rules.book
        rules_of_selector = book.for_tenant(piece.tenant_id) if piece.tenant_id else book.default
        size = rules_of_selector.evaluation.slice_size
        prefix = f"{piece.tenant_id}{SEPARATOR}".encode() if piece.tenant_id else b""
        after = bytes.fromhex(piece.after) if piece.after else None
        entries = entries_after(self.members, piece.partition, self.partitions, after, size, prefix)
        outputs: list[Emitted] = []
        evaluated = skipped = 0
        as_of = micros(piece.as_of)
        sep = SEPARATOR.encode()
        rules_by_tenant: dict[bytes, TenantRules | None] = {}
        for key, raw in entries:
            tenant = key[:key.index(sep)]
            if tenant not in rules_by_tenant:
                rules_by_tenant[tenant] = rules_for(tenant.decode(), piece.tenant_id, book)
            rules = rules_by_tenant[tenant]
            if rules is None:
                continue
            try:
                if store.skips(key, raw, as_of, rules):
                    skipped += 1
                    continue
                record = store.get(key)
                if record is None:
                    continue
                before = arm_tallies(record.state)
                changed, outs, since, due = evaluate_marked(record, rules, piece.as_of, piece.evaluation_id,
                                                            due_by_mark(raw, as_of, rules.due_fingerprint))
                mark = DueMark.of(since, due, rules.due_fingerprint)
            except Exception:
                log.exception("evaluation failed for %r; its state is left as it was", key)
                store.discard(key)
                continue
            evaluated += 1
            self.metrics.experiments.counted(before, arm_tallies(record.state))  # an evaluation may enrol
            # an unchanged member is written too when its new mark lets the next evaluation pass over it
            if changed or mark.due > mark.since:
                store.put(key, record, mark=mark)
            outputs.extend(outs)
        self.metrics.members_evaluated.inc(evaluated)
        self.metrics.members_not_due.inc(skipped)
        if len(entries) == size:
            following = piece.model_copy(update={"after": entries[-1][0].hex()})
            outputs.append(Emitted(Topic.EVALUATION_SLICES, f"slice-{piece.partition}", following, piece.partition))
        else:
            log.info("evaluation %s done on partition %d", piece.evaluation_id, piece.partition)
        return Result(Applied.APPLIED, outputs)
