"""Bind table reads/writes to the message whose partition owns the key.

Faust picks the RocksDB partition and the changelog partition of a table key
from the *current event* (``current_event().message.partition``).  A batch
holds messages of several partitions, so before touching a member's key we
make that member's own message current.
"""

from __future__ import annotations

import weakref

from faust.streams import _current_event
from faust.types import Message


class Owner:
    """Stands in for the Faust event of a message: all Faust's stores read of it is ``.message``."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Message) -> None:
        self.message = message


def bind(owner: Owner) -> None:
    _current_event.set(weakref.ref(owner))
