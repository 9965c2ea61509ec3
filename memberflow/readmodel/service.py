"""The ``memberflow readmodel`` commands: follow the topics, or rebuild from their start."""

from __future__ import annotations

import asyncio
import logging
import signal

from prometheus_client import start_http_server

from config.rules import RuleBook
from config.settings import Settings
from memberflow.readmodel.database import open_database, prepare
from memberflow.readmodel.projector import Projector, ProjectorMetrics

log = logging.getLogger(__name__)


def _setup() -> tuple[Settings, Projector]:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = open_database(settings.readmodel_url)
    return settings, Projector(settings, engine, RuleBook.from_path(settings.rules_dir), ProjectorMetrics())


def run_projector() -> int:
    """Follow the topics until SIGINT or SIGTERM; a changed projection version rebuilds first."""
    settings, projector = _setup()
    if prepare(projector.engine):
        log.info("read model at projection version it did not have: replaying the topics from the start")
    start_http_server(settings.projector_port, addr=settings.web_host, registry=projector.metrics.registry)
    print(f"projector metrics: http://{settings.web_host}:{settings.projector_port}/metrics", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await projector.run(stop)

    asyncio.run(main())
    return 0


def rebuild() -> int:
    """Drop the projection, replay every topic from its start to its current end, and exit."""
    _, projector = _setup()
    prepare(projector.engine, fresh=True)
    applied = asyncio.run(projector.catch_up())
    print(f"read model rebuilt: {applied} records applied")
    return 0
