"""Expiry-warning campaigns (config.rules.ExpiryWarning): the warning's text is the tenant's template
rendered with the member's figures, sent to the campaign's channel; an unknown placeholder is refused
at load with the field's path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.outputs import NotificationKind
from tests.engine.fixtures import Member, make_rules
from tests.engine.test_evaluation_examples import evaluate, notices

CAMPAIGN = {"points": {"expiry": {"warn_lead_days": 10, "warn_every_days": 3, "warning": {
    "channel": "sms", "template": "Hi {member_id}: {points} points ({first_points} on {expires_on}) "
                                  "expire by {until} at {tenant_id}"}}}}


def test_the_warning_is_the_template_rendered_and_goes_to_the_campaign_s_channel():
    m = Member(make_rules(CAMPAIGN), "m7")
    m.pay("o1", 40, "2024-03-10T10:00:00+08:00")  # expires 2026-01-01 00:00 (end of next year)
    assert evaluate(m, "2025-12-21T12:00:00+08:00") == (False, [])  # 11 days ahead: not yet
    changed, outputs = evaluate(m, "2025-12-22T12:00:00+08:00")
    (warning,) = notices(outputs, NotificationKind.POINTS_EXPIRY_WARNING)
    assert changed and warning.channel == "sms"
    assert warning.message == "Hi m7: 40 points (40 on 2026-01-01) expire by 2026-01-01 at default"
    assert warning.rules_version == m.rules.version
    assert evaluate(m, "2025-12-24T12:00:00+08:00") == (False, [])  # cadence: 3 days
    assert notices(evaluate(m, "2025-12-25T12:00:00+08:00")[1], NotificationKind.POINTS_EXPIRY_WARNING)


def test_the_default_campaign_is_in_app_with_the_classic_text():
    m = Member(make_rules())
    m.pay("o1", 40, "2024-03-10T10:00:00+08:00")
    (warning,) = notices(evaluate(m, "2025-12-02T12:00:00+08:00")[1], NotificationKind.POINTS_EXPIRY_WARNING)
    assert (warning.channel, warning.message) == ("in_app", "40 points expire by 2026-01-01 (first 40 on 2026-01-01)")


@pytest.mark.parametrize(("template", "why"), [
    ("{points} by {date}", "unknown placeholder(s) {date}"),
    ("{points", "not a template"),
    ("", "at least 1 character"),
])
def test_a_bad_template_is_refused_with_its_path(template, why):
    with pytest.raises(ValidationError) as caught:
        make_rules({"points": {"expiry": {"warning": {"template": template}}}})
    (error,) = caught.value.errors()
    assert error["loc"] == ("points", "expiry", "warning", "template") and why in error["msg"]


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValidationError) as caught:
        make_rules({"points": {"expiry": {"warning": {"channel": "email"}}}})
    assert caught.value.errors()[0]["loc"] == ("points", "expiry", "warning", "channel")
