"""What the simulation reads of an input line itself: its event time and member (the engine parses the rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class Head(msgspec.Struct):
    """What the simulation reads of a payload itself (the engine parses the rest)."""

    occurred_at: Any = None
    member_id: Any = msgspec.UNSET
    user_pin: Any = None


_HEAD = msgspec.json.Decoder(Head)


def head_of(line: dict) -> Head:
    value = line.get("value")
    if isinstance(value, msgspec.Raw):
        try:
            return _HEAD.decode(value)
        except msgspec.MsgspecError:
            return Head()  # not an object: the engine dead-letters it
    if isinstance(value, dict):
        return Head(value.get("occurred_at"), value.get("member_id", msgspec.UNSET), value.get("user_pin"))
    return Head()


def event_time(head: Head) -> datetime | None:
    """The payload's ``occurred_at``, when it has a valid aware one."""
    text = head.occurred_at
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def member_of(line: dict, head: Head) -> str | None:
    """The member id a line's payload names (the line's key when it names none)."""
    member = head.user_pin if head.member_id is msgspec.UNSET else head.member_id
    if isinstance(member, str):
        return member
    key = line.get("key")
    return key if isinstance(key, str) else None
