"""The processes the dev harness starts (the embedded broker, workers): how each is started,
watched and stopped.

Each runs in a session of its own, so a terminal's Ctrl-C reaches only the
harness, which stops what it started by PID (``stop_process``).  When one
exits on its own or never gets ready, ``ProcessFailed`` says so with the end
of its log.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

LOG_TAIL_LINES = 40


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ProcessFailed(RuntimeError):
    """A process the harness started exited on its own, or never got ready; the message ends with its log's tail."""

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        if log_path is not None:
            message = f"{message}; the last lines of {log_path}:\n{log_tail(log_path)}"
        super().__init__(message)
        self.log_path = log_path


class Child:
    """A process the harness started: ``proc`` while it runs, its output in ``log_path``."""

    name: str
    proc: subprocess.Popen | None
    log_path: Path | None

    def check(self) -> None:
        """``ProcessFailed`` if it exited on its own."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessFailed(f"the {self.name} exited with code {self.proc.returncode}", self.log_path)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines) if self.log_path is not None else "(no log)"


def spawn(argv: list[str], log_path: Path | None, env: Mapping[str, str], cwd: Path | None = None, *,
          fresh_log: bool = False) -> subprocess.Popen:
    """Start ``argv`` in a session of its own, its output appended to ``log_path`` (emptied
    first with ``fresh_log``), or dropped without one."""
    if log_path is None:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
    with open(log_path, "wb" if fresh_log else "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited -- only our own child, by PID."""
    stop_processes([proc], grace)


def stop_processes(procs: Sequence[subprocess.Popen], grace: float = 5.0) -> None:
    """``stop_process`` for several at once: all are told to stop before any is waited for, so
    they shut down side by side (workers of one group stopped one by one would each hand their
    partitions to the next in a rebalance first)."""
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Children started inside inherit a blocked SIGINT: a Ctrl-C meant for the harness
    never reaches them, so a worker can still reach the broker while it shuts down."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
