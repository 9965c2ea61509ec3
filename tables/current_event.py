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


class MessageEvent:
    """The Faust event of a message, as far as tables care: all Faust's stores read of it is ``.message``."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Message) -> None:
        self.message = message


def make_current(event: MessageEvent) -> None:
    """Table reads and writes from now on go to ``event``'s partition."""
    _current_event.set(weakref.ref(event))


def current() -> MessageEvent:
    """The event table writes go to now (the one ``make_current`` was given last)."""
    ref = _current_event.get(None)
    event = ref() if ref is not None else None
    if event is None:
        raise RuntimeError("table write outside of an event (make one current first)")
    return event
