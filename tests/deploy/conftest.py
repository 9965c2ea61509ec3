"""Fixtures of the deployment tests: the docker-compose tool, the compose file as
read and resolved, Prometheus' configuration and Grafana's provisioning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.deploy.fixtures import (
    COMPOSE_FILE,
    DASHBOARD,
    GRAFANA_PROVISIONING,
    PROMETHEUS_CONFIG,
    docker_compose_path,
    iter_panels,
    substitute_defaults,
)


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """Path to the docker-compose v1 tool (``make system-deps`` installs it)."""
    return docker_compose_path()


@pytest.fixture(scope="session")
def compose_env(tmp_path_factory) -> tuple[dict, Path]:
    """Environment without overrides of the file's ${VAR:-default}s, plus an
    empty env file so a developer's .env does not change the result."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("MEMBERFLOW_", "GRAFANA_", "KAFKA_", "PROMETHEUS_", "COMPOSE_"))
    }
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")
    return env, env_file


@pytest.fixture(scope="session")
def compose_raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="session")
def compose(compose_raw) -> dict:
    """The compose file with anchors merged and ${VAR:-default} resolved."""
    return substitute_defaults(compose_raw)


@pytest.fixture(scope="session")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="session")
def prometheus_config() -> dict:
    return yaml.safe_load(PROMETHEUS_CONFIG.read_text())


@pytest.fixture(scope="session")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="session")
def datasources() -> list[dict]:
    out = []
    for f in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml")):
        out += yaml.safe_load(f.read_text()).get("datasources", [])
    return out


@pytest.fixture(scope="session")
def dashboard_providers() -> list[dict]:
    out = []
    for f in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml")):
        out += yaml.safe_load(f.read_text()).get("providers", [])
    return out


@pytest.fixture(scope="session")
def panel_exprs(dashboard) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target of every panel."""
    out = []
    for panel in iter_panels(dashboard.get("panels")):
        for t in panel.get("targets", []) or []:
            if t.get("expr"):
                out.append((panel.get("title", "?"), t["expr"]))
    return out
