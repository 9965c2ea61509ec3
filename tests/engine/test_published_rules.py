"""Rules at runtime: versions published to ``tenant-rules`` supersede the rules directory's per
tenant, by version; stale, duplicate and invalid versions change nothing; outputs name the rules
version that decided them; published business-line definitions stay over a new version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from config.rules import RuleBook
from config.rules_versions import RulesVersion
from engine.apply import apply_event
from engine.evaluation import rules_for
from engine.published_lines import Verdict, lines_for
from engine.published_rules import LiveRules, parse_version
from models.outputs import LedgerEntry
from tests.engine.badge_fixtures import shipped, wealth_v
from tests.engine.fixtures import paid

MAX = 65536
AT = datetime(2025, 3, 1, tzinfo=UTC)


def document(book, tenant: str = "default", **base: Any) -> dict[str, Any]:
    """The tenant's rules in force as a document, with the base earning rule changed by ``base``."""
    data = book.for_tenant(tenant).model_dump(mode="json")
    data["tenant_id"] = tenant
    data["points"]["earning"]["base"].update(base)
    return data


def version(tenant: str, n: int, rules: dict[str, Any]) -> bytes:
    return json.dumps({"tenant_id": tenant, "version": n, "rules": rules, "published_by": "alice",
                       "reason": "test", "published_at": AT.isoformat()}).encode()


def earned(book, tenant: str = "default", amount: str = "100") -> tuple[int, str | None]:
    """Points the base rule gives an order of ``amount`` under ``book``, and the version named."""
    rules = book.for_tenant(tenant)
    outcome = apply_event(None, paid("e1", "o1", amount, "2025-03-02T10:00:00+08:00", tenant=tenant), rules)
    (entry,) = [o.value for o in outcome.outputs if isinstance(o.value, LedgerEntry) and o.value.rule == "base"]
    return entry.delta, entry.rules_version


@pytest.fixture
def live() -> LiveRules:
    return LiveRules(shipped())


def test_a_higher_version_supersedes_the_file_rules_and_names_itself_in_the_outputs(live):
    before, file_version = earned(live.book)
    assert file_version is not None and file_version.startswith("file:")
    offer = live.offer_rules(version("default", 1, document(live.book, points_per_unit=3)), MAX)
    assert offer.verdict is Verdict.APPLIED
    assert earned(live.book) == (3 * before, "v1")


def test_stale_and_duplicate_versions_change_nothing(live):
    live.offer_rules(version("default", 2, document(live.book, points_per_unit=2)), MAX)
    book = live.book
    for stale in (1, 2):
        offer = live.offer_rules(version("default", stale, document(live.book, points_per_unit=9)), MAX)
        assert (offer.verdict, offer.previous_version) == (Verdict.IGNORED, 2)
        assert live.book is book
    assert earned(live.book)[1] == "v2"


def test_an_invalid_version_leaves_the_previous_one_in_force_and_says_where(live):
    live.offer_rules(version("default", 1, document(live.book, points_per_unit=2)), MAX)
    book = live.book
    bad = document(live.book)
    bad["tiers"]["tiers"][1]["qualify"][0]["threshold"] = -5
    offer = live.offer_rules(version("default", 2, bad), MAX)
    assert offer.verdict is Verdict.INVALID and offer.detail.startswith("rules.tiers.tiers.1.qualify.0.threshold")
    unknown = document(live.book)
    unknown["points"]["expiry"]["warning"] = {"template": "{points} by {when}"}
    offer = live.offer_rules(version("default", 2, unknown), MAX)
    assert offer.verdict is Verdict.INVALID and "rules.points.expiry.warning.template" in offer.detail
    assert "{when}" in offer.detail
    for raw in (b"{nope", None, version("default", 0, document(live.book))):
        assert live.offer_rules(raw, MAX).verdict is Verdict.INVALID
    assert live.offer_rules(version("default", 3, document(live.book)), 100).verdict is Verdict.INVALID  # oversize
    assert live.book is book and earned(live.book)[1] == "v1"


def test_the_document_must_be_the_version_s_tenant(live):
    parsed = parse_version(version("acme", 1, document(live.book)), MAX)  # the document says "default"
    assert isinstance(parsed, str) and "is not the version's tenant" in parsed


def test_a_new_tenant_is_onboarded_by_its_first_version_and_others_keep_theirs(live):
    assert "acme" not in live.book.tenants
    default_points = earned(live.book)
    live.offer_rules(version("acme", 1, document(live.book, "acme", points_per_unit=5)), MAX)
    assert "acme" in live.book.tenants
    assert earned(live.book, "acme") == (5 * default_points[0], "v1")
    assert earned(live.book) == default_points


def test_published_business_lines_stay_in_force_over_a_new_rules_version(live):
    live.offer_lines(json.dumps(wealth_v(4, 100)).encode(), MAX)
    live.offer_rules(version("default", 1, document(live.book, points_per_unit=2)), MAX)
    rules = live.book.for_tenant("default")
    assert lines_for(rules, "default")["wealth"].version == 4 and rules.version == "v1"
    live.offer_lines(json.dumps(wealth_v(5, 100)).encode(), MAX)
    rules = live.book.for_tenant("default")
    assert lines_for(rules, "default")["wealth"].version == 5 and rules.version == "v1"


def test_the_contract_exports_the_rules_schema():
    schema = RulesVersion.model_json_schema()
    assert {"tenant_id", "version", "rules", "published_by", "reason", "published_at"} <= set(schema["required"])


def test_a_tenant_onboarded_at_run_time_is_evaluated_on_its_own_schedule_s_command():
    files = shipped()
    beta = files.default.model_copy(update={"tenant_id": "beta"})
    live = LiveRules(RuleBook(files.default, {"beta": beta}))  # beta has a rules file
    live.offer_rules(version("acme", 1, document(live.book, "acme", points_per_unit=5)), MAX)
    live.offer_rules(version("beta", 1, document(live.book, "beta", points_per_unit=5)), MAX)
    book = live.book
    for tenant in ("acme", "beta"):
        assert rules_for(tenant, None, book) is None and rules_for(tenant, tenant, book) is book.tenants[tenant]
    assert rules_for("other", None, book) is book.default
