"""Read-model rows as the API's models (SQLite hands times back without their offset: UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def as_model(model: type[M], row: sa.Row) -> M:
    data = {k: _aware(v) for k, v in row._mapping.items() if k in model.model_fields}
    return model.model_validate(data)


def as_models(model: type[M], rows: list[sa.Row]) -> list[M]:
    return [as_model(model, row) for row in rows]
