"""An output's JSON written by its msgspec twin is pydantic's ``model_dump_json``, byte for byte."""

from __future__ import annotations

import json
import types
import typing
from collections import Counter, deque
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, Field, PlainSerializer, field_serializer

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from memberflow.tools.replay import replay
from models import outputs
from models.devices import DeviceActivity, RiskFlag
from models.fields import omit_empty, omit_none
from models.json_twins import output_json, twin_of
from models.redemptions import RedemptionResult
from tests.tools.golden_replay import lines

#: the contracts the workers publish on the hot path: each has a twin
TWINNED = [outputs.LedgerEntry, outputs.TierChange, outputs.BadgeChange, outputs.BenefitGrant,
           outputs.MembershipChange, outputs.Notification, outputs.ContactChange, outputs.DeadLetter,
           DeviceActivity, RedemptionResult]


def test_every_output_of_the_demo_replay_is_written_as_pydantic_writes_it() -> None:
    commands: deque[dict[str, Any]] = deque()
    seen: Counter[str] = Counter()
    for out in replay(lines(commands), RuleBook.load(SHIPPED_RULES_DIR)):
        text = out.value.model_dump_json()
        assert output_json(out.value) == text.encode(), text
        if out.topic in ("member-commands", "device-activity"):
            commands.append({"topic": out.topic, "key": out.key, "value": json.loads(text)})
        if twin_of(type(out.value)) is not None:
            seen[type(out.value).__name__] += 1
    # the twins wrote the replay's outputs, every kind of them
    assert {"LedgerEntry", "TierChange", "BenefitGrant", "Notification", "DeviceActivity",
            "RedemptionResult"} <= set(seen)
    assert sum(seen.values()) > 20_000


@pytest.mark.parametrize("model", TWINNED, ids=lambda m: m.__name__)
def test_the_published_contracts_have_twins(model: type[BaseModel]) -> None:
    assert twin_of(model) is not None


# -- a generated corpus: every field of every contract, with the values where msgspec and pydantic part ---------

_ZONES = st.one_of(
    st.just(UTC),
    st.sampled_from([ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/London"), ZoneInfo("America/St_Johns")]),
    st.integers(-24 * 3600 + 1, 24 * 3600 - 1).map(lambda s: timezone(timedelta(seconds=s))),  # seconds too
    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
_MOMENTS = st.datetimes(timezones=st.none() | _ZONES)
_FLOATS = st.one_of(st.floats(), st.sampled_from([1e15, 1e16, -1e16, 1.2345678901234568e17, 1e300, 0.1, 1e-7]))
_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(), _FLOATS, st.decimals(allow_nan=False),
              _MOMENTS, st.dates(), st.timedeltas(), st.binary(max_size=4).map(lambda b: b.hex().encode()),
              st.sampled_from(list(outputs.LedgerKind))),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def values(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of a field's type (its constraints left out: the twin writes what the model holds)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return values(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(values(arg) for arg in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(values(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), values(args[1]), max_size=3)
    if annotation is Any:
        return _JSONISH
    if annotation is type(None):
        return st.none()
    if annotation in (datetime, AwareDatetime):
        return _MOMENTS
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return models(annotation)
    simple = {str: st.text(), int: st.integers(), bool: st.booleans(), float: _FLOATS,
              Decimal: st.decimals(), date: st.dates(),
              time: st.times(), timedelta: st.timedeltas()}
    return simple[annotation]


def models(model: type[BaseModel]) -> st.SearchStrategy[BaseModel]:
    fields = {name: values(info.annotation) for name, info in model.model_fields.items()}
    return st.fixed_dictionaries(fields).map(lambda given: model.model_construct(**given))


@pytest.mark.parametrize("model", [*TWINNED, RiskFlag], ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_generated_output_is_written_as_pydantic_writes_it(model: type[BaseModel], data: st.DataObject) -> None:
    value = data.draw(models(model))
    assert output_json(value) == value.model_dump_json().encode()


# -- what a twin cannot mirror is left to pydantic ----------------------------------------------------------------


class Colour(StrEnum):
    RED = "red"


class Plain(BaseModel):
    name: str
    colour: Colour
    at: datetime
    amount: Decimal | None = Field(default=None, exclude_if=omit_none)
    tags: list[str] = Field(default_factory=list, exclude_if=omit_empty)


class Renamed(BaseModel):
    name: str = Field(serialization_alias="title")


class Measured(BaseModel):
    ratio: float


class Spanned(BaseModel):
    window: timedelta


class Shown(BaseModel):
    amount: Decimal

    @field_serializer("amount")
    def _cents(self, value: Decimal) -> str:
        return f"{value:.2f}"


class Formatted(BaseModel):
    amount: typing.Annotated[Decimal, PlainSerializer(lambda value: float(value))]


class OwnRule(BaseModel):
    note: str | None = Field(default=None, exclude_if=lambda value: value == "")


def test_a_plain_model_has_a_twin_that_leaves_out_what_pydantic_leaves_out() -> None:
    at = datetime(2025, 3, 3, 8, 12, tzinfo=timezone(timedelta(hours=8)))
    for value in (Plain(name="ä", colour=Colour.RED, at=at),
                  Plain(name="b", colour=Colour.RED, at=at, amount=Decimal("1.50"), tags=["x"])):
        assert twin_of(Plain) is not None
        assert output_json(value) == value.model_dump_json().encode()
    assert b"amount" not in output_json(Plain(name="c", colour=Colour.RED, at=at))


@pytest.mark.parametrize("model", [Renamed, Measured, Spanned, Shown, Formatted, OwnRule, RiskFlag],
                         ids=lambda m: m.__name__)
def test_a_model_msgspec_cannot_mirror_has_no_twin(model: type[BaseModel]) -> None:
    assert twin_of(model) is None


def test_a_model_without_a_twin_is_written_by_pydantic() -> None:
    value = Shown(amount=Decimal("3"))
    assert output_json(value) == b'{"amount":"3.00"}'
