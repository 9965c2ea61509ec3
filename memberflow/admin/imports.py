"""Member data migration: rows of a CSV or JSONL file become ``import_member`` commands.

``run_import`` validates each row (``models.imports``) as of the import's
moment and sends every valid one to ``member-commands``, keyed by the member id
on the member's partition, so the members agent applies it in order with the
member's events.  A bad row is reported with its line number and why, and
nothing of it is sent (a second row for a member is bad: one row per member).
The command's id is derived from the tenant, the member and the row's content:
importing a file again sends the same commands, which the engine finds applied
already (engine/imports.py).  Used by
``memberflow import FILE``, ``POST /tenants/{tenant_id}/imports`` and the console's Import screen
(``import_file``: audited, a retry by request id gets the first answer; ``check``: the report of a
file without sending anything).
"""

from __future__ import annotations

import hashlib
import io
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from fastapi import HTTPException

from memberflow.admin.commands import CommandPublisher
from memberflow.admin.deps import Scope, Services
from models.admin import AuditOutcome, BadRow, ImportReport, ImportRequest
from models.commands import ImportMember
from models.imports import READERS, checked_row, import_command_id

MAX_REPORTED = 1000
ACTION = "member.import"


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


def lines_of(content: str) -> io.StringIO:
    return io.StringIO(content.removeprefix("\ufeff"), newline=None)  # a spreadsheet's byte order mark


class _Kept:
    """A sink that keeps the commands instead of sending them."""

    def __init__(self) -> None:
        self.commands: list[ImportMember] = []

    def send(self, command: ImportMember) -> None:
        self.commands.append(command)

    def wait(self, sent: list[Any]) -> None:
        pass


def check(content: str, fmt: str, tenant_id: str, as_of: datetime) -> tuple[ImportReport, list[ImportMember]]:
    """What importing ``content`` would do, sending nothing: the report, and the commands it would send."""
    kept = _Kept()
    return run_import(lines_of(content), fmt, tenant_id, as_of, kept), kept.commands


def import_file(svc: Services, scope: Scope, body: ImportRequest, as_of: datetime) -> ImportReport:
    """Send the file's good rows, audited; a retry with the same request id gets the first report
    (409 for another body)."""
    digest = hashlib.sha256(body.model_dump_json(exclude={"request_id"}).encode()).hexdigest()
    earlier = svc.audit.find(scope.who, ACTION, body.request_id)
    if earlier is not None:
        if earlier.detail.get("body") != digest or earlier.tenant_id != scope.tenant_id:
            raise HTTPException(409, f"request id {body.request_id!r} was used already for another import")
        return ImportReport.model_validate(earlier.detail["report"])
    report = run_import(lines_of(body.content), body.format, scope.tenant_id, as_of, svc.commands)
    svc.audit.record(scope.who, scope.tenant_id, ACTION, None, body.reason, body.request_id, AuditOutcome.DONE,
                     {"body": digest, "report": report.model_dump(mode="json")})
    return report


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
