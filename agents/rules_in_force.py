"""The rule book every agent and view of a worker evaluates with.

The tenants' rules -- the rules directory's, superseded by the versions
published to ``tenant-rules`` -- each carrying the business-line definitions
published so far (``engine.published_rules.LiveRules``) and the merchants'
membership plans (``engine.plans``).  The readers of those topics swap their
part whole whenever something applies -- a book is never changed in place --
so a batch started with one book finishes with it, and the next batch takes
the new one.  ``ready`` is set once every reader has read its topic to the end
as of start-up: before that a worker would evaluate with rules older than
those in force.
"""

from __future__ import annotations

import asyncio
import logging

from config.rules import RuleBook
from engine.plans import PlanFacts, with_facts
from engine.published_rules import LiveRules

log = logging.getLogger(__name__)

#: the topics read whole before a worker serves
SOURCES = frozenset({"business-lines", "tenant-rules", "membership-plans"})


class RulesInForce:
    def __init__(self, book: RuleBook) -> None:
        self.live = LiveRules(book)
        self._rules = book
        self._plans: PlanFacts | None = None
        self._book = book
        self.ready = asyncio.Event()
        self.unread = set(SOURCES)

    @property
    def book(self) -> RuleBook:
        return self._book

    @book.setter
    def book(self, book: RuleBook) -> None:
        """The tenant rules and business lines in force (the membership plans stay)."""
        self._rules = book
        self._book = book if self._plans is None else with_facts(book, self._plans)

    @property
    def plans(self) -> PlanFacts | None:
        return self._plans

    def set_plans(self, facts: PlanFacts) -> None:
        self._plans = facts
        self._book = with_facts(self._rules, facts)

    def read_to_end(self, source: str) -> None:
        """``source`` has been read up to its end as of start-up."""
        self.unread.discard(str(source))
        if not self.unread:
            self.ready.set()

    async def wait_ready(self) -> None:
        if not self.ready.is_set():
            log.info("waiting for the published rules, business-line definitions and membership plans")
            await self.ready.wait()
