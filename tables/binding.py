"""Bind table reads/writes to the event whose partition owns the key.

Faust picks the RocksDB partition and the changelog partition of a table key
from the *current event*.  A batch holds events of several partitions, so
before touching a member's key we make that member's own event current.
"""

from __future__ import annotations

import weakref

from faust.streams import _current_event
from faust.types import EventT


def bind(event: EventT) -> None:
    _current_event.set(weakref.ref(event))
