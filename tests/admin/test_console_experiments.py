"""The console's Experiments screens through FastAPI's test client: the list with status and members per
arm, an experiment's per-variant table and difference for every role, the Stop and Roll out forms for
admins only (publishing the rules, audited), and the member page's experiments."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from memberflow.readmodel.projection import Projection
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import LIMITS, TENANT, auth
from tests.readmodel.experiment_fixtures import EXPERIMENT, PARTS, member, records
from tests.readmodel.fixtures import rules

LIST = f"/console/{TENANT}/experiments"
PAGE = f"{LIST}/double"


@pytest.fixture(scope="module")
def app(filled, audit, published, rules_published):
    with filled.begin() as conn:
        Projection(rules(), now=lambda: datetime(2025, 3, 24, tzinfo=UTC)).apply(
            conn, records([member(*part) for part in PARTS], first=10_000))
    return create_app(filled, audit, published, LIMITS, rules(), rules_published)


@pytest.fixture(scope="module")
def admin(app, token) -> TestClient:
    return signed_in(app, token["admin"])


def running(app, token, name: str) -> None:
    with TestClient(app) as api:
        made = api.post(f"/tenants/{TENANT}/rules/versions", headers=auth(token["admin"]), json={
            "rules": {"experiments": [EXPERIMENT]}, "reason": "start", "request_id": f"console-{name}"})
        assert made.status_code == 201, made.text


def request_id(page: str, form: str) -> str:
    found = re.search(rf'data-testid="form-{form}".*?name="request_id" value="([^"]+)"', page, re.S)
    return found.group(1)


def test_the_list_shows_status_and_members_per_arm(app, token):
    running(app, token, "list")
    viewer = signed_in(app, token["viewer"])
    page = viewer.get(LIST)
    assert page.status_code == 200
    row = re.search(r'<tr data-experiment="double">.*?</tr>', page.text, re.S).group(0)
    assert 'data-testid="status">running' in row
    assert re.search(r'data-variant="holdout">holdout: <span class="num">3<', row)
    assert re.search(r'data-variant="double">double: <span class="num">4<', row)
    assert any(link.endswith("/experiments") for link in fields(page.text).links)  # in the navigation


def test_a_viewer_sees_the_figures_but_no_forms(app, token):
    running(app, token, "viewer")
    viewer = signed_in(app, token["viewer"])
    page = viewer.get(PAGE).text
    double = re.search(r'<tr data-variant="double">.*?</tr>', page, re.S).group(0)
    assert 'data-testid="members">4<' in double and 'data-testid="spend-per-member">¥50<' in double
    diff = re.search(r'data-testid="differences">.*?</table>', page, re.S).group(0)
    assert 'data-testid="difference">¥30<' in diff and " to " in diff
    assert 'data-testid="form-stop"' not in page and 'data-testid="form-rollout"' not in page
    assert viewer.post(f"{PAGE}/stop", data={"csrf": csrf_of(page), "reason": "x", "request_id": "v1"}
                       ).status_code == 403
    assert viewer.get(f"{LIST}/nope").status_code == 404


def test_a_cohort_by_enrolment_day(app, token):
    """The members enrolled between two UTC days (all of the fixture's on 2 March): the figures of those only,
    said above the table; a span that ends before it starts is 422 with the field marked."""
    running(app, token, "cohort")
    viewer = signed_in(app, token["viewer"])

    def members(page: str) -> list[str]:
        return re.findall(r'data-testid="members">(\d+)<', page)

    that_day = viewer.get(PAGE, params={"first": "2025-03-02", "last": "2025-03-02"})
    assert that_day.status_code == 200 and members(that_day.text) == ["3", "4"]
    assert 'data-testid="cohort">Members enrolled from 2025-03-02 to 2025-03-02 (UTC days' in that_day.text
    later = viewer.get(PAGE, params={"first": "2025-03-03"}).text
    assert members(later) == ["0", "0"] and 'value="2025-03-03"' in later
    backwards = viewer.get(PAGE, params={"first": "2025-03-03", "last": "2025-03-02"})
    assert backwards.status_code == 422 and "the last day must be on or after the first" in backwards.text
    assert members(backwards.text) == ["3", "4"]  # shown for every member meanwhile
    garbled = viewer.get(PAGE, params={"first": "2 March"})
    assert garbled.status_code == 422 and 'aria-describedby="e-first"' in garbled.text
    assert 'data-testid="cohort">Every member enrolled.' in viewer.get(PAGE).text


def test_an_admin_stops_it(app, token, admin, rules_published):
    running(app, token, "stop")
    page = admin.get(PAGE).text
    parsed = fields(page)
    assert {"Stop", "Roll out"} <= set(parsed.buttons)
    assert all(f.get("id") in parsed.labelled for f in parsed.fields)
    blank = admin.post(f"{PAGE}/stop", data={"csrf": csrf_of(page), "reason": " ",
                                             "request_id": request_id(page, "stop")})
    assert blank.status_code == 422 and 'id="stop-reason-error"' in blank.text
    done = admin.post(f"{PAGE}/stop", data={"csrf": csrf_of(page), "reason": "enough",
                                            "request_id": request_id(page, "stop")})
    assert done.status_code == 303
    assert rules_published.versions[-1].rules.experiments[0].stopped_at is not None
    after = admin.get(done.headers["location"]).text
    assert 'data-testid="published"' in after and 'data-testid="status">stopped<' in after
    assert 'data-testid="form-stop"' not in after


def test_a_removed_experiment_is_listed_with_its_figures_and_no_forms(app, token, admin):
    running(app, token, "removal")
    with TestClient(app) as api:
        made = api.post(f"/tenants/{TENANT}/rules/versions", headers=auth(token["admin"]), json={
            "rules": {"experiments": []}, "reason": "remove", "request_id": "console-remove"})
        assert made.status_code == 201, made.text
    row = re.search(r'<tr data-experiment="double">.*?</tr>', admin.get(LIST).text, re.S).group(0)
    assert 'data-testid="status">removed' in row
    page = admin.get(PAGE).text
    assert 'data-testid="status">removed<' in page
    assert 'data-testid="members">4<' in re.search(r'<tr data-variant="double">.*?</tr>', page, re.S).group(0)
    assert 'data-testid="form-stop"' not in page and 'data-testid="form-rollout"' not in page


def test_an_admin_rolls_a_variant_out(app, token, admin, rules_published):
    running(app, token, "rollout")
    page = admin.get(PAGE).text
    done = admin.post(f"{PAGE}/rollout", data={"csrf": csrf_of(page), "variant": "double", "reason": "it works",
                                               "request_id": request_id(page, "rollout")})
    assert done.status_code == 303
    published = rules_published.versions[-1].rules
    assert published.points.pending_days == 3 and published.experiments[0].rolled_out == "double"
    assert 'data-testid="rolled-out">double<' in admin.get(done.headers["location"]).text


def test_the_member_page_shows_its_arm_and_figures(app, token):
    page = signed_in(app, token["viewer"]).get(f"/console/{TENANT}/members/d3").text
    row = re.search(r'data-testid="member-experiments">.*?</table>', page, re.S).group(0)
    assert 'data-testid="arm">double<' in row and "¥60" in row
