"""docker-compose.yml: validated by Debian's docker-compose (the v1 Python tool,
1.29.x, implementing the Compose Specification schema), and its structure read
with ``yaml.safe_load``: KRaft Kafka, topics created once, two workers with their
own state, Prometheus and Grafana."""

from __future__ import annotations

import base64
import re
import subprocess

import pytest
import yaml

from tests.deploy.fixtures import (
    COMPOSE_FILE,
    COMPOSE_TIMEOUT_S,
    EXPECTED_WORKER_ENV,
    GRAFANA_DASHBOARDS,
    GRAFANA_PROVISIONING,
    HOST_PORTS,
    PROMETHEUS_CONFIG,
    ROOT,
    WORKER_PORT,
    WORKERS,
    as_argv,
    as_env_dict,
    depends_on,
    docker_compose_path,
    published_ports,
    run_compose,
    volume_mounts,
)


def test_a_missing_docker_compose_fails_naming_make_system_deps(tmp_path):
    with pytest.raises(pytest.fail.Exception, match=r"make system-deps"):
        docker_compose_path(path=str(tmp_path))  # a PATH without it


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


# -- structure ------------------------------------------------------------------


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


def test_the_read_model_runs_on_postgres_with_the_projector_and_the_admin_service(compose, services):
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert ("postgres-data", "/var/lib/postgresql/data") in volume_mounts(postgres)
    assert "postgres-data" in compose["volumes"]
    url = None
    for name, argv in (("projector", ["memberflow", "readmodel", "run"]), ("admin", ["memberflow", "admin"])):
        service = services[name]
        assert as_argv(service["command"]) == argv
        assert service.get("image") == services["worker-1"].get("image")
        env = as_env_dict(service["environment"])
        assert env["MEMBERFLOW_BROKER_URL"] == EXPECTED_WORKER_ENV["MEMBERFLOW_BROKER_URL"]
        assert env["MEMBERFLOW_READMODEL_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env[
            "MEMBERFLOW_READMODEL_URL"]
        url = url or env["MEMBERFLOW_READMODEL_URL"]
        assert env["MEMBERFLOW_READMODEL_URL"] == url  # one database for both
        assert depends_on(service) == {"kafka-init": "service_completed_successfully", "postgres": "service_healthy"}
    assert published_ports(services["admin"]) == {6080: 6080}
