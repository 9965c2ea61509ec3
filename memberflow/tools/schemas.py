"""JSON Schemas of every topic, exported from the pydantic contracts in the topic registry."""

from __future__ import annotations

import json
from pathlib import Path

from config.topics import Role, Topic


def rendered() -> dict[str, str]:
    """File name -> schema text, for every topic with a contract (what memberflow
    reads in validation mode, what it writes in serialization mode)."""
    out = {}
    for topic in Topic:
        if topic.adapter is None:
            continue
        mode = "serialization" if topic.role is Role.OUTPUT else "validation"
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": topic.value,
                  **topic.adapter.json_schema(mode=mode)}
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
