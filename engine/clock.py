"""Event-time helpers in a tenant's time zone (never the wall clock).

The calendar helpers of dates are memoised: a periodic evaluation asks them the same
questions for every member (the same day, the same windows and period starts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache

from models.fields import fixed_offset

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


@lru_cache(maxsize=4096)
def start_of_day(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


@lru_cache(maxsize=4096)
def start_moment(day: date, tz: tzinfo) -> datetime:
    """``start_of_day`` as a moment to compare -- a due moment, never a base for wall-clock arithmetic
    across a DST change: in the fixed-offset zone the member state's moments share
    (``models.fields.shared_zone``), against which it compares twenty times faster than in ``tz``."""
    return fixed_offset(start_of_day(day, tz))


@lru_cache(maxsize=4096)
def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@lru_cache(maxsize=16_384)
def months_later(moment: datetime, months: int, tz: tzinfo) -> datetime:
    """The same local wall time ``months`` calendar months later (earlier when negative), clamped to
    the month's end.  Memoised: a member's look and its evaluation ask it of the same moment (the
    result depends on the instant only, so equal instants in other zones may share it)."""
    local = moment.astimezone(tz)
    day = add_months(local.date(), months)
    return local.replace(year=day.year, month=day.month, day=day.day)


@lru_cache(maxsize=4096)
def window_days(as_of: date, days: int) -> tuple[date, date]:
    """Inclusive first and last day of a trailing window of ``days`` ending ``as_of``."""
    return as_of - timedelta(days=days - 1), as_of


def micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding).  Counted from the epoch in the
    moment's own fixed-offset zone, when it has one: two moments of one zone object subtract
    without asking it for their offsets, twice as fast (every event's time is counted so)."""
    epoch = _EPOCHS.get(moment.tzinfo)
    if epoch is None:
        epoch = _epoch_in(moment.tzinfo)
    since = moment - epoch
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


#: the epoch in each fixed-offset zone ``micros`` met (there are few)
_EPOCHS: dict[tzinfo | None, datetime] = {}


def _epoch_in(zone: tzinfo | None) -> datetime:
    """The epoch in ``zone`` when it is a fixed offset (remembered), else in UTC: moments in a zone
    with daylight saving time subtract by their offsets."""
    if type(zone) is not timezone:
        return _EPOCH
    epoch = _EPOCH.astimezone(zone)
    if len(_EPOCHS) < 4096:
        _EPOCHS[zone] = epoch
    return epoch


#: ``micros`` of moments many members share (an evaluation's moment, the start of a day or month):
#: the subtraction asks a zone for its offset each time, a repeated moment is looked up
shared_micros = lru_cache(maxsize=4096)(micros)
