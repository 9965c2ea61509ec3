"""Query-string forms: an empty field means "no filter"; a bad value is shown beside its field."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

F = TypeVar("F", bound="QueryForm")


class QueryForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def query(self, **override: Any) -> dict[str, str]:
        """The form as query parameters (for links that keep the filters), with ``override``."""
        values = {**self.model_dump(mode="json", exclude_none=True), **override}
        return {k: str(v) for k, v in values.items() if v is not None and k != "cursor"} | (
            {"cursor": override["cursor"]} if override.get("cursor") else {})


def parse(form: type[F], request: Request) -> tuple[F, dict[str, str]]:
    """The form from the query string, and the errors by field name (the form without them on error)."""
    raw = dict(request.query_params)
    try:
        return form.model_validate(raw), {}
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
        kept = {k: v for k, v in raw.items() if k not in errors}
        try:
            return form.model_validate(kept), errors
        except ValidationError:
            return form(), errors


def day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None


def day_end(day: date | None) -> datetime | None:
    """The end of the day, exclusive: the next day's start."""
    return datetime.combine(day + timedelta(days=1), time(), UTC) if day else None
