"""``tables.scan.entries_after``: the evaluation's slices over one RocksDB partition."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rocksdict import Options, Rdict

from tables.members import state_key
from tables.scan import entries_after


def test_slices_walk_the_partition_in_key_order_past_bookkeeping_keys(tmp_path: Path) -> None:
    db = Rdict(str(tmp_path / "members-0"), Options(raw_mode=True))
    try:
        keys = [state_key(tenant, f"m{i:02d}") for tenant in ("a", "b") for i in range(7)]
        for n, key in enumerate(keys):
            db[key] = b"v%d" % n
        db[b"__offset__"] = b"42"  # Faust's own bookkeeping in the same DB: no separator
        table = SimpleNamespace(data=SimpleNamespace(_db_for_partition=lambda partition: db))

        seen, after = [], None
        while True:
            piece = entries_after(table, 0, 1, after, 3)
            seen += piece
            if len(piece) < 3:
                break
            after = piece[-1][0]
        assert [key for key, _ in seen] == sorted(keys)
        assert dict(seen) == {key: b"v%d" % n for n, key in enumerate(keys)}

        prefix = state_key("a", "")
        first = entries_after(table, 0, 1, None, 5, prefix)
        assert [key for key, _ in first] == keys[:5]
        assert [key for key, _ in entries_after(table, 0, 1, first[-1][0], 5, prefix)] == keys[5:7]
    finally:
        db.close()
