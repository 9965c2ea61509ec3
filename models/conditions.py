"""The conditions a benefit carries: what an order must be for it to apply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models.fields import Ident, Money


class Conditions(BaseModel):
    """What an order must be for a benefit to apply to it (all optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_spend: Money | None = Field(default=None, description="the order's amount must reach this")
    categories: list[Ident] = Field(default_factory=list, description="only goods of these categories; empty: any")
    channel: Ident | None = Field(default=None, description="only orders placed through this channel, e.g. app")
    per_order: int | None = Field(default=None, ge=1, le=1000,
                                  description="how many of this benefit (its kind) one order may use; null: any")
