"""The dev harness's processes: own sessions, logs, stopped by PID, and a failure that shows the log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memberflow.dev.cluster import ROOT, WorkerProcess
from memberflow.dev.processes import Child, ProcessFailed, spawn, stop_process, stop_processes


class Script(Child):
    name = "script"

    def __init__(self, code: str, log_path: Path, fresh_log: bool = False) -> None:
        self.log_path = log_path
        self.proc = spawn([sys.executable, "-c", code], log_path, os.environ, fresh_log=fresh_log)


def test_a_child_that_exits_fails_with_its_log(tmp_path: Path) -> None:
    child = Script("print('boom', flush=True); raise SystemExit(3)", tmp_path / "script.log")
    assert child.proc is not None
    child.proc.wait(30)
    with pytest.raises(ProcessFailed, match="the script exited with code 3") as err:
        child.check()
    assert str(err.value).endswith(f"the last lines of {tmp_path / 'script.log'}:\nboom")


def test_logs_append_unless_fresh(tmp_path: Path) -> None:
    log = tmp_path / "script.log"
    for fresh in (False, False, True, False):
        proc = Script("print('line')", log, fresh_log=fresh).proc
        assert proc is not None and proc.wait(30) == 0
    assert log.read_text().splitlines() == ["line", "line"]


def test_stop_process_stops_its_own_child_in_its_own_session(tmp_path: Path) -> None:
    child = Script("import time; time.sleep(60)", tmp_path / "sleep.log")
    proc = child.proc
    assert proc is not None
    try:
        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
        child.check()  # still running
        stop_process(proc, grace=5)
        assert proc.returncode is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


#: a child that, told to stop, writes its own file and exits only once the other's is there too
WAITS_FOR_THE_OTHER = """
import pathlib, signal, sys, time
mine, other = map(pathlib.Path, sys.argv[1:])
def stop(*_):
    mine.touch()
    while not other.exists():
        time.sleep(0.05)
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
mine.with_suffix(".ready").touch()
time.sleep(120)
"""


def test_stop_processes_tells_every_one_before_waiting_for_any(tmp_path: Path) -> None:
    """As workers of one group do: each ends only once the other has stopped too. Stopped one by
    one, the first would wait out its grace and be killed."""
    a, b = tmp_path / "a", tmp_path / "b"
    procs = [spawn([sys.executable, "-c", WAITS_FOR_THE_OTHER, str(mine), str(other)], tmp_path / f"{mine.name}.log",
                   os.environ) for mine, other in ((a, b), (b, a))]
    try:
        deadline = time.monotonic() + 30
        while not all(p.with_suffix(".ready").exists() for p in (a, b)) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop_processes(procs, grace=20)
        assert [proc.returncode for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_worker_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MEMBERFLOW_PARTITIONS": "many"}
    worker = WorkerProcess("worker", env, tmp_path / "worker.log", web_port=9).start(fresh_log=True)
    try:
        with pytest.raises(ProcessFailed, match=r"the worker exited with code \d+; the last lines of") as err:
            worker.wait_ready(timeout=60)
        assert "MEMBERFLOW_PARTITIONS" in str(err.value)
    finally:
        worker.stop()
    assert worker.proc is not None and worker.proc.returncode is not None
    assert isinstance(worker.proc, subprocess.Popen)
