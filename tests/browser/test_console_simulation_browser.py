"""In chromium: an operator simulates a candidate from the Rules screen (DIAMOND's multiplier doubled, the last
30 days), the simulation's page reloads itself until it is done, then shows the key figures -- those of the
API -- and the report embedded; at 1280 and 390 pixels, every field labelled, nothing loaded from elsewhere.
The service's simulations read a recorded history file here (the broker's topics: tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.request import Request, urlopen

import pytest

from memberflow.admin.app import create_app
from memberflow.admin.simulations import EventsFile
from tests.admin.fixtures import LIMITS, TENANT, KeptAudit, KeptCommands, KeptVersions, tokens
from tests.browser.conftest import Console, filled_read_model, served
from tests.browser.test_console_browser import WIDTHS, check_page, sign_in
from tests.readmodel.fixtures import rules
from tests.tools.simulate_fixtures import demo_lines, write_lines

DOUBLED = "points:\n  earning:\n    tier_multipliers:\n      tiers: {DIAMOND: 3}\n"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    directory = tmp_path_factory.mktemp("console-simulations")
    engine = filled_read_model(directory)
    history = write_lines(directory / "history.jsonl", demo_lines(12, 10, seed=3))
    app = create_app(engine, KeptAudit(), KeptCommands(), LIMITS, rules(), KeptVersions(), EventsFile(history))
    made = tokens(engine)
    try:
        with served(app) as url:
            yield Console(url, engine, made)
    finally:
        engine.dispose()


def summary(console: Console, simulation_id: str) -> dict:
    request = Request(f"{console.url}/tenants/{TENANT}/simulations/{simulation_id}",
                      headers={"Authorization": f"Bearer {console.tokens['viewer']}"})
    with urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["summary"]


@pytest.mark.parametrize("width", WIDTHS)
def test_an_operator_simulates_a_candidate_and_reads_the_figures(browser, console, artifacts, width):
    context, page = sign_in(browser, console, "operator", width)
    page.get_by_role("link", name="Rules", exact=True).click()
    page.get_by_label("Candidate (YAML)").fill(DOUBLED)
    page.get_by_label("Reason to publish or simulate").fill("a richer DIAMOND")
    page.get_by_label("Days (N)").fill("30")
    page.get_by_label("Evaluation").select_option("daily")
    check_page(page, f"the Rules screen's candidate at {width} px")
    page.get_by_role("button", name="Simulate", exact=True).click()
    page.wait_for_url(f"**/console/{TENANT}/simulations/sim-*")
    simulation_id = page.url.rsplit("/", 1)[1]
    state = page.get_by_test_id("state")
    state.filter(has_text="done").wait_for(timeout=120_000)  # the page reloads itself until then

    f = summary(console, simulation_id)
    figures = page.get_by_test_id("figures")
    issued = figures.locator('tr[data-figure="points_issued"] td').all_inner_texts()
    assert issued == [f"{f['points_issued_base']:,}", f"{f['points_issued_candidate']:,}",
                      f"{f['points_issued_difference']:+d}"]
    assert f["points_issued_difference"] > 0
    differ = figures.locator('tr[data-figure="members_with_different_tier"] td').all_inner_texts()
    assert differ[-1] == str(f["members_with_different_tier"])
    report = page.frame_locator("iframe.report")
    report.get_by_role("heading", name="What-if simulation").wait_for()
    check_page(page, f"a finished simulation at {width} px")
    if width == WIDTHS[0]:
        page.screenshot(path=artifacts / "console-simulation.png", full_page=True)

    page.get_by_role("link", name="Simulations", exact=True).first.click()
    assert page.get_by_test_id("simulations").get_by_role("link", name=simulation_id).count() == 1
    check_page(page, f"the simulations at {width} px")
    context.close()
