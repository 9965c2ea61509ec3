"""The journal's buffer: started anew (a rebase, then an add), it holds the one entry, whatever it held before."""

from __future__ import annotations

from models.journal import Journal


def busy() -> Journal:
    journal = Journal(b'{"old":1}')
    for n in range(3):
        journal.add(1_000 + n, 2, 0, b"orders", b'{"n":%d}' % n)
    assert journal.keys  # read once: kept up to date from then on
    journal.outputs[(1_000, 2, 0)] = ["published"]
    journal.checkpoints.append(((1_001, 2, 0), b'{"mid":1}'))
    return journal


def test_a_journal_started_anew_holds_its_one_entry_and_nothing_of_before() -> None:
    started, fresh = busy(), Journal()
    started.rebase(b'{"new":1}')
    started.add(5_000, 1, 0, b"logins", b'{"l":1}')
    fresh.rebase(b'{"new":1}')
    fresh.add(5_000, 1, 0, b"logins", b'{"l":1}')
    assert (started.base, bytes(started.blob), started.newest) == (fresh.base, bytes(fresh.blob), fresh.newest)
    assert (started.count, started.tail, started.keys, started.outputs, started.checkpoints) == (
        1, 0, [(5_000, 1, 0)], {}, [])
    started.add(6_000, 2, 0, b"orders", b"{}")
    assert started.keys == [(5_000, 1, 0), (6_000, 2, 0)] and started.last_key() == (6_000, 2, 0)
