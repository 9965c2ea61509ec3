"""Helpers of the experiment tests: an experiment with a holdout and one variant, and members' states with
an exposure in it, as the member table's changelog records the projector reads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from config.rules import TenantRules
from models.state import ExperimentExposure, state_json
from tables.members import state_key
from tests.engine.fixtures import Member, make_rules
from tests.readmodel.fixtures import changelog

ENROLLED = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
#: open-ended, a fifth of its population held out, one variant: 3 days before order points can be spent
EXPERIMENT: dict[str, Any] = {
    "id": "double", "description": "pending points for three days",
    "population": {"starts_at": "2025-03-01T00:00:00+00:00"}, "holdout": "0.2",
    "variants": [{"name": "double", "overlay": {"points": {"pending_days": 3}}, "description": "three days"}]}
RULES: TenantRules = make_rules({"experiments": [EXPERIMENT]})
#: (member, arm, spend, orders, points issued, upgrades, downgrades, grants, benefits used)
PARTS = [
    ("h1", "holdout", "10.00", 1, 10, 0, 0, 0, 0),
    ("h2", "holdout", "20.00", 2, 20, 0, 1, 1, 0),
    ("h3", "holdout", "30.00", 1, 30, 0, 0, 0, 0),
    ("d1", "double", "20.00", 1, 40, 1, 0, 1, 1),
    ("d2", "double", "40.00", 2, 80, 0, 0, 1, 0),
    ("d3", "double", "60.00", 3, 120, 1, 0, 2, 1),
    ("d4", "double", "80.00", 2, 160, 0, 0, 0, 0),
]
COUNTS = ("orders", "points_issued", "upgrades", "downgrades", "grants", "benefits_used")


def member(member_id: str, arm: str, spend: str, *counts: int, tenant_id: str = "default",
           enrolled_at: datetime = ENROLLED) -> Member:
    """A member with one paid order whose state has an exposure in ``double`` with these figures (the
    engine records them; here they are set as it would)."""
    m = Member(RULES, member_id=member_id, tenant_id=tenant_id)
    m.pay(f"{member_id}-o", spend, "2025-03-02T09:30:00+00:00")
    m.state.experiments = {"double": ExperimentExposure(variant=arm, enrolled_at=enrolled_at, spend=Decimal(spend),
                                                        **dict(zip(COUNTS, counts, strict=True)))}
    return m


def records(members: list[Member], first: int = 0) -> list:
    return [changelog(first + i, state_key(m.tenant_id, m.member_id), state_json(m.state))
            for i, m in enumerate(members)]
