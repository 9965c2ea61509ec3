"""``memberflow simulate --from-topics``: the input topics read from the broker by time range.

The demo history is published with each record's broker timestamp at its event
time; the simulation of [since, until) read from the topics gives the figures of
the same simulation over a file holding just the records of that range.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from kafka import KafkaProducer

from memberflow.dev.cluster import LocalCluster
from memberflow.dev.demo.formats import CST
from memberflow.tools.simulate.report import compare
from memberflow.tools.simulate.run import simulate
from tests.tools.simulate_fixtures import SHIPPED, demo_lines, doubled_diamond, write_lines

ROOT = Path(__file__).resolve().parents[2]
SINCE = datetime(2025, 3, 6, tzinfo=CST)
UNTIL = datetime(2025, 3, 13, 12, tzinfo=CST)


def _timestamped(lines: list[dict]) -> list[dict]:
    """Each line with a broker timestamp: its event time (the one before, when it has none)."""
    out, last = [], None
    for line in lines:
        value = line["value"]
        if isinstance(value, dict) and "occurred_at" in value:
            last = int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)
        if last is not None:
            out.append({**line, "timestamp": last})
    return out


def _publish(cluster: LocalCluster, lines: list[dict]) -> None:
    settings = cluster.settings()
    assert cluster.broker is not None
    producer = KafkaProducer(bootstrap_servers=cluster.broker.bootstrap, linger_ms=5)
    try:
        for line in lines:
            value = line["value"]
            raw = value.encode() if isinstance(value, str) else json.dumps(value).encode()
            producer.send(settings.topic(line["topic"]), key=line["key"].encode(), value=raw,
                          timestamp_ms=line["timestamp"])
        producer.flush()
    finally:
        producer.close()


def test_a_time_range_of_the_input_topics_is_simulated(cluster: LocalCluster, tmp_path: Path) -> None:
    lines = _timestamped(demo_lines(40, 14, seed=5))
    _publish(cluster, lines)
    since_ms, until_ms = SINCE.timestamp() * 1000, UNTIL.timestamp() * 1000
    inside = [line for line in lines if since_ms <= line["timestamp"] < until_ms]
    assert len(lines) > len(inside) > 100
    candidate = doubled_diamond(tmp_path / "candidate.yaml")
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "memberflow.cli", "simulate", "--base", str(SHIPPED), "--candidate", str(candidate),
         "--from-topics", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--out", str(out)],
        env=cluster.env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"read {len(inside)} records from the input topics" in done.stderr
    from_topics = json.loads((out / "report.json").read_text(encoding="utf-8"))

    inside.sort(key=lambda line: line["timestamp"])  # the topics' records, merged by timestamp
    runs = simulate(SHIPPED, candidate, write_lines(tmp_path / "inside.jsonl", inside), until=UNTIL)
    expected = json.loads(json.dumps(compare(*runs, str(SHIPPED), str(candidate))))
    assert from_topics["base"]["events"] == len(inside)
    assert from_topics == expected
    assert from_topics["difference"]["points_issued"] > 0
    moments = list(from_topics["base"]["members_by_tier_over_time"])
    assert datetime.fromisoformat(moments[-1]) == datetime(2025, 3, 13, tzinfo=CST)  # daily, up to --until
