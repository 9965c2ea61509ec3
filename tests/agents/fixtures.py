"""Helpers for the agent tests: stand-ins for Kafka (a publisher
and a producer that record what is sent), and a worker built for Faust's test
utilities (memory store, no broker).

``tests/agents/conftest.py`` hands out the worker as a fixture."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from config.rules import RuleBook
from config.settings import Settings
from streams import Worker, create_app

#: longest a test waits for an agent to get through what it was given
WAIT_SECONDS = 5.0


def body(value: bytes) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakePublisher:
    """Stands in for ``agents.kafka.publisher.BatchPublisher`` (the members agent's way out)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, Any, list | None, int | None]] = []

    async def publish(self, messages) -> dict:
        """Records them; answers the last offset per topic and partition, like the broker."""
        last: dict[str, dict[int, int]] = {}
        for topic, key, value, headers, partition in messages:
            self.sent.append((topic, key, body(value), headers, partition))
            last.setdefault(topic, {})[partition or 0] = len(self.sent)
        return last


class FakeProducer:
    """Stands in for the Faust app's producer (``app.producer``): records each send,
    acknowledges it at once, and lets a test wait until some number has been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, Any, int | None]] = []
        self._changed = asyncio.Condition()

    async def send(self, topic, key, value, partition, timestamp, headers, **kwargs) -> asyncio.Future:
        async with self._changed:
            self.sent.append((topic, key, body(value), partition))
            self._changed.notify_all()
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def wait_for(self, count: int) -> list:
        """Once at least ``count`` messages have been sent: all of them."""
        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.sent) >= count)

        await asyncio.wait_for(reached(), WAIT_SECONDS)
        return self.sent

    def to(self, topic: str) -> list[tuple[bytes | None, Any, int | None]]:
        return [(key, value, partition) for t, key, value, partition in self.sent if t == topic]


def build_worker(data_dir: Path, rulebook: RuleBook | None = None, partitions: int = 1) -> Worker:
    """The worker ``streams.create_app`` builds, set up for ``agent.test_context()``:
    memory store, flow resumed, its own metrics registry, the definitions taken as read."""
    settings = Settings(data_dir=data_dir, store="memory://", partitions=partitions, web_port=6999)
    built = create_app(settings, rulebook, registry=CollectorRegistry())
    built.app.finalize()
    built.app.conf.store = "memory://"
    built.app.flow_control.resume()
    built.rules.ready.set()  # no broker here: no business-line definitions to read first
    return built
