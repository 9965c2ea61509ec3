"""Field types shared by every contract: money and identifiers.

Money is a ``Decimal`` with at most two places, given on the wire as a JSON
string or number.  NaN, infinities and negatives never get past the contract;
an upper bound that is still sane for any currency is enforced here, and each
tenant's rules can set a lower one (``limits.max_amount``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

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
    """The same moment and offset with the standard library's ``timezone``.  Moments kept in
    the member state are given one: its codec writes a ``timezone`` several times faster than
    pydantic's fixed-offset zone or a ``ZoneInfo`` (which call back into Python).  Only for
    moments compared or shown, not for wall-clock arithmetic across a DST change."""
    zone = value.tzinfo
    if type(zone) is timezone:
        return value
    offset = value.utcoffset()
    fixed = _ZONES.get(offset)
    if fixed is None:
        fixed = UTC if not offset else timezone(offset)
        if len(_ZONES) < 4096:  # offsets in use are few; an odd one is made again
            _ZONES[offset] = fixed
    return value.replace(tzinfo=fixed)


_ZONES: dict[timedelta | None, timezone] = {}


#: When something happened (event time): an RFC 3339 date-time with an offset.
EventTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(fixed_offset)]


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
