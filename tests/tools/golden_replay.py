"""The demo stream replayed offline, with weekly periodic evaluations: a digest of every output.

The digest pins the engine's behaviour: a change that is meant to keep it
(a restructuring, a faster state) must leave the digest as it is.  To see what
changed, dump both sides and diff them::

    python -m tests.tools.golden_replay --dump after.jsonl
    git stash; python -m tests.tools.golden_replay --dump before.jsonl; git stash pop
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO, Any

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.stream import generate
from memberflow.tools.replay import replay

START = datetime(2025, 3, 3, tzinfo=CST)
MEMBERS = 400
DAYS = 56
SEED = 11
EVALUATE_EVERY = timedelta(days=7)


def _evaluate(as_of: datetime) -> dict[str, Any]:
    return {"topic": "commands", "key": "*", "value": {"type": "evaluate", "as_of": as_of.isoformat()}}


def lines(commands: deque[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The demo stream in event-time order, an evaluation every week of event time,
    and the engine's own member commands and device reports fed back in as a worker would read them."""
    next_eval = START + EVALUATE_EVERY
    for topic, key, value in generate(MEMBERS, SEED, START, days=DAYS):
        while commands:
            yield commands.popleft()
        if isinstance(value, dict) and "occurred_at" in value:
            while datetime.fromisoformat(value["occurred_at"]) >= next_eval:
                yield _evaluate(next_eval)
                next_eval += EVALUATE_EVERY
        yield {"topic": topic, "key": key, "value": value}
    while commands:
        yield commands.popleft()
    yield _evaluate(next_eval)
    while commands:
        yield commands.popleft()


def digest(dump: IO[str] | None = None) -> tuple[int, str]:
    """(number of outputs, sha256 of ``topic TAB key TAB value-json`` lines)."""
    commands: deque[dict[str, Any]] = deque()
    sha = hashlib.sha256()
    count = 0
    for out in replay(lines(commands), RuleBook.load(SHIPPED_RULES_DIR)):
        text = out.value.model_dump_json()
        if out.topic in ("member-commands", "device-activity"):
            commands.append({"topic": out.topic, "key": out.key, "value": json.loads(text)})
        line = f"{out.topic}\t{out.key}\t{text}\n"
        sha.update(line.encode())
        count += 1
        if dump is not None:
            dump.write(line)
    return count, sha.hexdigest()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", help="write every output line to this file")
    args = parser.parse_args()
    with open(args.dump, "w", encoding="utf-8") if args.dump else open("/dev/null", "w") as fh:
        print(*digest(fh if args.dump else None))
