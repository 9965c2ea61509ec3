"""Helpers for the rules tests, and for the engine's tests of published definitions."""

from __future__ import annotations

from typing import Any


def definition(**over: Any) -> dict[str, Any]:
    """A valid published definition of a new line, jd_plus v2 (all four field types, nested rules)."""
    base = {
        "tenant_id": "default",
        "line_id": "jd_plus",
        "version": 2,
        "name": "JD Plus",
        "fields": {"plus_score": "int", "plus_amt": "decimal", "plus_flag": "flag", "plus_city": "string"},
        "levels": [
            {"level": 1, "name": "Plus", "rule": {"field": "plus_score", "op": ">=", "value": 100},
             "rights": [{"benefit": "plus_coupon", "value": 5, "valid_days": 7}]},
            {"level": 2, "name": "Plus Gold",
             "rule": {"all": [{"field": "plus_score", "op": ">=", "value": 200},
                              {"any": [{"field": "plus_flag", "op": "==", "value": True},
                                       {"field": "plus_amt", "op": ">", "value": "999.99"}]}]}},
        ],
    }
    return {**base, **over}
