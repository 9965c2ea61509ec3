"""The base of every rules section: unknown keys are errors, and a section never changes after load."""

from __future__ import annotations

from functools import cache, cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, what the section worked out and remembered (its cached properties)
        is worked out again from the new values, not carried over."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            for name in _remembered(type(self)):
                copy.__dict__.pop(name, None)
        return copy


@cache
def _remembered(cls: type) -> tuple[str, ...]:
    """The names of ``cls``'s cached properties."""
    return tuple(name for klass in cls.__mro__ for name, value in vars(klass).items()
                 if isinstance(value, cached_property))
