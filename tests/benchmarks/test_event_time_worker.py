"""`make bench-event-time` on a small stream: both workers read every event, the one without
event time never puts an event in its place or finds one too late, the one with it finds none
too late either, and the figures are printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_a_small_run_times_both_workers_and_prints_the_ratios() -> None:
    env = {**os.environ, "BENCH_EVENTS": "6000", "BENCH_MEMBERS": "600", "BENCH_PAIRS": "1"}
    out = subprocess.run([sys.executable, "-m", "benchmarks.event_time_worker"], capture_output=True, text=True,
                         timeout=600, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    runs = {line["mode"]: line for line in lines if line["kind"] == "worker"}
    assert set(runs) == {"event time", "arrival order"}
    for run in runs.values():
        ended = run["outcomes"]
        assert run["events_per_s"] > 0 and run["cpu_us_per_event"] > 0
        assert sum(n for outcome, n in ended.items() if ":" not in outcome) >= 6000  # every event read
    arrival = runs["arrival order"]["outcomes"]
    assert arrival["rewound"] == 0 and "dead_lettered:too_late" not in arrival
    # the demo stream is in time order per member: read as a backlog, nothing of it is too late -- not even
    # the device agent's verdicts, which trail the member topics by days of event time meanwhile
    assert "dead_lettered:too_late" not in runs["event time"]["outcomes"]
    (summary,) = [line for line in lines if line["kind"] == "event_time_cost"]
    assert len(summary["ratios"]) == len(summary["cpu_ratios"]) == 1
    assert "events per CPU second" in out.stdout
