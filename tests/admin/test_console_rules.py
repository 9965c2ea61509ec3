"""The console's Rules screen through FastAPI's test client: the rules in force with their version for
every role, the editor for operators (check and simulate) and Publish for admins only, a candidate's
errors at their field paths, its changes against the rules in force, publish (audited, retry-safe), the
diff between versions and a roll back."""

from __future__ import annotations

import html
import re

import pytest
import yaml
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import LIMITS, TENANT
from tests.readmodel.fixtures import rules

PAGE = f"/console/{TENANT}/rules"


@pytest.fixture(scope="module")
def app(filled, audit, published, rules_published):
    return create_app(filled, audit, published, LIMITS, rules(), rules_published)


@pytest.fixture(scope="module")
def admin(app, token) -> TestClient:
    return signed_in(app, token["admin"])


def form_of(page: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="[^"]*/rules#editor".*?</form>', page, re.S).group(0)
    return {"csrf": csrf_of(page), "request_id": re.search(r'name="request_id" value="([^"]+)"', form).group(1)}


def in_force(page: str) -> str:
    return re.search(r'data-testid="rules-version">([^<]*)<', page).group(1)


def test_every_role_sees_the_rules_in_force_and_only_an_operator_the_editor(app, token, admin):
    viewer = signed_in(app, token["viewer"])
    page = viewer.get(PAGE).text
    assert in_force(page).startswith("file:") and "no version was published" in page
    assert 'data-testid="form-rules"' not in page and "Roll back" not in page
    assert set(fields(page).buttons) == {"Compare", "Sign out"}
    csrf = csrf_of(page)
    assert viewer.post(PAGE, data={"csrf": csrf, "rules": "{}", "action": "check"}).status_code == 403
    assert admin.post(PAGE, data={"rules": "{}", "action": "check"}).status_code == 403  # no CSRF token
    parsed = fields(admin.get(PAGE).text)
    assert "Publish" in parsed.buttons and all(f.get("id") in parsed.labelled for f in parsed.fields)


@pytest.mark.parametrize(("text", "path", "why"), [
    ("tiers: {downgrade_warning_days: -1}", "tiers.downgrade_warning_days", "greater than or equal to 0"),
    ("points: {expiry: {warning: {template: '{points} by {when}'}}}", "points.expiry.warning.template",
     "unknown placeholder(s) {when}"),
    ("currencyy: CNY", "currencyy", "Extra inputs are not permitted"),
    ("tiers: [unclosed", "(document)", "not YAML"),
    ("- a list", "(document)", "a mapping of sections"),
])
def test_a_bad_candidate_is_422_with_each_error_at_its_field_path(admin, rules_published, text, path, why):
    before = len(rules_published.versions)
    page = admin.get(PAGE).text
    answer = admin.post(PAGE, data={**form_of(page), "rules": text, "action": "publish", "reason": "r"})
    assert answer.status_code == 422
    problems = re.search(r'data-testid="problems">(.*?)</ul>', answer.text, re.S).group(1)
    assert f"<code>{path}</code>: " in problems and why in html.unescape(problems), problems
    assert html.unescape(re.search(r'<textarea[^>]*>(.*?)</textarea>', answer.text, re.S).group(1)) == text
    assert len(rules_published.versions) == before


def test_check_shows_the_changes_then_publish_and_roll_back(admin, rules_published, audit):
    before = len(rules_published.versions)
    page = admin.get(PAGE).text
    change = "tiers: {downgrade_warning_days: 9}"
    checked = admin.post(PAGE, data={**form_of(page), "rules": change, "action": "check"})
    assert checked.status_code == 200 and 'data-testid="candidate-valid"' in checked.text
    rows = re.search(r'data-testid="changes">.*?<tbody>(.*?)</tbody>', checked.text, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", rows) == ["tiers.downgrade_warning_days"]
    assert len(rules_published.versions) == before

    blank = admin.post(PAGE, data={**form_of(checked.text), "rules": change, "action": "publish", "reason": " "})
    assert blank.status_code == 422 and re.search(r'id="publish-reason-error">[^<]*<', blank.text)
    body = {**form_of(checked.text), "rules": change, "action": "publish", "reason": "warn earlier"}
    first = admin.post(PAGE, data=body)
    again = admin.post(PAGE, data=body)  # a reload of the answer: the same version, nothing new
    assert first.status_code == again.status_code == 303 and first.headers["location"].endswith("published=1")
    assert [v.version for v in rules_published.versions[before:]] == [1]
    assert (audit.records[-1].action, audit.records[-1].reason) == ("rules.publish", "warn earlier")
    shown = admin.get(PAGE).text
    assert in_force(shown) == "v1" and "warn earlier" in shown
    assert yaml.safe_load(html.unescape(re.search(r'data-testid="in-force">(.*?)</pre>', shown, re.S).group(1)))[
        "tiers"]["downgrade_warning_days"] == 9

    second = admin.get(PAGE).text
    assert admin.post(PAGE, data={**form_of(second), "rules": "tiers: {downgrade_warning_days: 3}",
                                  "action": "publish", "reason": "again"}).status_code == 303
    diff = admin.get(f"{PAGE}?from=1&to=2").text
    assert re.search(r"<code>tiers.downgrade_warning_days</code></td><td>changed</td><td[^>]*>9</td><td[^>]*>3</td>",
                     diff), diff[-3000:]
    assert admin.get(f"{PAGE}?from=1&to=7").status_code == 422

    page = admin.get(PAGE).text
    rollback = re.search(r'<form method="post" action="[^"]*/rollback".*?</form>', page, re.S).group(0)
    request_id = re.search(r'name="request_id" value="([^"]+)"', rollback).group(1)
    back = admin.post(f"{PAGE}/rollback", data={"csrf": csrf_of(page), "request_id": request_id, "version": "1",
                                                "reason": "3 days was too short"})
    assert back.status_code == 303 and back.headers["location"].endswith("published=3")
    assert rules_published.versions[-1].rules.tiers.downgrade_warning_days == 9
    assert (audit.records[-1].action, audit.records[-1].detail["restores"]) == ("rules.rollback", 1)
    assert in_force(admin.get(PAGE).text) == "v3"


def test_the_expiry_warnings_show_the_campaign_and_the_same_members_as_the_api(app, token):
    viewer = signed_in(app, token["viewer"])
    page = viewer.get(f"/console/{TENANT}/expiry-warnings?as_of=2026-12-05")
    assert page.status_code == 200
    campaign = re.sub(r"<[^>]+>|\s+", " ", re.search(r'data-testid="campaign">(.*?)</dl>', page.text, re.S).group(1))
    assert "in_app" in campaign and "30 days before points expire" in campaign and "every 7 days" in campaign
    shown = re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a></td><td>([^<]+)</td>\s*<td class="num">([^<]+)</td>',
                       page.text)
    api = TestClient(app).get(f"/tenants/{TENANT}/campaigns/expiry-warnings/preview",
                              params={"as_of": "2026-12-05T00:00:00+00:00", "limit": 25},
                              headers={"Authorization": f"Bearer {token['viewer']}"}).json()["items"]
    assert shown and [s[0] for s in shown] == [i["member_id"] for i in api]
    assert all(html.unescape(i["text"]) in html.unescape(page.text) for i in api)
    none = viewer.get(f"/console/{TENANT}/expiry-warnings?as_of=2026-11-01").text
    assert "No member would be warned then." in none  # 61 days ahead: beyond the lead time
    assert viewer.get(f"/console/{TENANT}/expiry-warnings?as_of=someday").status_code == 422
