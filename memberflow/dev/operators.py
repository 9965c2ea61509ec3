"""The operators' side of ``make run``: the projector and the admin service on a SQLite read model
under ``run/``, and a demo admin token for every tenant.

Both are subprocesses (``memberflow readmodel run``, ``memberflow admin``) in
sessions of their own, stopped by PID when the run ends.  The read model
starts empty with the run's embedded broker (its topics are new too).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from memberflow.dev.broker import free_port, port_is_free
from memberflow.dev.processes import ProcessFailed, spawn, stop_process

ADMIN_PORT = 6080
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Operators:
    admin_url: str
    token: str
    procs: tuple[subprocess.Popen, ...]


def operators_env(env: dict[str, str], run_dir: Path, fresh: bool) -> dict[str, str]:
    database = run_dir / "readmodel.sqlite"
    if fresh:
        for path in run_dir.glob("readmodel.sqlite*"):
            path.unlink()
    admin_port = ADMIN_PORT if port_is_free(ADMIN_PORT) else free_port()
    return {**env, "MEMBERFLOW_READMODEL_URL": f"sqlite:///{database.resolve()}",
            "MEMBERFLOW_ADMIN_PORT": str(admin_port), "MEMBERFLOW_PROJECTOR_PORT": str(free_port())}


def demo_token(env: dict[str, str]) -> str:
    made = subprocess.run([sys.executable, "-m", "memberflow.cli", "admin", "token", "create", "--tenant", "*",
                           "--role", "admin", "--name", "demo", "--reason", "make run"],
                          env=env, capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        raise ProcessFailed(f"memberflow admin token create failed: {made.stderr.strip()}")
    return made.stdout.strip().splitlines()[-1]


def start_operators(stack: ExitStack, env: dict[str, str], run_dir: Path, fresh: bool) -> Operators:
    """Start the projector and the admin service; return once the admin service answers."""
    env = operators_env(env, run_dir, fresh)
    token = demo_token(env)
    procs = []
    for name, argv in (("projector", ["readmodel", "run"]), ("admin", ["admin"])):
        proc = spawn([sys.executable, "-m", "memberflow.cli", *argv], run_dir / f"{name}.log", env, fresh_log=True)
        stack.callback(stop_process, proc)
        procs.append(proc)
    url = f"http://{env.get('MEMBERFLOW_WEB_HOST', '127.0.0.1')}:{env['MEMBERFLOW_ADMIN_PORT']}"
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for proc, name in zip(procs, ("projector", "admin"), strict=True):
            if proc.poll() is not None:
                raise ProcessFailed(f"the {name} exited with code {proc.returncode}", run_dir / f"{name}.log")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return Operators(url, token, tuple(procs))
        except OSError:
            if time.monotonic() > deadline:
                raise ProcessFailed("the admin service did not answer", run_dir / "admin.log") from None
            time.sleep(0.2)
