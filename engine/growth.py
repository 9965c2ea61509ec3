"""Growth value (seed 003 §3.3): per money paid, and capped behaviours."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from config.rules import GrowthAction, GrowthRules
from engine.step import Step


def order_growth(amount: Decimal, rules: GrowthRules) -> int:
    units = (amount / rules.unit).to_integral_value(rounding=ROUND_FLOOR)
    return int(units) * rules.per_unit


def behaviour_growth(step: Step, name: str, action: GrowthAction) -> int:
    """Add an action's growth unless today's limit is reached; returns what was added."""
    counter = f"growth:{name}"
    if action.value == 0:
        return 0
    if action.daily_limit is not None and (step.beyond_counters or step.counter(counter) >= action.daily_limit):
        return 0
    step.bump(counter)
    step.state.growth += action.value
    return action.value
