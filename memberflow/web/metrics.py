"""``GET /metrics``: the worker's Prometheus metrics."""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import CollectorRegistry, generate_latest

PROMETHEUS_CONTENT_TYPE = "text/plain"


def register(app: faust.App, registry: CollectorRegistry) -> None:
    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=PROMETHEUS_CONTENT_TYPE)
