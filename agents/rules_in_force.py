"""The rule book every agent and view of a worker evaluates with.

The tenants' rules -- the rules directory's, superseded by the versions
published to ``tenant-rules`` -- each carrying the business-line definitions
published so far (``engine.published_rules.LiveRules``).  The readers of
those two topics swap ``book`` whole whenever a version or definition
applies -- a book is never changed in place -- so a batch started with one
book finishes with it, and the next batch takes the new one.  ``ready`` is
set once both readers have read their topics to the end as of start-up:
before that a worker would evaluate with rules older than those in force.
"""

from __future__ import annotations

import asyncio
import logging

from config.rules import RuleBook
from engine.published_rules import LiveRules

log = logging.getLogger(__name__)

#: the topics read whole before a worker serves
SOURCES = frozenset({"business-lines", "tenant-rules"})


class RulesInForce:
    def __init__(self, book: RuleBook) -> None:
        self.live = LiveRules(book)
        self.book = book
        self.ready = asyncio.Event()
        self.unread = set(SOURCES)

    def read_to_end(self, source: str) -> None:
        """``source`` has been read up to its end as of start-up."""
        self.unread.discard(str(source))
        if not self.unread:
            self.ready.set()

    async def wait_ready(self) -> None:
        if not self.ready.is_set():
            log.info("waiting for the published rules and business-line definitions")
            await self.ready.wait()
