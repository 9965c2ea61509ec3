"""Walk the member entries of one partition in key order, a slice at a time."""

from __future__ import annotations

from typing import Any

from rocksdict import ReadOptions

from tables.members import SEPARATOR
from tables.partitioning import partition_for

#: a scan reads every block of the partition once: it keeps them out of the block cache (live lookups'
#: blocks stay; the scan itself is about a third cheaper)
_SCAN = ReadOptions()
_SCAN.fill_cache(False)


def entries_after(table: Any, partition: int, partitions: int, after: bytes | None, limit: int,
                  prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
    """Up to ``limit`` (key, stored value) of ``partition`` with keys greater than
    ``after`` (and starting with ``prefix``), read in one scan."""
    store = table.data
    start = max(after or b"", prefix) if prefix else after
    if hasattr(store, "_db_for_partition"):  # RocksDB: one DB per partition, keys sorted
        db = store._db_for_partition(partition)
        candidates = db.items(from_key=start, read_opt=_SCAN) if start else db.items(read_opt=_SCAN)
    else:  # the memory store of agent tests: every partition in one dict
        candidates = sorted(
            (k, v) for k, v in store.data.items()
            if partition_for(k.decode().split(SEPARATOR, 1)[1], partitions) == partition
            and (start is None or k >= start)
        )
    out: list[tuple[bytes, bytes]] = []
    sep = SEPARATOR.encode()
    for key, value in candidates:
        if (after is not None and key <= after) or sep not in key:
            continue  # Faust keeps its own bookkeeping keys (offsets) in the same DB
        if prefix and not key.startswith(prefix):
            break
        out.append((key, value))
        if len(out) >= limit:
            break
    return out
