"""Contracts of the periodic evaluation trigger.

``commands`` takes ``{"type": "evaluate", "tenant_id": ..., "as_of": ...}`` from
the leader's schedule, an operator or a test.  Each worker then walks only the
members of the partitions it owns, one ``EvaluateSlice`` at a time on the
internal ``evaluation-slices`` topic (co-partitioned with the member table).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.fields import EventTime


class EvaluateCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["evaluate"]
    tenant_id: str | None = Field(
        default=None, description="one tenant; null = every tenant that has no rules file of its own"
    )
    as_of: EventTime = Field(description="the period boundary, in event time")


class EvaluateSlice(BaseModel):
    """Evaluate the next members of one partition after ``after`` (internal)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["evaluate_slice"] = "evaluate_slice"
    evaluation_id: str
    tenant_id: str | None
    as_of: EventTime
    partition: int = Field(ge=0)
    after: str | None = Field(default=None, description="last member key evaluated (hex)")
