"""Member records of one batch: read once (warm, or from the table), written once."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.recent_writes import RecentWrites
from config.rules import TenantRules
from models.journal import MemberRecord
from tables.current_event import MessageEvent, make_current
from tables.members import DueMark, decode_record, encode, not_due


class WarmStates(RecentWrites[bytes, MemberRecord]):
    """Decoded records of recently written members, as stored, so the next batch
    need not decode them again.  A batch takes a state out while it works on
    it and gives it back only once it is stored, so a failed batch leaves no
    half-changed state here."""

    def take(self, key: bytes) -> MemberRecord | None:
        return self.stored.pop(key, None)

    def give_back(self, records: dict[bytes, MemberRecord | None]) -> None:
        self.keep((key, record) for key, record in records.items() if record is not None)


@dataclass
class BatchStore:
    """Member records of one batch: read once (warm or from the table), written once;
    those the periodic evaluation looked at with their due mark (``mark``)."""

    table: object
    warm: WarmStates
    current: MessageEvent | None = None
    cache: dict[bytes, MemberRecord | None] = field(default_factory=dict)
    dirty: dict[bytes, MessageEvent] = field(default_factory=dict)
    marks: dict[bytes, DueMark] = field(default_factory=dict)  # of records the evaluation changed or marked
    raw: dict[bytes, bytes] = field(default_factory=dict)  # read by a scan (``skips``), not decoded yet

    def _read(self, key: bytes) -> bytes | None:
        if key in self.raw:
            return self.raw.pop(key)
        assert self.current is not None
        make_current(self.current)
        return self.table.get(key)  # type: ignore[attr-defined]

    def get(self, key: bytes) -> MemberRecord | None:
        if key not in self.cache:
            record = self.warm.take(key)
            if record is None:
                raw = self._read(key)
                record = decode_record(raw) if raw is not None else None
            self.cache[key] = record
        return self.cache[key]

    def skips(self, key: bytes, raw: bytes, as_of: int, rules: TenantRules) -> bool:
        """The due mark of ``raw``, the member's stored value as a scan just read
        it, says evaluating it as of ``as_of`` (microseconds since the epoch)
        does nothing: pass over it without decoding it.  Otherwise ``get``
        decodes ``raw`` without reading it again."""
        if not_due(raw, as_of, rules.due_fingerprint) and key not in self.cache:
            return True
        self.raw[key] = raw
        return False

    def discard(self, key: bytes) -> None:
        """Forget a cached state that may be half-changed; it is read again if needed."""
        self.cache.pop(key, None)
        self.dirty.pop(key, None)
        self.marks.pop(key, None)

    def put(self, key: bytes, record: MemberRecord, mark: DueMark | None = None) -> None:
        """Store ``record`` at the end of the batch; with the due mark the periodic
        evaluation gave it, or none when an event changed it (the next evaluation
        then looks at it in full: that keeps the cost of a mark, tens of
        microseconds, out of the live path)."""
        assert self.current is not None
        self.cache[key] = record
        self.dirty[key] = self.current
        if mark is None:
            self.marks.pop(key, None)
        else:
            self.marks[key] = mark

    def pending(self) -> list[tuple[bytes, bytes, MessageEvent]]:
        """(key, encoded state, the message whose partition owns it) of every changed member."""
        out = []
        for key, event in self.dirty.items():
            record = self.cache[key]
            assert record is not None
            out.append((key, encode(record, self.marks.get(key)), event))
        return out
