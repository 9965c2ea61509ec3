"""Which process simulates which members (``--processes``).

Members are split by a hash of their member id.  Members that hand each other
gifts exchange member commands, so they must be simulated by one process: a pass
over the history links every gift's giver and receiver (``GiftLinks``), and a
linked member's shard is that of the smallest member id it is linked with.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable

from config.topics import Topic


def member_of(line: dict) -> str | None:
    """The member id a line's value names (the line's key when it names none)."""
    value = line.get("value")
    if isinstance(value, dict):
        member = value.get("member_id", value.get("user_pin"))
        if isinstance(member, str):
            return member
    key = line.get("key")
    return key if isinstance(key, str) else None


class GiftLinks:
    """Union-find over the members gifts connect; only they are held."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, member: str) -> str:
        parent = self.parent
        top = member
        while parent.get(top, top) != top:
            top = parent[top]
        while member != top:  # path compression
            member, parent[member] = parent[member], top
        return top

    def link(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            low, high = sorted((ra, rb))
            self.parent[high] = low
            self.parent.setdefault(low, low)

    def observe(self, line: dict) -> None:
        value = line.get("value")
        if line.get("topic") == Topic.REDEMPTIONS and isinstance(value, dict) and value.get("kind") == "gift":
            giver, receiver = value.get("member_id"), value.get("to_member_id")
            if isinstance(giver, str) and isinstance(receiver, str):
                self.link(giver, receiver)

    @classmethod
    def of_lines(cls, texts: Iterable[str]) -> GiftLinks:
        links = cls()
        for text in texts:
            if '"gift"' in text:  # most lines are not gifts: skip their parse
                links.observe(json.loads(text))
        return links


def shard_of(member: str | None, links: GiftLinks, shards: int) -> int:
    if shards == 1 or member is None:
        return 0
    return zlib.crc32(links.root(member).encode()) % shards
