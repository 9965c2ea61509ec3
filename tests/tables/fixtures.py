"""Helpers for the table tests (and the agents' tests that write tables): a
table double with the shape of a Faust table on the memory store."""

from __future__ import annotations

from types import SimpleNamespace


class FakeTable(dict):
    """A dict with the shape of a Faust table on the memory store (``table.data.data``)."""

    @property
    def data(self) -> SimpleNamespace:
        return SimpleNamespace(data=self)


class CountingTable(FakeTable):
    """A :class:`FakeTable` that counts its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)
