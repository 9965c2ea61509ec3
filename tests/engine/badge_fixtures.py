"""Helpers for the badge tests (tests/engine/test_badges*.py, test_published_lines.py): snapshots and a
member harness that applies them to one member's state and keeps the outputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from config.rules import RuleBook, TenantRules
from config.settings import SHIPPED_RULES_DIR
from engine.apply import apply_event
from engine.badges import evaluate_badges
from engine.clock import start_of_day
from engine.outcome import Applied, Emitted, Outcome
from engine.step import Step
from models.badges import BusinessScores
from models.outputs import BadgeChange
from models.state import MemberState
from tests.engine.fixtures import KeptOutputs

#: seed 000's sample payload, exactly
SEED_PAYLOAD = {"user_pin": "xxx", "lc_score": "450", "gdlc_jy_flag": "0", "xjk_jy_amt": "1600.00",
                "jt_hold_amt": "3000.00", "dt": "2022-11-30"}


def shipped() -> RuleBook:
    return RuleBook.load(SHIPPED_RULES_DIR)


def snapshot(dt: str = "2022-11-30", member: str = "m1", **scores: Any) -> BusinessScores:
    return BusinessScores.model_validate({"user_pin": member, "dt": dt, **scores})


def wealth(lc: str | int, jt: str | int = "0.00", flag: str | int = "0", **more: Any) -> dict[str, Any]:
    return {"lc_score": str(lc), "jt_hold_amt": str(jt), "gdlc_jy_flag": str(flag), **more}


def wealth_v(version: int, l1: int = 300, tenant: str = "default", **over: Any) -> dict[str, Any]:
    """A published definition of the shipped Wealth line with another L1 threshold."""
    line = shipped().default.business_lines["wealth"].model_dump(mode="json")
    line["levels"][0]["rule"] = {"field": "lc_score", "op": ">=", "value": l1}
    return {**line, "tenant_id": tenant, "line_id": "wealth", "version": version, **over}


class Holder(KeptOutputs):
    """One member's state under some rules; applies snapshots and evaluations."""

    def __init__(self, rules: TenantRules, member_id: str = "m1") -> None:
        self.rules = rules
        self.member_id = member_id
        self.state: MemberState | None = None
        self.outputs: list[Emitted] = []

    def send(self, dt: str = "2022-11-30", **scores: Any) -> Outcome:
        outcome = apply_event(self.state, snapshot(dt, self.member_id, **scores), self.rules)
        if outcome.result is not Applied.REJECTED:
            self.state = outcome.state
        self.outputs.extend(outcome.outputs)
        return outcome

    def evaluate(self, as_of: str | date, cause: str = "eval") -> tuple[bool, list[Emitted]]:
        """``evaluate_badges`` as the periodic evaluation calls it (``as_of`` a moment or a local day)."""
        assert self.state is not None
        moment = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        when = moment if isinstance(moment, datetime) else start_of_day(moment, self.rules.tz)
        step = Step(self.state, self.rules, f"{cause}-{moment.isoformat()}", when)
        changed = evaluate_badges(step, moment)
        self.outputs.extend(step.outputs)
        return changed, step.outputs

    def level(self, line_id: str) -> int:
        assert self.state is not None
        badge = self.state.badges.get(line_id)
        return badge.level if badge else 0

    @property
    def changes(self) -> list[BadgeChange]:
        return self.of(BadgeChange)
