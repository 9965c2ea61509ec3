"""The ``ledger`` table: every member's points history, for paging through it.

The member state stays bounded, so the history lives here, one row per
ledger entry, keyed ``tenant \\x1f member \\x1f <12-digit sequence>`` (rows of
a member sort oldest to newest), plus one head row per member
(``tenant \\x1f member \\x1e``) holding the next sequence number.  Keys and
values are raw bytes; a row's value is the ledger entry's JSON.

The members agent writes the rows of a batch's ledger entries right after
the batch's member states (agents/history.py), binding each write to the
member's own event, so a member's rows sit on the member's partition like
its state and the owning worker can read them by range from its local store.
Only the newest ``retention.ledger_entries`` rows of a member are kept.

The ``points-ledger`` topic stays the complete record; this table is the
query view of it (a crash between the state write and the row write can
lose rows here, never duplicate them).

Bump ``TABLE_VERSION`` when the meaning of stored rows changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import faust

from tables.members import raw_table

TABLE_VERSION = 1
TABLE_NAME = f"ledger-v{TABLE_VERSION}"
SEPARATOR = "\x1f"
HEAD_MARK = "\x1e"
SEQ_DIGITS = 12
#: rows looked at per page at most (a kind filter skips rows)
MAX_SCAN = 5000


def prefix(tenant_id: str, member_id: str) -> bytes:
    return f"{tenant_id}{SEPARATOR}{member_id}{SEPARATOR}".encode()


def row_key(tenant_id: str, member_id: str, seq: int) -> bytes:
    return prefix(tenant_id, member_id) + f"{seq:0{SEQ_DIGITS}d}".encode()


def head_key(tenant_id: str, member_id: str) -> bytes:
    return f"{tenant_id}{SEPARATOR}{member_id}{HEAD_MARK}".encode()


def declare(app: faust.App, partitions: int) -> faust.Table:
    return raw_table(app, TABLE_NAME, partitions, "points history per member (ledger entries by sequence)")


def _rows_newest_first(table: faust.Table, partition: int, low: bytes, high: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Rows with ``low <= key <= high`` of one partition's local store, newest first."""
    store = table.data
    dbs = getattr(store, "_dbs", None)  # RocksDB store: one DB per partition (no range API in Faust)
    if dbs is not None:
        db = dbs.get(partition)
        if db is None:
            return
        for key, value in db.items(backwards=True, from_key=high):
            if key < low:
                return
            yield key, value
        return
    data = store.data  # memory store (tests)
    for key in sorted((k for k in data if low <= k <= high), reverse=True):
        yield key, data[key]


def read_page(
    table: faust.Table,
    partition: int,
    tenant_id: str,
    member_id: str,
    *,
    kind: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` entries older than sequence ``before`` (newest first),
    optionally of one ledger kind; and the cursor of the next page, if any."""
    low = prefix(tenant_id, member_id)
    high = row_key(tenant_id, member_id, before - 1) if before is not None else low + b"\xff"
    if before is not None and before <= 0:
        return [], None
    entries: list[dict[str, Any]] = []
    scanned = 0
    last_seq: int | None = None
    for key, value in _rows_newest_first(table, partition, low, high):
        seq = int(key[len(low):])
        last_seq = seq
        scanned += 1
        entry = json.loads(value)
        if kind is None or entry.get("kind") == kind:
            entries.append({"seq": seq, **entry})
            if len(entries) == limit:
                break
        if scanned >= MAX_SCAN:
            break
    more = last_seq is not None and last_seq > 0 and (len(entries) == limit or scanned >= MAX_SCAN)
    return entries, (last_seq if more else None)
