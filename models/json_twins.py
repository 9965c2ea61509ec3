"""Outputs serialized by msgspec, byte for byte as pydantic's ``model_dump_json`` writes them.

The worker serializes every output it sends; pydantic's ``model_dump_json`` costs about four
microseconds a ledger entry, its twin one and a half, the look at its times included.  The twin of a contract
is generated from its pydantic model at first use, never written by hand: the model's fields in
its own order, each encoded as it is (no validation: the value was validated when the model was
built), a field whose ``exclude_if`` is ``omit_none`` or ``omit_empty`` left out as pydantic
leaves it out.  A model the twin cannot mirror exactly (an alias, a serializer of its own, a
computed field, extra fields, a time span, bytes, a float, an ``exclude_if`` of another kind)
has no twin and keeps ``model_dump_json``; so does one value the encoder cannot take.  Tests hold
the two encodings equal over the demo stream's outputs and a generated corpus.
"""

from __future__ import annotations

import math
import types
import typing
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec
from pydantic import AwareDatetime, BaseModel, FutureDatetime, NaiveDatetime, PastDatetime

from models.fields import FastReading, omit_empty, omit_none

__all__ = ["output_json", "twin_of"]

#: field types whose values msgspec writes as pydantic does (containers of them, optional or not)
_PLAIN = (str, int, bool, Decimal, datetime, date, time, type(None))
#: values written alike whatever they hold
_SAFE = frozenset({str, int, bool, Decimal, date, type(None)})
#: pydantic's own kinds of datetime (written as datetimes)
_TIMES = frozenset({AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime})
_UNSET = object()
#: fixed zones whose times msgspec writes as pydantic does (offsets of whole minutes), as seen
_EXACT_ZONES: set[Any] = set()


class _Twin(typing.NamedTuple):
    struct: type[msgspec.Struct]
    checked: tuple[str, ...]  # fields whose values are looked at first: times, and anything typed ``Any``


_twins: dict[type, _Twin | None] = {}


def output_json(value: BaseModel) -> bytes:
    """``value.model_dump_json().encode()``, by the model's twin when it has one."""
    twin = _twins.get(type(value), _UNSET)
    if twin is _UNSET:
        twin = _twin(type(value))
    if twin is not None:
        fields = value.__dict__
        for name in twin.checked:
            item = fields[name]
            if item is not None and not (type(item) is datetime and item.tzinfo in _EXACT_ZONES) and not _exact(item):
                break
        else:
            try:
                return _ENCODER.encode(twin.struct(**fields))
            except (TypeError, NotImplementedError, OverflowError):
                pass  # a value the twin cannot write exactly: pydantic writes it
    return value.model_dump_json().encode()


def twin_of(model: type[BaseModel]) -> type[msgspec.Struct] | None:
    """The Struct that writes ``model``'s JSON as pydantic does, or None when it cannot."""
    twin = _twin(model)
    return None if twin is None else twin.struct


def _twin(model: type[BaseModel]) -> _Twin | None:
    twin = _twins.get(model, _UNSET)
    if twin is _UNSET:
        twin = _twins[model] = _generate(model)
    return twin  # type: ignore[return-value]


def _generate(model: type[BaseModel]) -> _Twin | None:
    if model.model_computed_fields or model.model_config.get("extra") == "allow":
        return None
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        return None
    fields: list[Any] = []
    checked: list[str] = []
    for name, info in model.model_fields.items():
        if info.alias or info.serialization_alias or info.exclude or not _plain(info.annotation):
            return None
        if not all(_validates_only(meta) for meta in info.metadata):
            return None
        if info.exclude_if is None:
            fields.append((name, Any))
        elif info.exclude_if is omit_none:
            fields.append((name, Any, None))
        elif info.exclude_if is omit_empty and info.default_factory in (dict, list):
            fields.append((name, Any, msgspec.field(default_factory=info.default_factory)))
        else:
            return None
        if not _settled(info.annotation):
            checked.append(name)
    struct = msgspec.defstruct(f"{model.__name__}Json", fields, kw_only=True, omit_defaults=True, module=__name__)
    return _Twin(struct, tuple(checked))


def _validates_only(meta: Any) -> bool:
    """Whether a field's metadata leaves its JSON alone: constraints and validators do, serializers not."""
    module = type(meta).__module__
    return module in ("annotated_types", "pydantic.functional_validators") or isinstance(meta, FastReading)


def _args(annotation: Any) -> tuple[Any, ...] | None:
    """The types inside an optional, a union, a list or a dict; None for a plain type."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return typing.get_args(annotation)[:1]
    if origin is typing.Literal:
        return tuple(type(arg) for arg in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType, list, dict):
        return typing.get_args(annotation)
    return None


def _plain(annotation: Any) -> bool:
    """Whether the annotation allows only values msgspec may write as pydantic does."""
    inner = _args(annotation)
    if inner is not None:
        return all(_plain(arg) for arg in inner)
    if annotation in _TIMES:
        return True
    if annotation is Any:
        return True  # each value is looked at (``_exact``)
    if not isinstance(annotation, type) or issubclass(annotation, timedelta | float | bytes):
        return False
    if issubclass(annotation, BaseModel):
        return _twin(annotation) is not None
    return issubclass(annotation, _PLAIN) or issubclass(annotation, Enum)


def _settled(annotation: Any) -> bool:
    """Whether every value the annotation allows is written alike, unseen (no times, no ``Any``)."""
    inner = _args(annotation)
    if inner is not None:
        return all(_settled(arg) for arg in inner)
    if annotation is Any or annotation in _TIMES or not isinstance(annotation, type):
        return False
    return not issubclass(annotation, datetime | time | BaseModel)


def _exact(value: Any) -> bool:
    """Whether msgspec writes ``value`` as pydantic does.  They part on a float of 1e16 or more
    (``1e16`` against ``1e+16``), bytes, time spans, and a zone whose offset has seconds."""
    kind = type(value)
    if kind in _SAFE:
        return True
    if kind is datetime:
        offset = value.utcoffset()
        exact = offset is None or not (offset.seconds % 60 or offset.microseconds)
        if exact and type(value.tzinfo) is timezone:  # one offset whatever the day: remembered
            _EXACT_ZONES.add(value.tzinfo)
        return exact
    if kind is dict:
        return all(type(key) is str and _exact(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_exact(item) for item in value)
    if kind is float:
        return not math.isfinite(value) or abs(value) < 1e15
    if isinstance(value, Enum):
        return isinstance(value, str | int)
    if isinstance(value, BaseModel):
        twin = _twin(kind)
        return twin is not None and all(_exact(value.__dict__[name]) for name in twin.checked)
    return False


def _nested(value: Any) -> Any:
    """A model inside a model (a grant's conditions): written by its own twin."""
    twin = _twin(type(value)) if isinstance(value, BaseModel) else None
    if twin is None:
        raise NotImplementedError(type(value).__name__)
    return twin.struct(**value.__dict__)


_ENCODER = msgspec.json.Encoder(decimal_format="string", enc_hook=_nested)
