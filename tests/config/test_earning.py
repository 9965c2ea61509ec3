"""The points earning configuration (config.earning.schema): the shipped file equals
the model's defaults, compiled once and frozen, and bad values named by field path."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config.earning.schema import EarningRules
from config.settings import SHIPPED_RULES_DIR

DEFAULT = EarningRules()


def test_shipped_yaml_equals_the_model_defaults() -> None:
    data = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text())["points"]
    rules = EarningRules.model_validate(data["earning"])
    assert rules == DEFAULT
    assert set(data["earning"]) == set(EarningRules.model_fields)


def test_compiled_once_and_frozen() -> None:
    assert DEFAULT.compiled is DEFAULT.compiled
    with pytest.raises(ValidationError):
        DEFAULT.base = DEFAULT.base  # type: ignore[misc]


def errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        EarningRules.model_validate(data)
    return [".".join(map(str, e["loc"])) + ": " + e["msg"] for e in info.value.errors()]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"base": {"points_per_unit": -1}}, "base.points_per_unit"),
        ({"base": {"unit": 0}}, "base.unit"),
        ({"base": {"ratio": 1}}, "base.ratio"),
        ({"designated": {"categories": {"fresh": "0.5"}}}, "designated.categories.fresh"),
        ({"tier_multipliers": {"tiers": {"GOLD": -2}}}, "tier_multipliers.tiers.GOLD"),
        ({"windows": [{"id": "x", "start_day": "02-30", "end_day": "03-01"}]}, "windows.0.start_day"),
        ({"windows": [{"id": "x", "start_day": "13-01", "end_day": "03-01"}]}, "windows.0.start_day"),
        ({"windows": [{"id": "x", "start_day": "01-01"}]}, "windows.0"),
        (
            {
                "windows": [
                    {
                        "id": "x",
                        "start_day": "01-01",
                        "end_day": "01-02",
                        "starts_at": "2025-01-01T00:00:00",
                        "ends_at": "2025-01-02T00:00:00",
                    }
                ]
            },
            "windows.0",
        ),
        ({"windows": [{"id": "x", "starts_at": "2025-01-02T00:00:00", "ends_at": "2025-01-01T00:00:00"}]}, "windows.0"),
        (
            {"windows": [{"id": "x", "starts_at": "2025-01-01T00:00:00+08:00", "ends_at": "2025-01-02T00:00:00"}]},
            "windows.0.starts_at",
        ),
        ({"windows": [{"id": "a:b", "start_day": "01-01", "end_day": "01-02"}]}, "windows.0.id"),
        (
            {"threshold_bonus": {"brackets": [{"amount": 200, "op": "=>", "points": 10}]}},
            "threshold_bonus.brackets.0.op",
        ),
        (
            {"threshold_bonus": {"brackets": [{"amount": 200, "points": 10}, {"amount": 200, "points": 20}]}},
            "threshold_bonus.brackets",
        ),
        (
            {"threshold_bonus": {"brackets": [{"amount": 200, "points": 30}, {"amount": 500, "points": 20}]}},
            "threshold_bonus.brackets",
        ),
        (
            {"cart_quantity_bonus": {"brackets": [{"min_quantity": 0, "points": 1}]}},
            "cart_quantity_bonus.brackets.0.min_quantity",
        ),
        ({"price_ranges": {"ranges": [{"id": "r", "min": 500, "max": 100, "factor": 2}]}}, "price_ranges.ranges.0"),
        (
            {"price_ranges": {"ranges": [{"id": "r", "min": 1, "factor": 2}, {"id": "r", "min": 2, "factor": 3}]}},
            "price_ranges.ranges",
        ),
        ({"step_bonus": {"every": 0}}, "step_bonus.every"),
        ({"behaviours": {"points": {"review": -5}}}, "behaviours.points.review"),
        ({"daily_caps": {"tiers": {"GOLD": -1}}}, "daily_caps.tiers.GOLD"),
    ],
)
def test_validation_names_the_bad_field(data: dict[str, Any], path: str) -> None:
    assert any(e.split(": ")[0] == path for e in errors(data)), errors(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"window_multipliers": {"multipliers": {"xmas": 2}}}, "window_multipliers.multipliers"),
        ({"window_categories": {"factors": {"xmas": {"fresh": 2}}}}, "window_categories.factors"),
        ({"daily_caps": {"rules": {"behaviour:reviw": 15}}}, "daily_caps.rules"),
    ],
)
def test_validation_of_references(data: dict[str, Any], words: str) -> None:
    assert any(words in e for e in errors(data)), errors(data)
