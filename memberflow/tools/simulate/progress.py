"""A progress bar on the terminal (stderr): share of the history read by every run and shard."""

from __future__ import annotations

import sys
import time
from typing import IO

WIDTH = 30


class Progress:
    """Draws ``done / total`` bytes read; only on a terminal, at most ten times a second."""

    def __init__(self, total: int, jobs: int, stream: IO[str] | None = None) -> None:
        self.total = max(total, 1)
        self.done = [0] * jobs
        self.stream = stream if stream is not None else sys.stderr
        self.shown = self.stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0

    def update(self, job: int, done: int) -> None:
        self.done[job] = done
        now = time.monotonic()
        if self.shown and now - self.drawn >= 0.1:
            self.drawn = now
            self.draw(now)

    def draw(self, now: float) -> None:
        share = min(sum(self.done) / self.total, 1.0)
        filled = int(share * WIDTH)
        elapsed = now - self.started
        eta = f"{elapsed / share - elapsed:4.0f}s left" if share > 0 else ""
        self.stream.write(f"\rsimulating [{'#' * filled}{'.' * (WIDTH - filled)}] {share:6.1%} {eta}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.draw(time.monotonic())
            self.stream.write(f"  done in {time.monotonic() - self.started:.1f}s\n")
            self.stream.flush()
