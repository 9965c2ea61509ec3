"""Forms: query-string forms (an empty field means "no filter") and posted forms (an empty field is
not given); a bad value is shown beside its field."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

F = TypeVar("F", bound="QueryForm")
M = TypeVar("M", bound=BaseModel)


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


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The errors by field name (the first of each)."""
    errors: dict[str, str] = {}
    for e in exc.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        errors.setdefault(name, "required" if e["type"] == "missing" else e["msg"])
    return errors


def posted(model: type[M], raw: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """A posted form as ``model`` (blank fields left out), or None and the errors by field name."""
    given = {k: v for k, v in raw.items() if not (isinstance(v, str) and not v.strip())}
    try:
        return model.model_validate(given), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None


def day_end(day: date | None) -> datetime | None:
    """The end of the day, exclusive: the next day's start."""
    return datetime.combine(day + timedelta(days=1), time(), UTC) if day else None
