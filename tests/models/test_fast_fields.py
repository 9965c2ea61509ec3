"""``EventTime`` reads the shape upstream systems send itself (``FastReading``): the same
accept/reject, errors and moments as its pydantic contract, which reads everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from models.events import Login
from models.fields import EVENT_TIME_CONTRACT, EventTime

FAST = TypeAdapter(EventTime)
REFERENCE = TypeAdapter(EVENT_TIME_CONTRACT)


def outcome(adapter: TypeAdapter, raw: bytes) -> tuple:
    try:
        value = adapter.validate_json(raw)
    except ValidationError as exc:
        return ("error", [(e["type"], e["msg"], e["loc"], e.get("ctx")) for e in exc.errors(include_url=False)])
    return ("ok", value, value.utcoffset(), type(value.tzinfo), adapter.dump_json(value))


DIGIT = st.sampled_from("0123456789")
ODD = st.sampled_from("0123456789 ZzTt:+-.a٣")


def field(width: int) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(DIGIT, DIGIT, DIGIT, ODD), min_size=width, max_size=width).map("".join)


def separator(usual: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), ODD)


OFFSET = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+08:00", "-05:30", "+24:00", "+08:60", "+0800", "+08",
                     "+08:00:00"]),
    st.tuples(st.sampled_from("+-"), field(2), separator(":"), field(2)).map("".join),
)

SHAPED = st.tuples(
    field(4), separator("-"), field(2), separator("-"), field(2), separator("T"),
    field(2), separator(":"), field(2), separator(":"), field(2),
    st.one_of(st.just(""), st.tuples(st.just("."), st.integers(0, 9).flatmap(field)).map("".join)),
    OFFSET,
).map("".join)

ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
REAL = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(ZONES))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(SHAPED, REAL.map(datetime.isoformat), REAL.map(lambda d: d.isoformat().replace("+00:00", "Z")),
                 st.text(max_size=40)))
@example("2025-03-03T08:12:00+08:00")
@example("2025-03-03T08:12:00.1234567+08:00")
@example("2025-03-03T08:12:00+08:60")
@example("2025-03-03T24:00:00+08:00")
@example("2025-02-30T08:12:00Z")
def test_canonical_shape_parses_as_pydantic_does(text: str) -> None:
    raw = TypeAdapter(str).dump_json(text)
    assert outcome(FAST, raw) == outcome(REFERENCE, raw)


@example(10**40)
@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()))
def test_other_json_values_are_refused_or_read_as_the_contract_does(value: object) -> None:
    raw = TypeAdapter(object).dump_json(value)
    assert outcome(FAST, raw) == outcome(REFERENCE, raw)


def test_every_moment_has_a_standard_zone() -> None:
    for text in ("2025-03-03T08:12:00+08:00", "2025-03-03T08:12:00Z", "2025-03-03 08:12:00+08:00"):
        raw = f'{{"event_id": "e", "member_id": "m", "occurred_at": "{text}"}}'
        moment = Login.model_validate_json(raw).occurred_at
        assert type(moment.tzinfo) is timezone


def python_outcome(adapter: TypeAdapter, value: object) -> tuple:
    try:
        read = adapter.validate_python(value)
    except ValidationError as exc:
        return ("error", [(e["type"], e["msg"], e["loc"], e.get("ctx")) for e in exc.errors(include_url=False)])
    return ("ok", str(read), read.utcoffset() if isinstance(read, datetime) else None, type(read))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(SHAPED, REAL, st.datetimes(), st.decimals(allow_nan=True), st.integers(), st.floats(),
                 st.dates()))
def test_python_values_read_as_the_contracts_do(value: object) -> None:
    """Models built in Python (the admin service, the engine's own commands) get the same values."""
    assert python_outcome(FAST, value) == python_outcome(REFERENCE, value)
