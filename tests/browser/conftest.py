"""The console in a real browser: Debian's chromium driven by Playwright (Playwright's own browser
download is not used), against the admin service serving HTTP on 127.0.0.1.

``make test`` installs chromium first (scripts/system-deps); these tests skip,
saying why, only where it could not be installed.  Screenshots go to
``tmp/artifacts/`` under the repository.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from playwright.sync_api import sync_playwright

from memberflow.admin.app import create_app
from memberflow.dev.broker import free_port
from memberflow.readmodel.database import open_database, prepare
from tests.admin.fixtures import KeptAudit, fill, tokens

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts"


@dataclass(frozen=True)
class Console:
    url: str
    engine: sa.Engine
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The admin service over a read model the projection filled from the demo stream, on 127.0.0.1."""
    engine = open_database(f"sqlite:///{tmp_path_factory.mktemp('console') / 'readmodel.sqlite'}")
    prepare(engine)
    fill(engine)
    made = tokens(engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine, KeptAudit()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="admin-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the admin service did not start"
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}", engine, made)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing and could not be installed here: `make system-deps` "
                    "(scripts/system-deps) installs Debian's chromium where apt-get can")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
