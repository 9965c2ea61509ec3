"""The console in a real browser: Debian's chromium driven by Playwright (Playwright's own browser
download is not used), against the admin service serving HTTP on 127.0.0.1.

Chromium and the screenshots' folder: tests/browser/fixtures.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from memberflow.dev.broker import free_port
from memberflow.readmodel.database import open_database, prepare
from tests.admin.fixtures import KeptAudit, admin_app, fill, tokens
from tests.browser.fixtures import artifacts_dir, chromium


@dataclass(frozen=True)
class Console:
    url: str
    engine: sa.Engine
    tokens: dict[str, str]


def filled_read_model(directory: Path) -> sa.Engine:
    """A read model the projection filled from the demo stream, in ``directory``."""
    engine = open_database(f"sqlite:///{directory / 'readmodel.sqlite'}")
    prepare(engine)
    fill(engine)
    return engine


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served on a free 127.0.0.1 port, in a thread, until the block ends; its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="admin-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the admin service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The admin service over a read model the projection filled from the demo stream, on 127.0.0.1."""
    engine = filled_read_model(tmp_path_factory.mktemp("console"))
    made = tokens(engine)
    try:
        with served(admin_app(engine, KeptAudit())) as url:
            yield Console(url, engine, made)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def artifacts() -> Path:
    return artifacts_dir()
