"""Fixtures that run the real worker against a real broker (Tansu) on loopback,
and the ``integration`` marker on every test of this folder (``make test-fast``
leaves them out: ``-m "not integration"``).

Every broker and worker is started by the fixture on a free 127.0.0.1 port
and stopped by PID afterwards, pass or fail.  Helpers: fixtures.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memberflow.dev.cluster import LocalCluster
from tests.integration.fixtures import SLICE, stream_rules_dir

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``integration`` (the hook sees the whole session's items)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stream_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules the test streams need: events may arrive up to LATENESS after later ones."""
    return stream_rules_dir(tmp_path_factory.mktemp("stream-rules"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, stream_rules: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), partitions=4,
                     extra_env={"MEMBERFLOW_RULES_DIR": str(stream_rules)})
    c.start_broker()
    try:
        yield c
    finally:
        c.close()


# -- periodic evaluation ------------------------------------------------------


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stream rules with small slices, so an evaluation takes many steps."""
    return stream_rules_dir(tmp_path_factory.mktemp("rules"), evaluation={"slice_size": SLICE})


@pytest.fixture(scope="module")
def slices_cluster(tmp_path_factory: pytest.TempPathFactory, rules_dir: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path_factory.mktemp("eval-cluster"), partitions=4,
                     extra_env={"MEMBERFLOW_RULES_DIR": str(rules_dir)})
    c.start_broker()
    try:
        yield c
    finally:
        c.close()
