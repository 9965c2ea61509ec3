"""The rule book every agent and view of a worker evaluates with.

The tenants' rules, carrying the business-line definitions published so far
(``engine.published_lines``).  The definitions reader swaps ``book`` whole
whenever a definition applies -- a book is never changed in place -- so a
batch started with one book finishes with it, and the next batch takes the
new one.  ``ready`` is set once the reader has read its topic to the end as of
start-up: before that a worker would evaluate with definitions older than
those in force.
"""

from __future__ import annotations

import asyncio
import logging

from config.rules import RuleBook

log = logging.getLogger(__name__)


class RulesInForce:
    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.ready = asyncio.Event()

    async def wait_ready(self) -> None:
        if not self.ready.is_set():
            log.info("waiting for the business-line definitions")
            await self.ready.wait()
