"""``memberflow worker`` without event time: each event applied as it arrives, no journal
(``benchmarks.engine_cpu.in_arrival_order``).  Wrong on purpose -- an event's outcome then
depends on how the topics interleave -- and run only by ``make bench-event-time``, to time the
worker with and without event time in one tree."""

from __future__ import annotations

import agents.records as records
from benchmarks.engine_cpu import in_arrival_order
from memberflow.cli import main

if __name__ == "__main__":
    records.apply_in_time = in_arrival_order  # type: ignore[assignment]
    raise SystemExit(main())
