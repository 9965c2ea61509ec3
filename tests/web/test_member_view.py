"""The ``as_of`` every member view takes: an RFC 3339 time with an offset, default now."""

from __future__ import annotations

from datetime import UTC, datetime

from memberflow.web.member_view import as_of_of


def test_as_of_is_read_with_its_offset_and_defaults_to_now():
    assert as_of_of({"as_of": "2026-03-06T00:00:00+08:00"}) == datetime(2026, 3, 5, 16, tzinfo=UTC)
    before = datetime.now(UTC)
    assert before <= as_of_of({}) <= datetime.now(UTC)


def test_an_unreadable_or_naive_as_of_says_why():
    assert as_of_of({"as_of": "yesterday"}) == "as_of must be RFC 3339 with an offset"
    assert as_of_of({"as_of": "2026-03-06T00:00:00"}) == "as_of must carry an offset"
