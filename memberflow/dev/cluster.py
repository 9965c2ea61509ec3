"""A local cluster for tests and benchmarks: embedded broker + worker processes.

Everything binds to 127.0.0.1 and every process started here is stopped by
PID on ``close()``.  ``memberflow run`` starts its one worker as a
``WorkerProcess`` too.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from agents.kafka.admin import create_topics
from config.settings import Settings
from memberflow.dev.broker import HOST, EmbeddedBroker, free_port, fresh_data_dir
from memberflow.dev.processes import Child, ProcessFailed, spawn, stop_process, stop_processes
from memberflow.web.auth import add_token, new_token

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess(Child):
    """A ``memberflow worker`` subprocess (settings from ``env``), its output appended to ``log_path``."""

    name: str
    env: dict[str, str]
    log_path: Path
    web_port: int
    host: str = HOST
    cwd: Path | None = ROOT  # where relative paths in ``env`` are taken from
    grace: float = 15.0  # to shut down on SIGTERM before a SIGKILL
    proc: Popen | None = None
    token: str | None = None  # the service token ``get_json`` sends
    module: str = "memberflow.cli"  # what runs ``worker`` (a benchmark may run the worker changed)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def start(self, fresh_log: bool = False) -> WorkerProcess:
        """Start (or start again after a stop or crash); ``fresh_log`` empties the log first."""
        self.proc = spawn([sys.executable, "-m", self.module, "worker"], self.log_path, self.env, self.cwd,
                          fresh_log=fresh_log)
        return self

    def answers(self) -> bool:
        """Whether ``/metrics`` answers: the worker is up."""
        try:
            with urllib.request.urlopen(self.url + "/metrics", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60.0, also: Sequence[Child] = ()) -> None:
        """Until ``/metrics`` answers; ``ProcessFailed`` if it (or one of ``also``, the broker
        say) exits first, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in (self, *also):
                child.check()
            if self.answers():
                return
            time.sleep(0.2)
        raise ProcessFailed(f"the {self.name} did not answer {self.url}/metrics within {timeout:.0f}s", self.log_path)

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, self.grace)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:
            return resp.read().decode()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get_json(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=self.headers()),
                                        timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@dataclass
class _Reader:
    """A consumer kept open on some output topics, and what it has read of them so far, from the start."""

    consumer: KafkaConsumer
    names: dict[str, str]  # Kafka topic -> logical name
    seen: list[tuple[str, dict]] = field(default_factory=list)


@dataclass
class LocalCluster:
    workdir: Path
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    #: a platform service token the workers accept (``service_token``)
    token: str | None = None
    #: ``consume``'s open consumers, by the topics they read
    _readers: dict[frozenset[str], _Reader] = field(default_factory=dict, repr=False)

    def start_broker(self, port: int | None = None, advertised_port: int | None = None) -> LocalCluster:
        """Start the cluster's broker (once: a second call would orphan the first);
        ``advertised_port`` puts something (a test's proxy) between it and every client."""
        if self.broker is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.broker = EmbeddedBroker(port, self.workdir / "broker.log", advertised_port).start()
        create_topics(self.settings())
        self.token = self.service_token(None, "cluster")
        return self

    @property
    def tokens_file(self) -> Path:
        return self.workdir / "service-tokens.jsonl"

    def service_token(self, tenant_id: str | None, name: str) -> str:
        """A new service token the workers accept (``tenant_id`` None: every tenant)."""
        token, stored = new_token(name, tenant_id)
        add_token(self.tokens_file, stored)
        return token

    def env(self, name: str = "w1", web_port: int | None = None) -> dict[str, str]:
        assert self.broker is not None
        port = web_port or free_port()
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MEMBERFLOW_BROKER_URL": self.broker.url,
            "MEMBERFLOW_DATA_DIR": str(self.workdir / f"data-{name}"),
            "MEMBERFLOW_WEB_HOST": HOST,
            "MEMBERFLOW_WEB_PORT": str(port),
            "MEMBERFLOW_PARTITIONS": str(self.partitions),
            "MEMBERFLOW_LOG_LEVEL": "info",
            "MEMBERFLOW_SERVICE_TOKENS_FILE": str(self.tokens_file),
            **self.extra_env,
        }

    def settings(self) -> Settings:
        return Settings.from_env(self.env())

    def add_worker(self, name: str | None = None, fresh: bool = True, wait: bool = True,
                   env: dict[str, str] | None = None, module: str = "memberflow.cli") -> WorkerProcess:
        """A worker started (and, with ``wait``, answering); ``env`` over the cluster's, ``module`` runs it."""
        name = name or f"w{len(self.workers) + 1}"
        env = {**self.env(name), **(env or {})}
        if fresh:
            fresh_data_dir(Path(env["MEMBERFLOW_DATA_DIR"]))
        worker = WorkerProcess(name, env, self.workdir / f"{name}.log", int(env["MEMBERFLOW_WEB_PORT"]),
                               token=self.token, module=module).start()
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def restart(self, worker: WorkerProcess, wait: bool = True) -> WorkerProcess:
        """Start a stopped or killed worker again over its existing data dir."""
        worker.start()
        if wait:
            worker.wait_ready()
        return worker

    def stop(self, *workers: WorkerProcess) -> None:
        """Stop ``workers`` (default: all) side by side: one by one, each would first take over
        the partitions of the one before it in a rebalance (10 s for two, against 1 s)."""
        workers = workers or tuple(self.workers)
        procs = [worker.proc for worker in workers if worker.proc is not None]
        stop_processes(procs, max((worker.grace for worker in workers), default=0.0))

    def close(self) -> None:
        self.stop()
        for reader in self._readers.values():
            reader.consumer.close()
        self._readers.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> LocalCluster:
        return self.start_broker()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producing and consuming ---------------------------------------------

    def produce(self, records: Iterable[tuple[Any, ...]]) -> int:
        """Publish (logical topic, key, value[, timestamp]) where value is a dict or raw str/bytes and
        the record's timestamp, when given, is in milliseconds since the epoch (else: now)."""
        settings = self.settings()
        assert self.broker is not None
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=5, batch_size=256 * 1024)
        count = 0
        try:
            for topic, key, value, *stamp in records:
                producer.send(settings.topic(topic), key=key.encode() if key is not None else None,
                              value=encode_value(value), timestamp_ms=stamp[0] if stamp else None)
                count += 1
            producer.flush()
        finally:
            producer.close()
        return count

    def consume(self, topics: Iterable[str], *, until: int | None = None, idle: float = 3.0,
                timeout: float = 120.0) -> list[tuple[str, dict]]:
        """Read output topics from the start: (logical topic, value) in arrival order.

        Stops once ``until`` messages arrived (then after ``idle`` s of quiet, to
        catch extras), or after ``idle`` seconds without a message when
        ``until`` is None, or at ``timeout``.  The consumer of a set of topics
        stays open with what it read, so a test that asks again (a ``wait_until``
        loop) reads only what is new.
        """
        reader = self._reader(topics)
        out, names = reader.seen, reader.names
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            got = False
            for msg in reader.consumer:
                out.append((names[msg.topic], json.loads(msg.value)))
                got = True
            if got:
                last = time.monotonic()
            reached = until is not None and len(out) >= until
            if (until is None or reached) and time.monotonic() - last > idle:
                break
        return list(out)

    def _reader(self, topics: Iterable[str]) -> _Reader:
        settings = self.settings()
        assert self.broker is not None
        names = {settings.topic(t): t for t in topics}
        key = frozenset(names)
        reader = self._readers.get(key)
        if reader is None:
            consumer = KafkaConsumer(*names, bootstrap_servers=self.broker.bootstrap, auto_offset_reset="earliest",
                                     group_id=None, enable_auto_commit=False, consumer_timeout_ms=250)
            reader = self._readers[key] = _Reader(consumer, names)
        return reader


def encode_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()
