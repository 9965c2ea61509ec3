"""Write a batch's ledger entries into the ledger table (tables/ledger.py).

Called by the members agent right after it wrote the batch's member states:
each entry gets the member's next sequence number, its row is written on the
member's own partition (bound to the member's event), and rows beyond the
tenant's ``retention.ledger_entries`` are deleted as new ones arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import repeat

from agents.kafka.changelog import DeferredTable
from agents.recent_writes import RecentWrites
from config.rules import RuleBook
from engine.outcome import Emitted
from models.json_twins import output_json
from models.outputs import LedgerEntry
from tables import ledger
from tables.current_event import MessageEvent, make_current
from tables.members import state_key

Member = tuple[str, str]  # tenant, member


class KnownHeads(RecentWrites[Member, int]):
    """The next history sequence number of recently written members, so a batch
    need not read their head rows again (``keep`` the heads a stored batch wrote)."""

    def get(self, member: Member) -> int | None:
        return self.stored.get(member)


def record_history(
    table: DeferredTable,
    rulebook: RuleBook,
    outputs: Iterable[Emitted],
    events: Mapping[bytes, MessageEvent],
    payloads: Iterable[bytes] | None = None,
    known: KnownHeads | None = None,
) -> dict[Member, int]:
    """Append the ledger entries among ``outputs``; ``events`` maps a member's
    state key to the event its state was written under.  ``payloads`` are the
    outputs' JSON as already sent (encoded here otherwise); ``known`` saves
    reading the heads of members written lately.  Returns the new next
    sequence number of every member given rows."""
    heads: dict[Member, int] = {}
    for out, payload in zip(outputs, payloads if payloads is not None else repeat(None), strict=False):
        entry = out.value
        if not isinstance(entry, LedgerEntry):
            continue
        member = (entry.tenant_id, entry.member_id)
        event = events.get(state_key(*member))
        if event is None:  # an entry always comes with a state change; nothing to write it under otherwise
            continue
        make_current(event)
        seq = heads.get(member)
        if seq is None and known is not None:
            seq = known.get(member)
        if seq is None:
            raw = table.get(ledger.head_key(*member))
            seq = int(raw) if raw else 0
        table[ledger.row_key(*member, seq)] = payload if payload is not None else output_json(entry)
        keep = rulebook.for_tenant(entry.tenant_id).retention.ledger_entries
        if seq >= keep:
            try:
                del table[ledger.row_key(*member, seq - keep)]
            except KeyError:
                pass
        heads[member] = seq + 1
    for member, seq in heads.items():
        make_current(events[state_key(*member)])
        table[ledger.head_key(*member)] = str(seq).encode()
    return heads
