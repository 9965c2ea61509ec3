"""Offline replay: the agents' evaluation code over a JSONL file, no broker (``memberflow.tools.offline``).

Each input line is ``{"topic": ..., "key": ..., "value": {...}}`` (``value`` may
also be a string holding the raw payload; an optional ``timestamp`` is when the
broker received it, in milliseconds since the epoch); each output line is
``{"topic": ..., "key": ..., "value": {...}}`` in the order the engine emitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from engine.outcome import Emitted
from memberflow.tools.offline import MemoryStore, OfflineEngine
from models.json_twins import output_json

__all__ = ["MemoryStore", "output_line", "replay", "replay_file"]


def output_line(out: Emitted) -> str:
    return json.dumps({"topic": out.topic, "key": out.key, "value": json.loads(output_json(out.value))})


def replay(
    lines: Iterable[dict], rulebook: RuleBook, max_bytes: int | None = None, store: MemoryStore | None = None
) -> Iterator[Emitted]:
    """Outputs of the lines in order; pass ``store`` to look at the final states."""
    engine = OfflineEngine(rulebook, max_bytes, store)
    for line in lines:
        yield from engine.feed(line)


def replay_file(events: Path, rules: Path | None, out: IO[str]) -> int:
    rulebook = RuleBook.from_path(rules or SHIPPED_RULES_DIR)
    with events.open(encoding="utf-8") as fh:
        lines = (json.loads(text) for text in fh if text.strip())
        for emitted in replay(lines, rulebook):
            out.write(output_line(emitted) + "\n")
    return 0
