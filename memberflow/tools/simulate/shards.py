"""Which process simulates which members (``--processes``).

Members are split by a hash of their member id.  Members that interact must be
simulated by one process: gift givers and receivers and inviters and invitees
exchange member commands, and the members of one device are counted together by
the device agent.  A pass over the history links them (``MemberLinks``), and a
linked member's shard is that of the smallest id in its group.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable

from config.topics import Topic

#: definitions every worker reads whole: read from their beginning, whatever the time range, and
#: given to every process
DEFINITIONS = frozenset({Topic.BUSINESS_LINES, Topic.MEMBERSHIP_PLANS})


class MemberLinks:
    """Union-find over the members gifts, invitations and shared devices connect; only they are held.
    A device is a node of its own (``\x00device:<tenant>/<device id>``)."""

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
        if not isinstance(value, dict) or not isinstance(member := value.get("member_id"), str):
            return
        topic = line.get("topic")
        if topic == Topic.REDEMPTIONS and value.get("kind") == "gift":
            if isinstance(receiver := value.get("to_member_id"), str):
                self.link(member, receiver)
        elif topic in (Topic.REGISTRATIONS, Topic.LOGINS):
            if isinstance(inviter := value.get("invited_by"), str):
                self.link(member, inviter)
            if isinstance(device := value.get("device_id"), str):
                self.link(member, f"\x00device:{value.get('tenant_id', 'default')}/{device}")

    @classmethod
    def of_lines(cls, texts: Iterable[str]) -> MemberLinks:
        links = cls()
        for text in texts:
            if '"gift"' in text or '"device_id"' in text:  # most lines link nothing: skip their parse
                links.observe(json.loads(text))
        return links


def shard_of(member: str | None, links: MemberLinks, shards: int) -> int:
    if shards == 1 or member is None:
        return 0
    return zlib.crc32(links.root(member).encode()) % shards
