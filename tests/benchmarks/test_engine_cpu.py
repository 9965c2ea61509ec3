"""``make bench-cpu`` runs the agent's own classes over the demo stream: a small run does the work it times."""

from __future__ import annotations

import subprocess

import pytest

from benchmarks.engine import cpu_ceiling, reported
from benchmarks.engine_cpu import batches, run
from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR, Settings


def test_a_small_run_evaluates_stores_and_records_history() -> None:
    stream = batches(600, 40, 100)
    assert sum(len(b) for b in stream) == 600 and max(len(b) for b in stream) <= 100
    r = run(stream, RuleBook.load(SHIPPED_RULES_DIR), Settings.from_env({}))
    assert r.events == 600 and r.outputs > 0 and 0 < r.states <= 600
    assert min(r.evaluate, r.encode, r.serialize, r.history) > 0


def test_make_bench_reads_the_engine_cpu_ceiling_from_its_own_process() -> None:
    ceiling = cpu_ceiling(600, 40)
    assert ceiling["kind"] == "engine_cpu" and ceiling["events"] == 600
    assert ceiling["events_per_s"] > 0 and ceiling["us_per_event"] > 0


def test_a_benchmark_process_reports_its_own_kind_in_either_stream() -> None:
    logged = subprocess.CompletedProcess([], 0, stdout="warming up\n",
                                         stderr='[INFO] {"kind": "echo", "ready": true}\n'
                                                '[INFO] {"kind": "count", "events": 3, "events_per_s": 9}\n')
    assert reported("count", logged) == {"kind": "count", "events": 3, "events_per_s": 9}
    with pytest.raises(RuntimeError, match="naive failed"):
        reported("naive", logged)


def test_without_event_time_the_same_events_go_through_engine_apply_alone_with_no_journal(monkeypatch) -> None:
    """``BENCH_CPU_EVENT_TIME=0``: every event applied in arrival order, nothing journaled, the same work timed."""
    from agents import records
    from benchmarks.engine_cpu import in_arrival_order
    from engine.event_time import Arrival
    from tests.engine.fixtures import paid

    book = RuleBook.load(SHIPPED_RULES_DIR)
    record, first = in_arrival_order(None, paid("e1", "o1", "100", "2026-03-01T10:00:00+08:00"),
                                     Arrival("orders", b"", None), book.default)
    record, second = in_arrival_order(record, paid("e2", "o2", "50", "2026-02-01T10:00:00+08:00"),
                                      Arrival("orders", b"", None), book.default)
    assert first.outputs and second.outputs and not record.journal.keys and record.state is second.state
    stream = batches(600, 40, 100)
    with_time = run(stream, book, Settings.from_env({}))
    monkeypatch.setattr(records, "apply_in_time", in_arrival_order)
    without = run(stream, book, Settings.from_env({}))
    assert without.events == with_time.events and abs(without.outputs - with_time.outputs) <= with_time.outputs // 10


def test_both_alternates_the_rounds_with_and_without_event_time_in_one_process(capsys) -> None:
    """``BENCH_CPU_EVENT_TIME=both``: each pair has a round of each, in either order; only the round with
    event time stores journals, and the layer is left as it was found."""
    from agents import records
    from benchmarks.engine_cpu import alternate
    from engine.event_time import apply_in_time

    pairs = alternate(batches(600, 40, 100), RuleBook.load(SHIPPED_RULES_DIR), Settings.from_env({}), 2)
    assert len(pairs) == 2 and records.apply_in_time is apply_in_time
    for with_time, without in pairs:
        assert with_time.events == without.events == 600
        assert with_time.stored_bytes > with_time.state_bytes and without.stored_bytes == without.state_bytes
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["pair 1", "pair 2"] and "of the events/s" in printed[0]
