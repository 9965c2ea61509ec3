"""Periodic evaluation, slice by slice, inside the members agent.

A slice evaluates up to ``slice_size`` members of the partition it arrived
on, in key order after ``after``, and ends by sending the next slice to the
same partition.  The next slice is sent with the slice's outputs, before its
state is written, so a crash replays the slice (same outputs, same ids) and
then continues; live events interleave between slices.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from engine.evaluation import due_at, evaluate_member, rules_for
from engine.outcome import Applied, Emitted
from engine.records import Record, Result, dead_letter
from models.evaluation import EvaluateSlice
from models.outputs import DeadLetterReason
from streams import EVALUATION_TOPIC, Topology
from tables.members import SEPARATOR
from tables.scan import keys_after

log = logging.getLogger(__name__)


class SliceRunner:
    def __init__(self, topology: Topology) -> None:
        self.t = topology

    def run(self, record: Record, store) -> Result:  # noqa: ANN001 - agents.members.BatchStore
        try:
            piece = EvaluateSlice.model_validate_json(record.value or b"")
        except ValidationError as exc:
            reason = DeadLetterReason.INVALID_EVENT
            return Result(None, [dead_letter(record, reason, str(exc.errors()[0]["msg"]))], reason)
        if piece.partition != record.partition:
            reason = DeadLetterReason.INVALID_EVENT
            detail = f"slice for partition {piece.partition} arrived on {record.partition}"
            return Result(None, [dead_letter(record, reason, detail)], reason)
        book = self.t.rulebook
        rules_of_selector = book.for_tenant(piece.tenant_id) if piece.tenant_id else book.default
        size = rules_of_selector.evaluation.slice_size
        prefix = f"{piece.tenant_id}{SEPARATOR}".encode() if piece.tenant_id else b""
        after = bytes.fromhex(piece.after) if piece.after else None
        keys = keys_after(self.t.members, piece.partition, self.t.settings.partitions, after, size, prefix)
        outputs: list[Emitted] = []
        evaluated = skipped = 0
        for key in keys:
            rules = rules_for(key.split(SEPARATOR.encode(), 1)[0].decode(), piece.tenant_id, book)
            if rules is None:
                continue
            try:
                if store.skips(key, piece.as_of, rules):
                    skipped += 1
                    continue
                state = store.get(key)
                if state is None:
                    continue
                changed, outs = evaluate_member(state, rules, piece.as_of, piece.evaluation_id)
                # an unchanged member is written too when that stores a mark passing over it next time
                remark = not changed and not due_at(state, rules, piece.as_of)
            except Exception:
                log.exception("evaluation failed for %r; its state is left as it was", key)
                store.discard(key)
                continue
            evaluated += 1
            if changed or remark:
                store.put(key, state, evaluated_as_of=piece.as_of)
            outputs.extend(outs)
        self.t.metrics.members_evaluated.inc(evaluated)
        self.t.metrics.members_not_due.inc(skipped)
        if len(keys) == size:
            following = piece.model_copy(update={"after": keys[-1].hex()})
            outputs.append(Emitted(EVALUATION_TOPIC, f"slice-{piece.partition}", following, piece.partition))
        else:
            log.info("evaluation %s done on partition %d", piece.evaluation_id, piece.partition)
        return Result(Applied.APPLIED, outputs)
