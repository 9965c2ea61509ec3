"""In chromium: the member page lists the member's memberships of merchants' plans, and still fits
1280 and 390 pixels with every field labelled (the cards of tests/readmodel/test_memberships.py,
projected beside the demo stream)."""

from __future__ import annotations

import pytest

from tests.admin.fixtures import TENANT
from tests.browser.test_console_browser import WIDTHS, check_page, sign_in
from tests.readmodel.test_memberships import project, records


@pytest.fixture(scope="module")
def carded(console):
    project(console.engine, records())
    return console


@pytest.mark.parametrize("width", WIDTHS)
def test_the_member_page_shows_the_memberships(browser, carded, artifacts, width):
    context, page = sign_in(browser, carded, "viewer", width)
    page.goto(f"{carded.url}/console/{TENANT}/members/c4")
    rows = page.get_by_test_id("memberships").locator("tbody tr")
    shown = [cells[:5] for cells in (r.locator("td").all_inner_texts() for r in rows.all())]
    assert shown == [["coffee", "vip", "gold", "revoked", "2024-07-20 02:00"],
                     ["fruit", "vip", "gold", "revoked", "2024-07-20 02:00"]]
    check_page(page, f"a member page with memberships at {width} px")
    page.goto(f"{carded.url}/console/{TENANT}/members/c2")
    assert page.get_by_test_id("memberships").locator("tbody tr td").all_inner_texts()[:4] == [
        "coffee", "vip", "black", "active"]
    if width == WIDTHS[0]:
        page.get_by_test_id("memberships").screenshot(path=artifacts / "console-member-memberships.png")
    context.close()
