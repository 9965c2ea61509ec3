"""In chromium: the Experiments screen and an experiment's page -- its per-variant table, the difference
with its interval -- reached from the navigation, fitting 1280 and 390 pixels with every field labelled;
a cohort chosen with its form; an admin stops the experiment with its form (the members of
tests/readmodel/experiment_fixtures.py, projected beside the demo stream, the experiment in a rules version
published to the service)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from memberflow.readmodel.projection import Projection
from tests.admin.fixtures import TENANT, auth
from tests.browser.test_console_browser import WIDTHS, check_page, sign_in
from tests.readmodel.experiment_fixtures import EXPERIMENT, PARTS, member, records
from tests.readmodel.fixtures import rules


@pytest.fixture(scope="module")
def experimenting(console):
    with console.engine.begin() as conn:
        Projection(rules(), now=lambda: datetime(2025, 3, 24, tzinfo=UTC)).apply(
            conn, records([member(*part) for part in PARTS], first=10_000))
    made = httpx.post(f"{console.url}/tenants/{TENANT}/rules/versions", headers=auth(console.tokens["admin"]),
                      json={"rules": {"experiments": [EXPERIMENT]}, "reason": "start", "request_id": "browser-1"})
    assert made.status_code == 201, made.text
    return console


@pytest.mark.parametrize("width", WIDTHS)
def test_the_experiment_page_shows_the_variants(browser, experimenting, artifacts, width):
    context, page = sign_in(browser, experimenting, "viewer", width)
    page.get_by_role("link", name="Experiments").click()
    page.wait_for_url(f"**/console/{TENANT}/experiments")
    check_page(page, f"the experiments at {width} px")
    assert page.get_by_test_id("experiments").locator("tbody tr td").all_inner_texts()[1] == "running"
    page.get_by_role("link", name="double", exact=True).click()
    page.wait_for_url(f"**/console/{TENANT}/experiments/double")
    check_page(page, f"an experiment at {width} px")
    rows = page.get_by_test_id("variants").locator("tbody tr")
    shown = [[r.locator("th").inner_text(), *r.locator("td").all_inner_texts()[:2]] for r in rows.all()]
    assert shown == [["holdout (control)", "3", "¥20"], ["double", "4", "¥50"]]
    difference = page.get_by_test_id("differences").locator("tbody tr td").all_inner_texts()
    assert difference[0] == "¥30" and " to " in difference[1]
    assert page.get_by_role("button", name="Stop").count() == 0  # a viewer
    page.get_by_test_id("variants").screenshot(path=artifacts / f"console-experiment-{width}.png")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_forms_fit_and_are_labelled(browser, experimenting, width):
    context, page = sign_in(browser, experimenting, "admin", width)
    page.goto(f"{experimenting.url}/console/{TENANT}/experiments/double")
    assert page.get_by_test_id("form-rollout").get_by_label("Variant").input_value() == "double"
    check_page(page, f"an experiment with its forms at {width} px")
    context.close()


def test_a_cohort_from_its_form(browser, experimenting):
    """The members enrolled from a day on (the fixture's all on 2 March): none from the 3rd."""
    context, page = sign_in(browser, experimenting, "viewer")
    page.goto(f"{experimenting.url}/console/{TENANT}/experiments/double")
    form = page.get_by_test_id("form-cohort")
    form.get_by_label("Enrolled from (UTC day)").fill("2025-03-03")
    form.get_by_role("button", name="Show").click()
    page.wait_for_url("**first=2025-03-03*")
    check_page(page, "an experiment's cohort")
    rows = page.get_by_test_id("variants").locator("tbody tr")
    assert [r.locator("td").all_inner_texts()[0] for r in rows.all()] == ["0", "0"]
    assert page.get_by_test_id("cohort").inner_text().startswith("Members enrolled from 2025-03-03")
    form.get_by_label("Enrolled from (UTC day)").fill("2025-03-02")
    form.get_by_label("Enrolled to (UTC day)").fill("2025-03-02")
    form.get_by_role("button", name="Show").click()
    page.wait_for_url("**last=2025-03-02*")
    assert [r.locator("td").all_inner_texts()[0] for r in rows.all()] == ["3", "4"]
    context.close()


def test_an_admin_stops_it_from_the_page(browser, experimenting):
    context, page = sign_in(browser, experimenting, "admin")
    page.goto(f"{experimenting.url}/console/{TENANT}/experiments/double")
    check_page(page, "an experiment for an admin")
    page.get_by_test_id("form-stop").get_by_label("Reason").fill("enough data")
    page.get_by_role("button", name="Stop").click()
    page.wait_for_url("**published=*")
    assert page.get_by_test_id("status").inner_text() == "stopped"
    assert page.get_by_role("button", name="Roll out").count() == 0
    context.close()


def test_a_removed_experiment_keeps_its_figures_without_forms(browser, experimenting):
    """A later rules version without it: still listed, as ``removed``, its page readable, nothing to decide."""
    made = httpx.post(f"{experimenting.url}/tenants/{TENANT}/rules/versions",
                      headers=auth(experimenting.tokens["admin"]),
                      json={"rules": {"experiments": []}, "reason": "remove", "request_id": "browser-remove"})
    assert made.status_code == 201, made.text
    context, page = sign_in(browser, experimenting, "admin")
    page.goto(f"{experimenting.url}/console/{TENANT}/experiments")
    assert page.get_by_test_id("experiments").locator("tbody tr td").all_inner_texts()[1] == "removed"
    page.get_by_role("link", name="double", exact=True).click()
    page.wait_for_url(f"**/console/{TENANT}/experiments/double")
    check_page(page, "a removed experiment")
    assert page.get_by_test_id("status").inner_text() == "removed"
    rows = page.get_by_test_id("variants").locator("tbody tr")
    assert [r.locator("td").all_inner_texts()[0] for r in rows.all()] == ["3", "4"]
    assert page.get_by_role("button", name="Stop").count() == 0
    assert page.get_by_role("button", name="Roll out").count() == 0
    context.close()
