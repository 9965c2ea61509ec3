"""Deterministic ids for outputs, derived from their cause."""

from __future__ import annotations

import hashlib


def derive_id(prefix: str, *parts: object) -> str:
    """``prefix-<24 hex>`` from the parts; the same cause always gives the same id."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"
