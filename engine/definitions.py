"""One ``business-lines`` record: validated, and dead-lettered when invalid.

Shared by the workers (:mod:`agents.business_lines`) and the offline replay,
so both dead-letter the same definitions with the same ids and details.
"""

from __future__ import annotations

from engine.lines import LiveLines, Offer, Verdict, parse_definition
from engine.outcome import Emitted
from engine.records import Record, dead_letter
from models.outputs import DeadLetterReason


def invalid_definition(record: Record, detail: str) -> Emitted:
    return dead_letter(record, DeadLetterReason.INVALID_DEFINITION, detail)


def check_definition(record: Record, max_bytes: int) -> Emitted | None:
    """The dead letter of an invalid definition, or None when it is valid."""
    parsed = parse_definition(record.value, max_bytes)
    return invalid_definition(record, parsed) if isinstance(parsed, str) else None


def offer_record(record: Record, live: LiveLines, max_bytes: int) -> tuple[Offer, list[Emitted]]:
    """Fold one record into ``live``; the outputs are its dead letter, if any."""
    offer = live.offer(record.value, max_bytes)
    return offer, [invalid_definition(record, offer.detail)] if offer.verdict is Verdict.INVALID else []
