"""Exported JSON Schemas (memberflow.tools.schemas) stay in step with the pydantic contracts."""

from __future__ import annotations

import json
from pathlib import Path

from memberflow.tools.schemas import check_schemas, rendered

ROOT = Path(__file__).resolve().parents[2]


def test_exported_schemas_are_current() -> None:
    stale = check_schemas(ROOT / "schemas")
    assert stale == [], f"run `make schemas`: stale {stale}"


def test_every_topic_has_a_schema_with_its_required_fields() -> None:
    schemas = {name: json.loads(text) for name, text in rendered().items()}
    orders = schemas["orders.schema.json"]
    paid = orders["$defs"]["OrderPaid"]
    assert {"event_id", "member_id", "occurred_at", "type", "order_id", "amount"} <= set(paid["required"])
    ledger = schemas["points-ledger.schema.json"]
    assert {"entry_id", "delta", "balance", "cause_event_id", "tenant_id", "member_id"} <= set(ledger["required"])
    assert {"source_topic", "reason", "payload"} <= set(schemas["dead-letters.schema.json"]["required"])


def test_stale_schema_is_detected(tmp_path: Path) -> None:
    for name, text in rendered().items():
        (tmp_path / name).write_text(text)
    assert check_schemas(tmp_path) == []
    (tmp_path / "orders.schema.json").write_text("{}")
    assert check_schemas(tmp_path) == ["orders.schema.json"]
