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
from typing import Any, TextIO

from memberflow.admin.commands import CommandPublisher
from models.admin import BadRow, ImportReport
from models.commands import ImportMember
from models.imports import READERS, checked_row, import_command_id

MAX_REPORTED = 1000


def command_of(row, as_of: datetime) -> ImportMember:
    return ImportMember(type="import_member", command_id=import_command_id(row), tenant_id=row.tenant_id,
                        member_id=row.member_id, occurred_at=as_of, row=row)


def run_import(lines: Iterable[str], fmt: str, tenant_id: str, as_of: datetime, sink: CommandPublisher,
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
