"""The journal's buffer: starting it anew is a rebase and an add, whatever it held before."""

from __future__ import annotations

from models.journal import Journal


def held(journal: Journal) -> tuple:
    return (journal.base, bytes(journal.blob), journal.count, journal.newest, journal.tail, journal.keys,
            journal.outputs, journal.checkpoints)


def busy() -> Journal:
    journal = Journal(b'{"old":1}')
    for n in range(3):
        journal.add(1_000 + n, 2, 0, b"orders", b'{"n":%d}' % n)
    assert journal.keys  # read once: kept up to date from then on
    journal.outputs[(1_000, 2, 0)] = ["published"]
    journal.checkpoints.append(((1_001, 2, 0), b'{"mid":1}'))
    return journal


def test_begin_leaves_the_journal_as_a_rebase_then_an_add_would() -> None:
    expected, started = busy(), busy()
    expected.rebase(b'{"new":1}')
    expected.add(5_000, 1, 0, b"logins", b'{"l":1}')
    started.begin(b'{"new":1}', 5_000, 1, b"logins", b'{"l":1}')
    assert held(started) == held(expected)
    assert (started.count, started.tail, started.keys, started.outputs, started.checkpoints) == (
        1, 0, [(5_000, 1, 0)], {}, [])
    started.add(6_000, 2, 0, b"orders", b"{}")
    assert started.keys == [(5_000, 1, 0), (6_000, 2, 0)] and started.last_key() == (6_000, 2, 0)
