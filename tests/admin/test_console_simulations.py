"""The console's simulations through FastAPI's test client: an operator simulates the Rules screen's candidate
(checked, not published: Publish stays an admin's), the simulation's page reloads itself while it runs and
then shows the API's key figures and its report, the list shows it; a viewer reads but starts nothing; a bad
candidate or day count is shown at its field."""

from __future__ import annotations

import html
import re
import time

import pytest
from fastapi.testclient import TestClient

from memberflow.admin.app import create_app
from memberflow.admin.simulations import EventsFile
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import LIMITS, TENANT, KeptAudit, KeptCommands, KeptVersions
from tests.admin.test_simulations import history  # noqa: F401 -- the recorded history fixture
from tests.readmodel.fixtures import rules

RULES = f"/console/{TENANT}/rules"
DOUBLED = "points: {earning: {tier_multipliers: {tiers: {DIAMOND: 3}}}}"


@pytest.fixture(scope="module")
def app(filled, history):  # noqa: F811
    app = create_app(filled, KeptAudit(), KeptCommands(), LIMITS, rules(), KeptVersions(), EventsFile(history))
    with TestClient(app):  # its shutdown stops what still runs
        yield app


def editor_of(page: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="[^"]*/rules#editor".*?</form>', page, re.S).group(0)
    return {"csrf": csrf_of(page), "request_id": re.search(r'name="request_id" value="([^"]+)"', form).group(1)}


def done_page(client: TestClient, path: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(path)
        assert page.status_code == 200
        if 'data-testid="running"' not in page.text:
            return page.text
        assert '<meta http-equiv="refresh" content="3">' in page.text
        time.sleep(0.3)
    raise AssertionError("the simulation did not finish")


def figure(page: str, name: str) -> list[str]:
    row = re.search(rf'<tr data-figure="{name}">(.*?)</tr>', page, re.S).group(1)
    return [html.unescape(c) for c in re.findall(r'<td class="num">([^<]*)</td>', row)]


def test_an_operator_simulates_the_candidate_and_sees_the_report(app, token):
    operator = signed_in(app, token["operator"])
    page = operator.get(RULES).text
    buttons = fields(page).buttons
    assert {"Check", "Simulate"} <= set(buttons) and "Publish" not in buttons
    assert "Simulate last N days" in page
    checked = operator.post(RULES, data={**editor_of(page), "rules": DOUBLED, "action": "check"})
    assert checked.status_code == 200 and 'data-testid="candidate-valid"' in checked.text
    refused = operator.post(RULES, data={**editor_of(page), "rules": DOUBLED, "action": "publish", "reason": "x"})
    assert refused.status_code == 403

    started = operator.post(f"/console/{TENANT}/simulations", data={
        **editor_of(checked.text), "rules": DOUBLED, "days": "30", "evaluate": "daily", "reason": "richer DIAMOND"})
    assert started.status_code == 303, started.text
    path = started.headers["location"]
    simulation_id = path.rsplit("/", 1)[1]
    shown = done_page(operator, path)
    assert 'data-testid="state">done<' in shown, shown[-2000:]

    api = operator.get(f"/tenants/{TENANT}/simulations/{simulation_id}",
                       headers={"Authorization": f"Bearer {token['viewer']}"}).json()
    f = api["summary"]
    assert figure(shown, "points_issued") == [f"{f['points_issued_base']:,}", f"{f['points_issued_candidate']:,}",
                                              f"{f['points_issued_difference']:+d}"]
    assert f["points_issued_difference"] > 0
    assert figure(shown, "liability")[2] == f"{f['liability_difference']:+d}"
    assert figure(shown, "members_with_different_tier") == [str(f["members_with_different_tier"])]

    report = operator.get(f"{path}/report")
    assert report.status_code == 200 and "What-if simulation" in report.text
    assert "frame-ancestors 'self'" in report.headers["content-security-policy"]
    assert f'src="{path}/report"' in shown
    listed = operator.get(f"/console/{TENANT}/simulations").text
    assert f'data-simulation="{simulation_id}"' in listed and f"{f['points_issued_difference']:+d}" in listed


def test_a_viewer_reads_but_starts_nothing(app, token):
    viewer = signed_in(app, token["viewer"])
    page = viewer.get(RULES).text
    assert 'data-testid="simulate"' not in page and "Simulations" in page
    assert viewer.post(f"/console/{TENANT}/simulations", data={
        "csrf": csrf_of(page), "request_id": "v1", "rules": DOUBLED, "days": "3", "reason": "x"}).status_code == 403
    assert viewer.get(f"/console/{TENANT}/simulations").status_code == 200
    assert viewer.get(f"/console/{TENANT}/simulations/sim-none").status_code == 404


@pytest.mark.parametrize(("sent", "where"), [
    ({"rules": "points: {earning: {tier_multipliers: {tiers: {DIAMOND: -1}}}}", "days": "30"},
     "<code>points.earning.tier_multipliers.tiers.DIAMOND</code>"),
    ({"rules": DOUBLED, "days": "0"}, 'id="simulate-days-error"'),
    ({"rules": DOUBLED, "days": "401"}, 'id="simulate-days-error"'),
    ({"rules": DOUBLED, "days": "30", "reason": ""}, 'id="publish-reason-error"'),
])
def test_a_bad_candidate_or_day_count_is_shown_at_its_field(app, token, sent, where):
    operator = signed_in(app, token["operator"])
    page = operator.get(RULES).text
    answer = operator.post(f"/console/{TENANT}/simulations", data={
        **editor_of(page), "evaluate": "daily", "reason": "r", **sent})
    assert answer.status_code == 422 and where in answer.text
    assert html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", answer.text, re.S).group(1)) == sent["rules"]
