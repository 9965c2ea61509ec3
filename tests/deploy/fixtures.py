"""Helpers for the deployment tests: where the artefacts are, what the
deployment brief fixes, the metrics the application exports, and readers of
Compose files, PromQL and Grafana dashboards.  (Fixtures: conftest.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agents.metrics import OUTCOMES
from models.outputs import LedgerKind

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = DEPLOY / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = DEPLOY / "grafana" / "dashboards"
DASHBOARD = GRAFANA_DASHBOARDS / "memberflow.json"

WORKERS = ("worker-1", "worker-2")
WORKER_PORT = 6066
HOST_PORTS = {"worker-1": 6066, "worker-2": 6067}

# Settings of the application, fixed by the deployment brief.
EXPECTED_WORKER_ENV = {
    "MEMBERFLOW_BROKER_URL": "kafka://kafka:9092",
    "MEMBERFLOW_DATA_DIR": "/data",
    "MEMBERFLOW_WEB_HOST": "0.0.0.0",
    "MEMBERFLOW_WEB_PORT": "6066",
    "MEMBERFLOW_PARTITIONS": "8",
    "MEMBERFLOW_TOPIC_PREFIX": "",
    "MEMBERFLOW_LOG_LEVEL": "info",
    "MEMBERFLOW_RULES_DIR": "/app/config/rules",
}

# Metrics the application exposes, and their labels: read from the worker's own
# registry (prometheus-client), so a new metric cannot be forgotten here.
def _exported() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from agents.metrics import Metrics
    from memberflow.readmodel.projector import ProjectorMetrics

    worker = Metrics(CollectorRegistry())
    metrics = [worker, worker.badges, worker.benefits, worker.risk, worker.experiments, ProjectorMetrics()]
    kinds: dict[str, dict[str, set[str]]] = {"counter": {}, "histogram": {}, "gauge": {}}
    for holder in metrics:
        for metric in vars(holder).values():
            if isinstance(metric, MetricWrapperBase):
                name = metric._name + "_total" if metric._type == "counter" else metric._name
                kinds[metric._type][name] = set(metric._labelnames)  # declared labels, used or not yet
    return kinds["counter"], kinds["histogram"], kinds["gauge"]


COUNTERS, HISTOGRAMS, GAUGES = _exported()
ALLOWED_SERIES = (
    set(COUNTERS)
    | set(GAUGES)
    | {h + suffix for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    | {"up"}
)
# Labels a query may group or filter by: the app's labels plus Prometheus'
# target labels (job/instance, and the `worker` label set in prometheus.yml).
ALLOWED_LABELS = (
    set().union(*COUNTERS.values(), *GAUGES.values())
    | {"le", "job", "instance", "worker"}
)
ALLOWED_LABEL_VALUES = {
    "outcome": set(OUTCOMES),
    "kind": {kind.value for kind in LedgerKind},
}

COMPOSE_TIMEOUT_S = 120


# --------------------------------------------------------------------------
# docker-compose
# --------------------------------------------------------------------------


def docker_compose_path(path: str | None = None) -> str:
    """Debian's docker-compose (the v1 Python tool) on ``path`` (default: $PATH).  The
    tests never install it: ``make test`` runs ``make system-deps`` first, which does.
    Missing, the tests that need it fail -- a skip would pass unnoticed in CI."""
    exe = shutil.which("docker-compose", path=path)
    if exe is None:
        pytest.fail("docker-compose is not installed: run `make system-deps` (scripts/system-deps installs "
                    "Debian's docker-compose; `make test` runs it first)", pytrace=False)
    return exe


def run_compose(exe, compose_env, compose_file: Path, *args):
    env, env_file = compose_env
    return subprocess.run(
        [exe, "--env-file", str(env_file), "--project-directory", str(ROOT),
         "-f", str(compose_file), "config", *args],
        capture_output=True, text=True, timeout=COMPOSE_TIMEOUT_S, env=env, cwd=ROOT,
    )


# --------------------------------------------------------------------------
# Compose files, PromQL, dashboards
# --------------------------------------------------------------------------


_SUBST = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def substitute_defaults(value):
    """Resolve ``${VAR:-default}`` the way Compose does with VAR unset."""
    if isinstance(value, str):
        def repl(m):
            op = m.group("op") or ""
            return m.group("arg") if op in (":-", "-") else ""
        return _SUBST.sub(repl, value).replace("$$", "$")
    if isinstance(value, dict):
        return {k: substitute_defaults(v) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_defaults(v) for v in value]
    return value


def as_env_dict(environment) -> dict:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v) for k, v in environment.items()}
    out = {}
    for item in environment:
        key, _, val = str(item).partition("=")
        out[key] = val
    return out


def as_argv(command) -> list[str]:
    if isinstance(command, str):
        return command.split()
    return [str(c) for c in command or []]


def volume_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) pairs of a service's short- or long-syntax volumes."""
    out = []
    for v in service.get("volumes", []) or []:
        if isinstance(v, dict):
            out.append((str(v.get("source", "")), str(v["target"])))
        else:
            parts = str(v).split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
    return out


def published_ports(service: dict) -> dict[int, int]:
    """container port -> host port."""
    out = {}
    for p in service.get("ports", []) or []:
        if isinstance(p, dict):
            out[int(p["target"])] = int(p["published"])
            continue
        parts = str(p).split(":")
        assert len(parts) >= 2, f"port {p!r} is not published on the host"
        out[int(parts[-1].split("/")[0])] = int(parts[-2])
    return out


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_MATCHER_ITEM = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def promql_series(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, labels,
    grouping clauses, ranges, numbers and keywords removed)."""
    s = _MATCHERS.sub(" ", expr)          # label matchers (their strings included)
    s = _STRING.sub(" ", s)
    s = _RANGES.sub(" ", s)               # [5m], [$__rate_interval], subqueries
    s = _GROUPING.sub(" ", s)             # by (topic), on (instance) ...
    s = _NUMBER.sub(" ", s)
    names = set()
    for m in _IDENT.finditer(s):
        rest = s[m.end():].lstrip()
        if rest.startswith("("):          # function or aggregation operator
            continue
        if m.group(0).lower() in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def promql_labels(expr: str) -> set[str]:
    """Label names used in grouping clauses and matchers."""
    labels = set()
    for m in _GROUPING.finditer(_STRING.sub('""', expr)):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    for block in _MATCHERS.findall(expr):
        labels |= {m.group(1) for m in _MATCHER_ITEM.finditer(block)}
    return labels


def promql_equality_matchers(expr: str) -> list[tuple[str, str]]:
    out = []
    for block in _MATCHERS.findall(expr):
        out += [(m.group(1), m.group(3)) for m in _MATCHER_ITEM.finditer(block) if m.group(2) == "="]
    return out


def iter_panels(panels):
    for p in panels or []:
        yield p
        yield from iter_panels(p.get("panels"))


def template_exprs(dashboard: dict) -> list[str]:
    """PromQL inside Grafana template-variable queries."""
    out = []
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q)
        if m:
            q = m.group(1)
        m = re.fullmatch(r"\s*(?:query_result|metrics)\((.*)\)\s*", q)
        if m:
            q = m.group(1)
        if q.strip():
            out.append(q)
    return out
