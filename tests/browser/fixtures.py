"""Debian's chromium driven headless by Playwright (Playwright's own browser download is not
used), and the folder the browser tests write screenshots to (``tmp/artifacts/``).

``make test`` installs chromium first (scripts/system-deps); a browser test
skips, saying why, only where it could not be installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing and could not be installed here: `make system-deps` "
                    "(scripts/system-deps) installs Debian's chromium where apt-get can")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
