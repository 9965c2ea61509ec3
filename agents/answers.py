"""Redemption answers for HTTP callers waiting on them.

``POST /members/{id}/redemptions`` publishes the request to ``redemptions``
and waits here; the members agent hands every stored batch's outputs to
``resolve``, which wakes whoever waits for a result (or for the dead letter
of a request the engine refused) by (tenant, request id).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from config.topics import Topic
from engine.outcome import Emitted
from models.outputs import DeadLetter
from models.redemptions import RedemptionResult

Answer = RedemptionResult | DeadLetter


class RedemptionAnswers:
    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], list[asyncio.Future[Answer]]] = defaultdict(list)

    def wait(self, tenant_id: str, request_id: str) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[(tenant_id, request_id)].append(future)
        return future

    def forget(self, tenant_id: str, request_id: str, future: asyncio.Future[Answer]) -> None:
        futures = self.pending.get((tenant_id, request_id))
        if futures is None:
            return
        if future in futures:
            futures.remove(future)
        if not futures:
            del self.pending[(tenant_id, request_id)]

    def resolve(self, outputs: Iterable[Emitted]) -> None:
        """Wake whoever waits for an answer among ``outputs`` (a batch's, once stored)."""
        if not self.pending:
            return
        for out in outputs:
            value = out.value
            if isinstance(value, RedemptionResult):
                self._resolve((value.tenant_id, value.request_id), value)
            elif isinstance(value, DeadLetter) and value.source_topic == Topic.REDEMPTIONS and value.cause_event_id:
                self._resolve((value.tenant_id or "default", value.cause_event_id), value)

    def _resolve(self, key: tuple[str, str], answer: Answer) -> None:
        for future in self.pending.pop(key, []):
            if not future.done():
                future.set_result(answer)
