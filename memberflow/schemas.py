"""JSON Schemas of every topic, exported from the pydantic contracts."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from config.business_lines import LineDefinition
from engine.intake import INPUT_CONTRACTS
from models.outputs import BadgeChange, BenefitGrant, DeadLetter, LedgerEntry, Notification, TierChange
from models.redemptions import RedemptionResult

OUTPUT_CONTRACTS: dict[str, TypeAdapter] = {
    "points-ledger": TypeAdapter(LedgerEntry),
    "tier-changes": TypeAdapter(TierChange),
    "badge-changes": TypeAdapter(BadgeChange),
    "benefit-grants": TypeAdapter(BenefitGrant),
    "notifications": TypeAdapter(Notification),
    "dead-letters": TypeAdapter(DeadLetter),
    "redemption-results": TypeAdapter(RedemptionResult),
}
#: inputs read outside the members agent (validation mode, like INPUT_CONTRACTS)
CONTROL_CONTRACTS: dict[str, TypeAdapter] = {
    "business-lines": TypeAdapter(LineDefinition),
}


def rendered() -> dict[str, str]:
    """File name -> schema text, for every input and output topic."""
    out = {}
    inputs = {**INPUT_CONTRACTS, **CONTROL_CONTRACTS}
    for topic, adapter in {**inputs, **OUTPUT_CONTRACTS}.items():
        schema = adapter.json_schema(mode="validation" if topic in inputs else "serialization")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": topic, **schema}
        out[f"{topic}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def check_schemas(directory: Path) -> list[str]:
    """Names of exported files that are missing or differ from the contracts."""
    stale = []
    for name, text in rendered().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
