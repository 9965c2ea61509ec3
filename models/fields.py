"""Field types shared by every contract: money and identifiers.

Money is a ``Decimal`` with at most two places, given on the wire as a JSON
string or number.  NaN, infinities and negatives never get past the contract;
an upper bound that is still sane for any currency is enforced here, and each
tenant's rules can set a lower one (``limits.max_amount``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError, core_schema

#: Hard ceiling of the contract; tenant rules usually set a much lower one.
CONTRACT_MAX_AMOUNT = Decimal("1000000000")

Money = Annotated[
    Decimal,
    Field(ge=0, le=CONTRACT_MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
]

#: Identifiers coming from upstream systems: non-empty, bounded.
Ident = Annotated[str, Field(min_length=1, max_length=128)]

ZERO = Decimal("0")
CENT = Decimal("0.01")

#: Business-line ids appear in URLs and output ids: a conservative alphabet.
LineId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


#: A number, or a string of digits: pydantic would read either as seconds since 1970.
_EPOCH_LIKE = re.compile(r"^\s*[+-]?\d+(\.\d*)?\s*$")


def _rfc3339_text(value: Any) -> Any:
    """Refuse event times given as numbers: ``12345`` is no RFC 3339 time, and reading it as
    seconds (or milliseconds) since 1970 would credit points that expired decades ago."""
    if type(value) is str and "-" in value:
        return value  # a date-time, or something pydantic refuses as none
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and _EPOCH_LIKE.match(value)):
        raise PydanticCustomError(
            "implausible_time", "an event time must be an RFC 3339 date-time with an offset, not the number {number}",
            {"number": str(value)})
    return value


def fixed_offset(value: datetime) -> datetime:
    """The same moment and offset in the shared ``timezone`` of its offset.  Moments kept in
    the member state are given one: its codec writes a ``timezone`` several times faster than
    pydantic's fixed-offset zone or a ``ZoneInfo`` (which call back into Python).  Only for
    moments compared or shown, not for wall-clock arithmetic across a DST change."""
    zone = shared_zone(value.utcoffset())
    return value if value.tzinfo is zone else value.replace(tzinfo=zone)


def shared_zone(offset: timedelta | None) -> timezone:
    """The one ``timezone`` of an offset: the very object the state's codec (msgspec) decodes it to.
    Two aware moments compare some twenty times faster when their zones are the same object (else
    each side is asked for its offset), and the engine compares moments at every step."""
    zone = _ZONES.get(offset)
    if zone is None:
        zone = UTC if not offset else timezone(offset)
        whole_minutes = offset is not None and not offset.microseconds and not offset.seconds % 60
        if offset and whole_minutes and abs(offset) < timedelta(days=1):
            text = datetime(2000, 1, 1, tzinfo=zone).isoformat()  # "...+08:00"
            zone = msgspec.convert(text, datetime).tzinfo  # type: ignore[assignment]
        if len(_ZONES) < 4096:  # offsets in use are few; an odd one is made again
            _ZONES[offset] = zone
    return zone


_ZONES: dict[timedelta | None, timezone] = {}


_SLOW = object()  # ``FastReading.read``'s "not mine": pydantic reads the value


class FastReading:
    """``contract`` (a pydantic type) validated by ``read`` where it can (it answers ``_SLOW`` where it
    cannot, then pydantic reads the value): the same values, errors and JSON Schema, cheaper for the
    shapes upstream systems send.  Serialized as the annotated type.  ``tests/models/test_fast_fields.py``
    holds each equal to its contract."""

    def __init__(self, read: Callable[[Any], Any], contract: Any) -> None:
        self.read = read
        self.contract = contract
        self.adapter = TypeAdapter(contract)

    def validate(self, value: Any, info: ValidationInfo) -> Any:
        fast = self.read(value)
        if fast is not _SLOW:
            return fast
        try:  # JSON input read as JSON: pydantic reads some values otherwise in Python
            if info.mode == "json":
                return self.adapter.validate_json(json.dumps(value))
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise PydanticCustomError(error["type"], error["msg"], error.get("ctx")) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # pydantic's PlainValidator checks what the type's serializer returns against the type itself,
        # and warns at every JSON dump (a datetime's JSON is a string)
        serialization = core_schema.wrap_serializer_function_ser_schema(lambda v, h: h(v), schema=handler(source))
        return core_schema.with_info_plain_validator_function(
            self.validate, serialization=serialization, json_schema_input_schema=handler.generate_schema(self.contract))


def _canonical(text: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)`` by its separators: the shape upstream
    systems send, which ``datetime.fromisoformat`` reads exactly as pydantic does (digits are
    checked by the parse itself; ``tests/models/test_fast_fields.py`` holds the two equal)."""
    size = len(text)
    if size < 20 or text[4] != "-" or text[7] != "-" or text[10] != "T" or text[13] != ":" or text[16] != ":":
        return False
    if text[-1] == "Z":
        end = size - 1
    elif text[-6] in "+-" and text[-3] == ":" and text[-2] in "012345":  # "+08:60" is no offset
        end = size - 6
    else:
        return False
    return end == 19 or (text[19] == "." and 21 <= end <= 26)


def _canonical_time(value: Any) -> Any:
    """The canonical shape read by msgspec (a third of a login's decoding was pydantic's, measured):
    zoned, as the shape ends in an offset, with the shared ``timezone`` ``fixed_offset`` gives;
    a moment with such a zone (outputs the engine builds) passes as it is."""
    kind = type(value)
    if kind is str and _canonical(value):
        try:  # msgspec: its zone is the one the state's codec gives (``shared_zone``)
            return msgspec.convert(value, datetime)
        except msgspec.ValidationError:
            pass  # not a moment (February 30th): pydantic's own error
    elif kind is datetime and type(value.tzinfo) is timezone:  # the engine's own moments, as they are
        return value
    return _SLOW


#: When something happened (event time): an RFC 3339 date-time with an offset.
EVENT_TIME_CONTRACT = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(fixed_offset)]
EventTime = Annotated[AwareDatetime, FastReading(_canonical_time, EVENT_TIME_CONTRACT)]


# -- contact details (profiles, imports) ---------------------------------------

_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{4,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def phone_number(value: str) -> str:
    """A phone number as stored and searched: digits with an optional leading ``+``, the
    spaces, dots, dashes and brackets people write between them taken out."""
    value = value.strip()
    if not _PHONE.match(value):
        raise PydanticCustomError("phone", "a phone number: digits, optionally a leading + and separators")
    digits = re.sub(r"[^0-9]", "", value)
    if not 5 <= len(digits) <= 20:
        raise PydanticCustomError("phone", "a phone number has 5 to 20 digits")
    return ("+" if value.startswith("+") else "") + digits


def email_address(value: str) -> str:
    """An email address as stored and searched: trimmed and lower-cased."""
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise PydanticCustomError("email", "an email address: name@domain")
    return value


#: A member's name as given (trimmed; searched case-insensitively).
PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(str.strip),
                       AfterValidator(lambda v: v if v else _blank())]
Phone = Annotated[str, Field(max_length=40), AfterValidator(phone_number)]
Email = Annotated[str, Field(max_length=254), AfterValidator(email_address)]


def _blank() -> str:
    raise PydanticCustomError("blank", "a name must not be blank")


def omit_none(value: Any) -> bool:
    """``exclude_if`` of a field left out of the JSON while it is None (``models.json_twins`` mirrors it)."""
    return value is None


def omit_empty(value: Any) -> bool:
    """``exclude_if`` of a collection left out of the JSON while it is empty."""
    return not value
