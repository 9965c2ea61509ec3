"""Deployment artefacts: docker-compose.yml, Dockerfile, deploy/ (Prometheus, Grafana).

Two kinds of checks:

* ``docker-compose -f docker-compose.yml config -q``: the compose file is
  validated by Debian's docker-compose (the v1 Python tool, 1.29.x), which
  implements the Compose Specification schema.  A session-scoped fixture
  installs it with apt-get when it is missing and we are root; the tests that
  need it are skipped, with the reason, only if it cannot be installed.
* structural facts read with ``yaml.safe_load`` / ``json.load``: KRaft Kafka,
  two workers with their own state, Prometheus scraping both, and a Grafana
  dashboard that only queries the metrics the application exports.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

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

    worker = Metrics(CollectorRegistry())
    metrics = [worker, worker.badges]
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
    "outcome": {"applied", "duplicate", "dead_lettered", "forwarded"},
    "kind": {"earn", "spend", "expiry", "adjustment"},
}

APT_TIMEOUT_S = 600
COMPOSE_TIMEOUT_S = 120


# --------------------------------------------------------------------------
# helpers
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


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


def _run(argv, timeout):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def _install_docker_compose() -> str:
    """Install Debian's docker-compose; return why it could not be, or ''."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "docker-compose is not installed and we are not root to apt-get install it"
    if shutil.which("apt-get") is None:
        return "docker-compose is not installed and apt-get is not available"
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "docker-compose"]
    try:
        res = _run(install, APT_TIMEOUT_S)
        if res.returncode != 0:
            upd = _run(["apt-get", "update", "-q"], APT_TIMEOUT_S)
            if upd.returncode != 0:
                return f"apt-get update failed: {upd.stderr.strip()[-500:]}"
            res = _run(install, APT_TIMEOUT_S)
        if res.returncode != 0:
            return f"apt-get install docker-compose failed: {res.stderr.strip()[-500:]}"
    except subprocess.TimeoutExpired as exc:
        return f"apt-get timed out after {exc.timeout}s"
    except OSError as exc:
        return f"apt-get could not run: {exc}"
    return ""


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """Path to the docker-compose v1 tool, installed with apt-get if needed."""
    exe = shutil.which("docker-compose")
    if exe is None:
        reason = _install_docker_compose()
        exe = shutil.which("docker-compose") or (
            "/usr/bin/docker-compose" if os.access("/usr/bin/docker-compose", os.X_OK) else None
        )
        if exe is None:
            pytest.skip(f"cannot validate with docker-compose: {reason or 'not on PATH after install'}")
    return exe


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


def run_compose(exe, compose_env, compose_file: Path, *args):
    env, env_file = compose_env
    return subprocess.run(
        [exe, "--env-file", str(env_file), "--project-directory", str(ROOT),
         "-f", str(compose_file), "config", *args],
        capture_output=True, text=True, timeout=COMPOSE_TIMEOUT_S, env=env, cwd=ROOT,
    )


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


# --------------------------------------------------------------------------
# docker-compose validation
# --------------------------------------------------------------------------


def test_docker_compose_is_v1_python_tool(docker_compose):
    res = subprocess.run([docker_compose, "version", "--short"], capture_output=True,
                         text=True, timeout=COMPOSE_TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    assert re.match(r"1\.\d+\.\d+", res.stdout.strip()), res.stdout


def test_compose_file_is_valid(docker_compose, compose_env):
    res = run_compose(docker_compose, compose_env, COMPOSE_FILE, "-q")
    assert res.returncode == 0, f"docker-compose config failed:\n{res.stderr}"
    assert "WARNING" not in res.stderr, res.stderr


def test_compose_validation_rejects_a_broken_file(docker_compose, compose_env, tmp_path):
    """The validator really checks the schema: a wrong depends_on condition fails."""
    text = COMPOSE_FILE.read_text()
    assert "service_completed_successfully" in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("service_completed_successfully", "service_finished", 1))
    res = run_compose(docker_compose, compose_env, broken, "-q")
    assert res.returncode != 0
    assert "service_finished" in res.stderr


def test_resolved_config_matches_structure(docker_compose, compose_env, services):
    """What docker-compose resolves (anchors, merges, defaults) is what the
    structural tests below read."""
    res = run_compose(docker_compose, compose_env, COMPOSE_FILE)
    assert res.returncode == 0, res.stderr
    resolved = yaml.safe_load(res.stdout)["services"]
    assert set(resolved) == set(services)
    for name in ("kafka-init", *WORKERS):
        assert as_env_dict(resolved[name].get("environment")) == as_env_dict(
            services[name].get("environment")
        ), name
        assert as_argv(resolved[name]["command"]) == as_argv(services[name]["command"])
        assert depends_on(resolved[name]) == depends_on(services[name])
    for name in WORKERS:
        assert published_ports(resolved[name]) == {WORKER_PORT: HOST_PORTS[name]}


# --------------------------------------------------------------------------
# compose structure
# --------------------------------------------------------------------------


def test_expected_services(services):
    assert {"kafka", "kafka-init", *WORKERS, "prometheus", "grafana"} <= set(services)


def test_no_zookeeper(services):
    for name, svc in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(svc.get("image", "")).lower()
        for key, val in as_env_dict(svc.get("environment")).items():
            assert "ZOOKEEPER" not in key.upper(), f"{name}: {key}"
            assert "zookeeper" not in val.lower(), f"{name}: {key}={val}"


def test_kafka_runs_in_kraft_mode(services):
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = as_env_dict(kafka["environment"])
    roles = {r.strip() for r in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert f"{controller}://" in env["KAFKA_LISTENERS"]
    protocol_map = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listener_names = {ln.split("://")[0] for ln in env["KAFKA_LISTENERS"].split(",")}
    assert listener_names <= set(protocol_map)
    # the KRaft cluster id is a base64url-encoded 16-byte UUID
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    # single node: internal topics must not ask for more replicas than exist
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert env[key] == "1", key


def test_kafka_listeners_for_network_and_host(services):
    kafka = services["kafka"]
    env = as_env_dict(kafka["environment"])
    advertised = dict(
        (ln.split("://")[0], ln.split("://")[1]) for ln in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    assert "kafka:9092" in advertised.values()
    host_listeners = [a for a in advertised.values() if a.startswith("localhost:")]
    assert host_listeners, advertised
    host_port = int(host_listeners[0].split(":")[1])
    assert published_ports(kafka).get(host_port) == host_port
    assert 9092 not in published_ports(kafka)  # in-network listener stays internal


def test_kafka_log_dirs_on_named_volume_and_healthcheck(compose, services):
    kafka = services["kafka"]
    log_dirs = as_env_dict(kafka["environment"])["KAFKA_LOG_DIRS"]
    mounts = dict((t, s) for s, t in volume_mounts(kafka))
    assert log_dirs in mounts, f"{log_dirs} is not mounted"
    assert mounts[log_dirs] in (compose.get("volumes") or {}), "kafka log dir is not a named volume"
    assert kafka.get("healthcheck", {}).get("test")


def test_kafka_init_creates_topics_once(services):
    init = services["kafka-init"]
    assert as_argv(init["command"]) == ["memberflow", "topics", "create"]
    assert depends_on(init) == {"kafka": "service_healthy"}
    assert str(init.get("restart", "no")) == "no"
    assert not init.get("ports")
    env = as_env_dict(init["environment"])
    for key in ("MEMBERFLOW_BROKER_URL", "MEMBERFLOW_PARTITIONS", "MEMBERFLOW_TOPIC_PREFIX"):
        assert env[key] == EXPECTED_WORKER_ENV[key], key


def test_memberflow_services_share_the_image(services):
    images = {services[n].get("image") for n in ("kafka-init", *WORKERS)}
    assert len(images) == 1 and None not in images
    for name in ("kafka-init", *WORKERS):
        build = services[name].get("build")
        assert build, f"{name} has no build section"
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (ROOT / context).resolve() == ROOT


@pytest.mark.parametrize("name", WORKERS)
def test_worker_service(name, services):
    worker = services[name]
    assert as_argv(worker["command"]) == ["memberflow", "worker"]
    assert depends_on(worker).get("kafka-init") == "service_completed_successfully"
    assert worker.get("restart") in {"always", "unless-stopped", "on-failure"}
    env = as_env_dict(worker["environment"])
    assert {k: env.get(k) for k in EXPECTED_WORKER_ENV} == EXPECTED_WORKER_ENV
    assert env["MEMBERFLOW_CANONICAL_URL"] == f"http://{name}:{WORKER_PORT}"
    assert published_ports(worker) == {WORKER_PORT: HOST_PORTS[name]}
    health = " ".join(as_argv(worker["healthcheck"]["test"]))
    assert f":{WORKER_PORT}/metrics" in health


def test_workers_have_distinct_state_and_identity(compose, services):
    named_volumes = set(compose.get("volumes") or {})
    data_volumes, urls = [], []
    for name in WORKERS:
        mounts = dict((t, s) for s, t in volume_mounts(services[name]))
        assert "/data" in mounts, f"{name} has no /data volume"
        assert mounts["/data"] in named_volumes, f"{name}: /data is not a named volume"
        data_volumes.append(mounts["/data"])
        urls.append(as_env_dict(services[name]["environment"])["MEMBERFLOW_CANONICAL_URL"])
    assert len(set(data_volumes)) == len(WORKERS), data_volumes
    assert len(set(urls)) == len(WORKERS), urls
    # no other service mounts a worker's RocksDB volume
    for name, svc in services.items():
        if name in WORKERS:
            continue
        assert not {s for s, _ in volume_mounts(svc)} & set(data_volumes), name


def test_worker_definition_is_not_repeated():
    text = COMPOSE_FILE.read_text()
    assert re.search(r"^x-[\w-]+:\s*&[\w-]+", text, re.M), "no x- extension anchor"
    blocks = re.split(r"^  (?=[\w-]+:\s*$)", text.split("\nservices:", 1)[1], flags=re.M)
    for name in WORKERS:
        block = next(b for b in blocks if b.startswith(f"{name}:"))
        assert re.search(r"<<:\s*\*", block), f"{name} does not merge a shared anchor"
        assert "memberflow worker" not in block and '"worker"' not in block


def test_prometheus_service(compose, services):
    prom = services["prometheus"]
    assert prom["image"].startswith(("prom/prometheus:", "quay.io/prometheus/prometheus:"))
    mounts = dict((t, s) for s, t in volume_mounts(prom))
    assert (ROOT / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_CONFIG
    assert mounts.get("/prometheus") in (compose.get("volumes") or {})


def test_grafana_service(compose, services, dashboard_providers):
    graf = services["grafana"]
    assert graf["image"].startswith(("grafana/grafana:", "grafana/grafana-oss:"))
    raw_env = as_env_dict(yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]["environment"])
    assert re.fullmatch(r"\$\{[A-Z_]+:-[^}]+\}", raw_env["GF_SECURITY_ADMIN_PASSWORD"]), (
        "admin password must come from the environment with a default"
    )
    mounts = dict((t, s) for s, t in volume_mounts(graf))
    assert (ROOT / mounts["/etc/grafana/provisioning"]).resolve() == GRAFANA_PROVISIONING
    dash_targets = [t for t, s in mounts.items() if (ROOT / s).resolve() == GRAFANA_DASHBOARDS]
    assert dash_targets, "dashboards directory is not mounted"
    assert mounts.get("/var/lib/grafana") in (compose.get("volumes") or {})
    # the file provider reads the directory the dashboards are mounted at
    paths = {p["options"]["path"].rstrip("/") for p in dashboard_providers if p.get("type") == "file"}
    assert dash_targets[0].rstrip("/") in paths


def test_bind_mounted_files_exist(services):
    for name, svc in services.items():
        for source, _ in volume_mounts(svc):
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for source, _ in volume_mounts(svc):
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


# --------------------------------------------------------------------------
# Prometheus and Grafana provisioning
# --------------------------------------------------------------------------


def test_prometheus_scrapes_both_workers(prometheus_config):
    targets = {}
    for job in prometheus_config["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for t in sc["targets"]:
                targets[t] = job
    for name in WORKERS:
        job = targets.get(f"{name}:{WORKER_PORT}")
        assert job is not None, f"{name} is not scraped"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        interval = job.get("scrape_interval", prometheus_config.get("global", {}).get("scrape_interval"))
        assert interval in {"5s", "15s"}, interval


def test_datasource_points_at_prometheus(datasources, services):
    prom = [d for d in datasources if d["type"] == "prometheus"]
    assert len(prom) == 1
    url = urlparse(prom[0]["url"])
    assert url.hostname == "prometheus" and url.hostname in services
    assert url.port == 9090
    assert prom[0].get("uid")


def test_dashboard_uses_the_provisioned_datasource(dashboard, datasources):
    uid = next(d["uid"] for d in datasources if d["type"] == "prometheus")
    refs = []
    for panel in iter_panels(dashboard["panels"]):
        refs.append(panel.get("datasource"))
        refs += [t.get("datasource") for t in panel.get("targets", [])]
    refs += [v.get("datasource") for v in dashboard.get("templating", {}).get("list", [])]
    for ref in refs:
        if ref is None:
            continue
        ref_uid = ref.get("uid") if isinstance(ref, dict) else ref
        assert ref_uid in {uid, "-- Grafana --"}, ref


# --------------------------------------------------------------------------
# dashboard
# --------------------------------------------------------------------------


def test_promql_helpers():
    assert promql_series('sum by (topic) (rate(memberflow_outputs_sent_total{instance=~"$x"}[5m]))') == {
        "memberflow_outputs_sent_total"
    }
    assert promql_series(
        "histogram_quantile(0.99, sum by (le) (rate(a_bucket[$__rate_interval]))) / on (job) b_total"
    ) == {"a_bucket", "b_total"}
    assert promql_series("sum(rate(memberflow_event_total[1m])) > 2e3") == {"memberflow_event_total"}
    assert promql_labels('sum by (direction, to_tier) (x{kind="earn", job=~"a"})') == {
        "direction", "to_tier", "kind", "job"
    }


def test_dashboard_is_valid(dashboard):
    assert dashboard.get("uid") and dashboard.get("title")
    panels = list(iter_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        if p.get("type") == "row":
            continue
        assert p.get("targets"), f"panel {p.get('title')!r} has no query"
        for key in ("h", "w", "x", "y"):
            assert isinstance(p["gridPos"][key], int)
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_dashboard_queries_only_known_metrics(dashboard, panel_exprs):
    assert panel_exprs
    exprs = panel_exprs + [("templating", e) for e in template_exprs(dashboard)]
    for title, expr in exprs:
        series = promql_series(expr)
        assert series, f"{title}: no metric in {expr!r}"
        unknown = series - ALLOWED_SERIES
        assert not unknown, f"{title}: unknown metric(s) {sorted(unknown)} in {expr!r}"
        bad_labels = promql_labels(expr) - ALLOWED_LABELS
        assert not bad_labels, f"{title}: unknown label(s) {sorted(bad_labels)} in {expr!r}"
        for label, value in promql_equality_matchers(expr):
            if label in ALLOWED_LABEL_VALUES:
                assert value in ALLOWED_LABEL_VALUES[label], f"{title}: {label}={value!r}"


def test_dashboard_job_matches_prometheus(panel_exprs, dashboard, prometheus_config):
    jobs = {j["job_name"] for j in prometheus_config["scrape_configs"]}
    exprs = [e for _, e in panel_exprs] + template_exprs(dashboard)
    for expr in exprs:
        for label, value in promql_equality_matchers(expr):
            if label == "job":
                assert value in jobs, expr


def test_dashboard_covers_every_metric(panel_exprs):
    exprs = [e for _, e in panel_exprs]

    def used(pattern):
        return any(re.search(pattern, e) for e in exprs)

    for counter in COUNTERS:
        assert used(rf"rate\({counter}\b"), f"no rate() of {counter}"
    assert used(r"by \(topic\) \(rate\(memberflow_events_consumed_total\b")
    assert used(r"by \(outcome\) \(rate\(memberflow_events_consumed_total\b")
    assert used(r"by \(reason\) \(rate\(memberflow_dead_letters_total\b")
    assert used(r"by \(topic\) \(rate\(memberflow_outputs_sent_total\b")
    assert used(r"by \(kind\) \(rate\(memberflow_points_total\b")
    assert used(r"by \(direction, to_tier\) \(rate\(memberflow_tier_changes_total\b")
    for q in ("0.5", "0.99"):
        assert used(
            rf"histogram_quantile\({q}0*, sum by \(le\) \(rate\(memberflow_event_processing_seconds_bucket\b"
        ), f"no p{q} latency"
    assert any(
        "memberflow_batch_size_sum" in e and "memberflow_batch_size_count" in e and "/" in e
        for e in exprs
    ), "no average batch size"
    assert used(r"\bup\{[^}]*job=\"memberflow\""), "no worker up panel"


# --------------------------------------------------------------------------
# Dockerfile and .dockerignore
# --------------------------------------------------------------------------


def _dockerfile_runtime_stage() -> list[str]:
    lines, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        buf += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if buf.strip():
                lines.append(buf.strip())
            buf = ""
    stages = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    return lines, lines[stages[-1]:]


def test_dockerfile():
    lines, runtime = _dockerfile_runtime_stage()
    args = dict(
        re.match(r"ARG (\w+)=(\S+)", ln).groups() for ln in lines if re.match(r"ARG \w+=\S+", ln)
    )
    for ln in (x for x in lines if x.upper().startswith("FROM ")):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), ln.split()[1])
        assert image == "python:3.11-slim", ln
    assert any(re.search(r"pip install (--\S+ )*\.(\s|$)", ln) for ln in lines), "no `pip install .`"
    user = [ln.split()[1] for ln in runtime if ln.upper().startswith("USER ")]
    assert user and user[-1] not in {"root", "0"}, "runtime image runs as root"
    assert any(ln.startswith("VOLUME") and "/data" in ln for ln in runtime)
    assert any(re.fullmatch(r"EXPOSE 6066(/tcp)?", ln) for ln in runtime)
    cmd = [ln for ln in runtime if ln.startswith("CMD")][-1]
    assert json.loads(cmd[len("CMD"):].strip()) == ["memberflow", "worker"]
    assert any("config/" in ln and "/app/config" in ln for ln in runtime if ln.startswith("COPY")), (
        "rules are not copied to MEMBERFLOW_RULES_DIR"
    )


def test_dockerignore():
    patterns = {
        ln.strip().rstrip("/") for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    for required in (".venv", ".git", "data", "**/__pycache__", ".pytest_cache"):
        assert required in patterns, required
    for needed in ("config", "pyproject.toml", "memberflow", "engine", "agents", "tables",
                   "models", "streams.py"):
        assert needed not in patterns, f"{needed} is needed by the image build"
