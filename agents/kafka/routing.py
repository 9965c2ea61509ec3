"""Which partition a member belongs to, and which logical topic a message came from."""

from __future__ import annotations

from collections.abc import Mapping

from config.topics import Topic
from tables.partitioning import partition_for

__all__ = ["SOURCE_HEADER", "partition_for", "source_topic"]

SOURCE_HEADER = "memberflow-source-topic"


def source_topic(physical: str, headers: object, logical: Mapping[str, str]) -> str | None:
    """Logical input topic of a message; re-keyed messages carry it in a header."""
    name = logical.get(physical)
    if name is not None and name != Topic.MEMBER_REKEY:
        return name
    for key, value in _items(headers):
        if key == SOURCE_HEADER and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _items(headers: object) -> list[tuple[str, bytes | None]]:
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)  # type: ignore[arg-type]
