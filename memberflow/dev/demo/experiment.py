"""The demo's live experiment: ``make run`` tries GOLD at 450 (instead of 500) on NORMAL and SILVER members
from the demo's third week, so the console's Experiments screen has arms to compare."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from config.rules import load_rules_file
from config.settings import SHIPPED_RULES_DIR

#: the experiment starts this long after the demo stream does
STARTS_AFTER = timedelta(days=14)


def demo_experiment(stream_start: datetime) -> dict[str, Any]:
    return {
        "id": "gold-at-450",
        "description": "GOLD's 30-day spend threshold at 450 instead of 500, for NORMAL and SILVER members",
        "population": {"tiers": ["NORMAL", "SILVER"], "starts_at": (stream_start + STARTS_AFTER).isoformat()},
        "holdout": "0.1",
        "variants": [
            {"name": "control", "description": "the rules in force"},
            {"name": "gold-450", "description": "GOLD at 450",
             "overlay": {"tiers": {"tiers": [{"id": "GOLD", "qualify": [
                 {"metric": {"kind": "spend", "window_days": 30}, "threshold": 450}]}]}}},
        ],
    }


def demo_rules_dir(directory: Path, stream_start: datetime) -> Path:
    """A rules directory: the shipped defaults with the demo's experiment (validated before it is used)."""
    data = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text(encoding="utf-8"))
    data["experiments"] = [demo_experiment(stream_start)]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "default.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_rules_file(path)
    return directory
