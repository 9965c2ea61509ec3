"""Contracts of the admin service's what-if simulations: a candidate rules document simulated against
the tenant's rules in force over the last days of the input topics (``memberflow simulate``).

The request carries the same ``rules`` document as ``POST …/rules/validate`` and ``…/rules/versions``;
the figures are the simulation's ``report.json`` (docs/simulation.md), and ``summary`` its key figures.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from models.admin import Contract, Reason, RequestId
from models.admin_rules import RulesCandidate

MAX_DAYS = 400


class SimulationState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SimulationRequest(RulesCandidate):
    days: int = Field(ge=1, le=MAX_DAYS, description="the history simulated: the input topics' records of the "
                                                     "last `days` days, up to the moment it starts")
    evaluate: Literal["schedule", "daily"] = Field(
        default="schedule", description="the periodic evaluation at each rule set's schedule, or every local midnight")
    reason: Reason
    request_id: RequestId


class SimulationStarted(Contract):
    simulation_id: str
    state: SimulationState


class SimulationSummary(Contract):
    """The key figures of a finished simulation: base (the rules in force), candidate, difference."""

    events: int = Field(description="history lines simulated")
    members: int
    points_issued_base: int
    points_issued_candidate: int
    points_issued_difference: int
    liability_base: int = Field(description="points held at the end of the history, under the rules in force")
    liability_candidate: int
    liability_difference: int
    upgrades_base: int
    upgrades_candidate: int
    downgrades_base: int
    downgrades_candidate: int
    members_with_different_tier: int


class SimulationInfo(Contract):
    simulation_id: str
    tenant_id: str
    state: SimulationState
    days: int
    evaluate: Literal["schedule", "daily"]
    since: AwareDatetime = Field(description="the history's start (inclusive)")
    until: AwareDatetime = Field(description="the history's end (exclusive): when it started")
    base_rules: str = Field(description="the rules in force it compares with, as outputs name them (`v<n>` or "
                                        "`file:<digest>`)")
    requested_by: str
    reason: str
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    error: str | None = Field(default=None, description="why it failed (state `failed`)")
    summary: SimulationSummary | None = Field(default=None, description="the key figures (state `done`)")


class SimulationDetail(SimulationInfo):
    rules: dict[str, Any] = Field(description="the candidate's complete rules document")
    report: dict[str, Any] | None = Field(default=None, description="the report's figures (`report.json`, "
                                                                    "docs/simulation.md), state `done`")
