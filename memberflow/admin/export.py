"""Exports as CSV or XLSX, streamed: rows are read from the database a chunk at a time and
written out as they come, so memory stays flat however many rows there are.

CSV is streamed to the client as it is written.  XLSX is written with
openpyxl's write-only workbook (rows go to a temporary file, never held as a
sheet in memory) and the finished file is streamed from disk, then deleted.
Times are RFC 3339 text in UTC, money and other decimals are numbers, JSON
values (badges, granted) are JSON text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook

Format = Literal["csv", "xlsx"]
CHUNK_ROWS = 1000
FILE_CHUNK = 64 * 1024
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, float):  # SQLite hands numerics back as floats
        return Decimal(str(value))
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([cell(v) for v in row])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_file(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> str:
    """Write the rows to a temporary .xlsx file; its path (the caller deletes it)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([cell(v) for v in row])
    fd, path = tempfile.mkstemp(prefix="memberflow-export-", suffix=".xlsx")
    os.close(fd)
    workbook.save(path)
    return path


def file_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes a chunk at a time; the file is deleted afterwards."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(FILE_CHUNK):
                yield chunk
    finally:
        os.unlink(path)
