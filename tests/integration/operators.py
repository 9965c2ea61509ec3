"""The operators' processes for integration tests: the admin service (and the read-model projector) of a
cluster, started as ``make run`` and the deployment do, with a token of the role asked for."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memberflow.dev.cluster import LocalCluster
from memberflow.dev.postgres import free_port
from memberflow.dev.processes import stop_processes
from tests.integration.fixtures import wait_until


def answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def admin_service(cluster: LocalCluster, workdir: Path, *, readmodel_url: str | None = None, role: str = "admin",
                  projector: bool = False, name: str = "admin") -> Iterator[tuple[str, str]]:
    """(base URL, a token of ``role`` for the default tenant) of a running admin service with the cluster's
    environment (broker, topics, rules) on ``readmodel_url`` (a SQLite file in ``workdir`` by default), and
    the projector beside it when asked; both stopped, by PID, on the way out."""
    port = free_port()
    readmodel_url = readmodel_url or f"sqlite:///{workdir / 'readmodel.sqlite'}"
    env = {**cluster.env(name), "MEMBERFLOW_READMODEL_URL": readmodel_url,
           "MEMBERFLOW_ADMIN_PORT": str(port), "MEMBERFLOW_PROJECTOR_PORT": str(free_port())}
    made = subprocess.run([sys.executable, "-m", "memberflow.cli", "admin", "token", "create", "--tenant", "default",
                           "--role", role], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    commands = [["readmodel", "run"]] if projector else []
    procs = [subprocess.Popen([sys.executable, "-m", "memberflow.cli", *argv], env=env, stdin=subprocess.DEVNULL,
                              stdout=open(workdir / f"{argv[0]}.log", "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
             for argv in [*commands, ["admin"]]]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(base), timeout=60)
        yield base, made.stdout.strip().splitlines()[-1]
    finally:
        stop_processes(procs)
