"""Helpers for the simulation's tests: histories as JSONL files, rules files with one change."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from config.settings import SHIPPED_RULES_DIR
from memberflow.dev.demo.formats import CST
from memberflow.dev.demo.stream import generate

SHIPPED = SHIPPED_RULES_DIR / "default.yaml"


def write_lines(path: Path, lines: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")
    return path


def demo_lines(members: int, days: int, seed: int = 11) -> list[dict[str, Any]]:
    start = datetime(2025, 3, 3, tzinfo=CST)
    return [{"topic": str(t), "key": k, "value": v} for t, k, v in generate(members, seed, start, days=days)]


def rules_file(path: Path, change: dict[str, Any]) -> Path:
    """The shipped rules with ``change`` (dotted path -> value) applied, as one file."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for name in parents:
            node = node[int(name)] if isinstance(node, list) else node[name]
        node[int(last) if isinstance(node, list) else last] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


DOUBLED_DIAMOND = {"points.earning.tier_multipliers.tiers.DIAMOND": 3}
GOLD_AT_450 = {"tiers.tiers.2.qualify.0.threshold": 450}  # tiers.tiers[2] is GOLD, at 500 in the shipped rules


def doubled_diamond(path: Path) -> Path:
    """DIAMOND's tier multiplier 1.5 -> 3 (the shipped rules give 1.5)."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert data["points"]["earning"]["tier_multipliers"]["tiers"]["DIAMOND"] == 1.5
    return rules_file(path, DOUBLED_DIAMOND)
