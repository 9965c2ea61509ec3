"""Member data migration: rows of a CSV or JSONL file become ``import_member`` commands.

``run_import`` validates each row (``models.imports``) as of the import's
moment and sends every valid one to ``member-commands``, keyed by the member id
on the member's partition, so the members agent applies it in order with the
member's events.  A bad row is reported with its line number and why, and
nothing of it is sent (a second row for a member is bad: one row per member).
The command's id is derived from the tenant, the member and the row's content:
importing a file again sends the same commands, which the engine finds applied
already (engine/imports.py).  Used by
``memberflow import FILE`` and ``POST /tenants/{tenant_id}/imports``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TextIO

from kafka import KafkaProducer

from agents.kafka.routing import partition_for
from models.admin import BadRow, ImportReport
from models.commands import ImportMember
from models.imports import READERS, checked_row, import_command_id

MAX_REPORTED = 1000


class CommandSink(Protocol):
    def send(self, command: ImportMember) -> Any:
        """Send ``command``; a handle ``wait`` takes."""

    def wait(self, sent: list[Any]) -> None:
        """Return once the broker acknowledged every command of ``sent``."""


class KafkaCommandSink:
    """Sends commands to ``member-commands`` on each member's partition."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, timeout_s: float) -> None:
        wait_ms = int(timeout_s * 1000)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                      request_timeout_ms=wait_ms, max_block_ms=wait_ms)
        self.topic, self.partitions, self.timeout_s = topic, partitions, timeout_s

    def send(self, command: ImportMember) -> Any:
        return self.producer.send(self.topic, key=command.member_id.encode(),
                                  value=command.model_dump_json().encode(),
                                  partition=partition_for(command.member_id, self.partitions))

    def wait(self, sent: list[Any]) -> None:
        self.producer.flush(self.timeout_s)
        for future in sent:
            future.get(timeout=self.timeout_s)  # raises if one was not acknowledged

    def close(self) -> None:
        self.producer.close()


def command_of(row, as_of: datetime) -> ImportMember:
    return ImportMember(type="import_member", command_id=import_command_id(row), tenant_id=row.tenant_id,
                        member_id=row.member_id, occurred_at=as_of, row=row)


def run_import(lines: Iterable[str], fmt: str, tenant_id: str, as_of: datetime, sink: CommandSink,
               progress: Callable[[int], None] = lambda line: None) -> ImportReport:
    """Validate and send every row of ``lines`` (a ``csv`` or ``jsonl`` file); the report."""
    rows = bad_count = 0
    bad: list[BadRow] = []
    sent: list[Any] = []
    first_line: dict[str, int] = {}  # member id -> the line it was sent from
    for line, fields in READERS[fmt](lines):
        rows += 1
        row = checked_row(fields, tenant_id, as_of) if isinstance(fields, dict) else fields
        if not isinstance(row, str):
            seen = first_line.setdefault(row.member_id, line)
            if seen != line:
                row = f"member_id: {row.member_id!r} is on line {seen} already (one row per member)"
        if isinstance(row, str):
            bad_count += 1
            if len(bad) < MAX_REPORTED:
                bad.append(BadRow(line=line, reason=row))
        else:
            sent.append(sink.send(command_of(row, as_of)))
        progress(line)
    sink.wait(sent)
    return ImportReport(rows=rows, sent=len(sent), bad=bad, bad_count=bad_count)


class ProgressBar:
    """A one-line progress bar on a terminal (``\\r``-redrawn, at most ten times a second)."""

    def __init__(self, total_lines: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.out, self.width = max(total_lines, 1), out, width
        self.drawn_at = 0.0

    def __call__(self, line: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        share = min(line / self.total, 1.0)
        filled = int(share * self.width)
        self.out.write(f"\rimport [{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
                       f"line {line:,} of {self.total:,}")
        if final:
            self.out.write("\n")
        self.out.flush()
