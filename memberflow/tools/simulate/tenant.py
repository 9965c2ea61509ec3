"""One tenant's history: the lines of a JSONL history whose value names the tenant (``--tenant``).

A line's tenant is its value's ``tenant_id`` (``default`` when the value names
none, as the events' contract says).  A value that is not a JSON object names
no tenant: it would only be a dead letter, and it is left out with the other
tenants' lines.  Business-line definitions carry their tenant too, so only the
tenant's own lines are kept.
"""

from __future__ import annotations

import json
from pathlib import Path


def tenant_of(line: dict) -> str | None:
    value = line.get("value")
    if not isinstance(value, dict):
        return None
    tenant = value.get("tenant_id", "default")
    return tenant if isinstance(tenant, str) else None


def keep_tenant(events: Path, tenant_id: str, out: Path) -> int:
    """Write the lines of ``events`` that belong to ``tenant_id`` to ``out``, in order; how many."""
    kept = 0
    with events.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as sink:
        for text in source:
            if text.strip() and tenant_of(json.loads(text)) == tenant_id:
                sink.write(text if text.endswith("\n") else text + "\n")
                kept += 1
    return kept
