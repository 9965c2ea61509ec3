"""The tiers: ``make test-fast`` (``-m "not integration"``) leaves out every test
under tests/integration -- those start brokers and workers -- and nothing else.
The marker is set by tests/integration/conftest.py, not by each file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def collected(*args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_the_integration_marker_selects_exactly_the_tests_under_tests_integration():
    under_integration = collected("tests/integration")
    assert under_integration, "no integration tests collected"
    # this folder beside it: a hook marking more than its own folder would mark these too
    marked = collected("-m", "integration", "tests/integration", "tests/architecture")
    assert sorted(marked) == sorted(under_integration)
