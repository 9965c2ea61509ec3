"""Contact details in a profile: names trimmed, phones reduced to digits and a leading +, emails
lower-cased; anything else is refused with the field's path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.events import Profile

BASE = {"event_id": "p1", "member_id": "m1", "occurred_at": "2026-03-01T10:00:00+08:00"}


def test_contact_details_are_stored_in_one_form():
    p = Profile(**BASE, name="  Zoë Ångström ", phone="+86 (138) 0000-0001", email=" Zoe@Example.COM ")
    assert (p.name, p.phone, p.email) == ("Zoë Ångström", "+8613800000001", "zoe@example.com")
    assert Profile(**BASE, phone="020 7946 0958").phone == "02079460958"


@pytest.mark.parametrize(("field", "value"), [
    ("name", "   "), ("name", ""), ("name", "x" * 201),
    ("phone", "call me"), ("phone", "+1"), ("phone", "12-34"), ("phone", "1" * 21),
    ("email", "nobody"), ("email", "a@b"), ("email", "a b@example.com"), ("email", "@example.com"),
])
def test_a_bad_contact_detail_is_refused_with_its_field(field, value):
    with pytest.raises(ValidationError) as refused:
        Profile(**BASE, **{field: value})
    assert refused.value.errors()[0]["loc"] == (field,)
