"""When the periodic evaluation runs in a simulation: each rule set's cron schedule, in event time."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime

from croniter import croniter

from config.rules import RuleBook, TenantRules
from models.evaluation import EvaluateCommand

DAILY = "0 0 * * *"


class Schedule:
    """The evaluation commands of a rule book from its first event on: one cron per selector
    (every default-rules tenant, and each tenant with its own file), as the leader's crontab
    issues them (``agents.commands``), but at moments of event time."""

    def __init__(self, rulebook: RuleBook, daily: bool = False) -> None:
        self.selectors: list[tuple[str | None, TenantRules]] = [(None, rulebook.default), *rulebook.tenants.items()]
        self.daily = daily
        self._heap: list[tuple[datetime, int, croniter]] = []

    def _cron(self, rules: TenantRules, start: datetime) -> croniter:
        return croniter(DAILY if self.daily else rules.evaluation.schedule, start.astimezone(rules.tz))

    def start(self, first: datetime) -> None:
        """Schedule from ``first`` (the first event's time) on: moments after it."""
        self._heap = []
        for index, (_, rules) in enumerate(self.selectors):
            cron = self._cron(rules, first)
            self._heap.append((cron.get_next(datetime), index, cron))
        heapq.heapify(self._heap)

    @property
    def started(self) -> bool:
        return bool(self._heap)

    @property
    def next_moment(self) -> datetime:
        return self._heap[0][0]

    def due(self, until: datetime) -> Iterator[EvaluateCommand]:
        """The commands at moments up to and including ``until``, in time order."""
        while self._heap and self._heap[0][0] <= until:
            moment, index, cron = heapq.heappop(self._heap)
            heapq.heappush(self._heap, (cron.get_next(datetime), index, cron))
            yield EvaluateCommand(type="evaluate", tenant_id=self.selectors[index][0], as_of=moment)
