"""Paid cards of merchants' plans on a member (seed 002): buy, redeliver, extend, upgrade, refund, expire."""

from __future__ import annotations

from datetime import datetime

import pytest

from config.rules import RuleBook
from engine.evaluation import evaluate_member, next_due
from engine.memberships import memberships_view
from engine.outcome import Applied
from engine.plans import fold_all, with_facts
from models.events import OrderItem
from models.outputs import MembershipChange
from models.state import MembershipStatus, state_json, state_of_json
from tests.engine.fixtures import Member, make_rules
from tests.engine.plan_fixtures import card_item, merchant_steps, parsed

PAID_AT = "2024-06-20T16:38:00+08:00"


def rules_with(*steps):
    return with_facts(RuleBook.single(make_rules()), fold_all(parsed([s for group in steps for s in group]))).default


RULES = rules_with(merchant_steps("coffee"), merchant_steps("fruit", price="30.00", days=30))


def card(merchant="coffee", product="vip-year", price="88.00") -> OrderItem:
    return OrderItem.model_validate(card_item(merchant, product, price))


def changes(m: Member) -> list[MembershipChange]:
    return m.of(MembershipChange)


@pytest.fixture
def m() -> Member:
    return Member(RULES)


def test_buying_a_card_joins_and_issues_the_card_and_its_coupons_once(m):
    m.pay("o1", "88.00", PAID_AT, event_id="e1", items=[card()])
    held = m.state.memberships["coffee/vip"]
    assert (held.level_id, held.channel, held.status) == ("gold", "purchase", MembershipStatus.ACTIVE)
    assert held.until == datetime.fromisoformat("2025-06-20T16:38:00+08:00")
    assert [c.kind for c in changes(m)] == ["joined"]
    assert [(g.benefit, g.quantity) for g in m.grants] == [("membership_card", 1), ("free_coffee", 2)]
    assert m.grants[0].grant_id == held.card_id
    assert m.ledger[0].delta == 88  # the card's price earns points like any other spend
    before = len(m.outputs)
    assert m.pay("o1", "88.00", PAID_AT, event_id="e1", items=[card()]).result is Applied.DUPLICATE
    assert m.pay("o1", "88.00", PAID_AT, event_id="e1-retry", items=[card()]).result is Applied.DUPLICATE
    assert len(m.outputs) == before


def test_the_membership_survives_the_stored_state_codec(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    assert state_of_json(state_json(m.state)).memberships == m.state.memberships


def test_a_second_purchase_extends_and_a_higher_level_upgrades_from_now(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    card_id = m.state.memberships["coffee/vip"].card_id
    m.pay("o2", "88.00", "2024-07-01T10:00:00+08:00", items=[card()])
    held = m.state.memberships["coffee/vip"]
    assert held.until == datetime.fromisoformat("2026-06-20T16:38:00+08:00") and held.card_id == card_id
    m.pay("o3", "188.00", "2024-08-01T10:00:00+08:00", items=[card(product="vip-black", price="188.00")])
    assert (held.level_id, held.until) == ("black", datetime.fromisoformat("2025-08-01T10:00:00+08:00"))
    assert [c.kind for c in changes(m)] == ["joined", "extended", "upgraded"]
    assert len([g for g in m.grants if g.benefit == "membership_card"]) == 1  # one card instance
    coupons = [g for g in m.grants if g.benefit == "free_coffee"]
    assert len({g.grant_id for g in coupons}) == 3  # one per (membership, benefit, period: the card order)


def test_a_refund_of_the_card_order_revokes(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    m.refund("o1", "88.00", "2024-06-21T10:00:00+08:00")
    assert m.state.memberships["coffee/vip"].status is MembershipStatus.REVOKED
    assert [c.kind for c in changes(m)] == ["joined", "revoked"]
    assert next_due(m.state, RULES, datetime.fromisoformat("2024-06-22T00:00:00+08:00")) is None


def test_two_merchants_plans_on_one_member(m):
    m.pay("o1", "118.00", PAID_AT, items=[card(), card("fruit", price="30.00")])
    assert {k: v.until.date().isoformat() for k, v in m.state.memberships.items()} == {
        "coffee/vip": "2025-06-20", "fruit/vip": "2024-07-20"}
    assert m.state.memberships["coffee/vip"].card_id != m.state.memberships["fruit/vip"].card_id


def test_a_product_of_a_pending_plan_is_rejected_with_its_reason():
    pending = [s for s in merchant_steps("coffee") if not (s["type"] == "plan_status" and s["status"] == "effective")]
    m = Member(rules_with(pending))
    out = m.pay("o1", "88.00", PAID_AT, items=[card()])
    assert (out.result, out.reason, out.detail) == (
        Applied.REJECTED, "not_sellable", "items[0]: plan vip of card product vip-year is pending, not effective")
    assert not m.state.memberships and m.ledger == []


def test_a_suspended_merchant_sells_nothing_and_keeps_its_memberships(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    m.rules = rules_with(merchant_steps("coffee"), [{"merchant_id": "coffee", "type": "merchant", "name": "c",
                                                     "version": 2, "suspended": True}])
    out = m.pay("o2", "88.00", "2024-07-01T10:00:00+08:00", items=[card()])
    assert (out.result, out.detail) == (Applied.REJECTED, "items[0]: merchant coffee is suspended: no new sales")
    assert m.state.memberships["coffee/vip"].status is MembershipStatus.ACTIVE


def test_reminded_before_until_then_expired_at_until_once(m):
    m.pay("o1", "30.00", PAID_AT, items=[card("fruit", price="30.00")])
    until = m.state.memberships["fruit/vip"].until
    july = next_due(m.state, RULES, datetime.fromisoformat("2024-06-21T00:00:00+08:00"))
    assert july == datetime.fromisoformat("2024-07-01T00:00:00+08:00")  # a new month (no monthly benefits here)
    assert evaluate_member(m.state, RULES, july, "eval-0") == (True, [])
    due = next_due(m.state, RULES, july)
    assert due == datetime.fromisoformat("2024-07-13T16:38:00+08:00")  # 7 days before
    changed, outputs = evaluate_member(m.state, RULES, due, "eval-1")
    assert changed and [o.value.kind for o in outputs] == ["membership_renewal_reminder"]
    assert evaluate_member(m.state, RULES, due, "eval-1") == (False, [])
    assert next_due(m.state, RULES, due) == until
    changed, outputs = evaluate_member(m.state, RULES, until, "eval-2")
    assert [o.value.kind for o in outputs] == ["expired"]
    assert m.state.memberships["fruit/vip"].status is MembershipStatus.EXPIRED
    assert evaluate_member(m.state, RULES, until, "eval-3") == (False, [])
    # buying again after expiry joins anew, with a new card instance
    m.pay("o2", "30.00", "2024-08-01T10:00:00+08:00", items=[card("fruit", price="30.00")])
    assert m.state.memberships["fruit/vip"].status is MembershipStatus.ACTIVE
    assert len({g.grant_id for g in m.grants if g.benefit == "membership_card"}) == 2


def test_a_state_without_memberships_is_stored_as_before(m):
    m.login("2024-06-20T10:00:00+08:00")
    assert b"memberships" not in state_json(m.state)
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    assert b'"memberships":{"coffee/vip":' in state_json(m.state)


def test_the_members_view_shows_an_ended_membership_as_expired_before_the_evaluation(m):
    m.pay("o1", "30.00", PAID_AT, items=[card("fruit", price="30.00")])
    view = memberships_view(m.state, RULES, datetime.fromisoformat("2024-07-21T00:00:00+08:00"))
    assert [(v["key"], v["status"], v["plan_name"], v["level_name"]) for v in view["memberships"]] == [
        ("fruit/vip", "expired", "VIP", "Gold")]


MONTHLY = {"merchant_id": "coffee", "type": "benefit", "benefit_id": "monthly-cake", "plan_id": "vip",
           "activity_id": "welcome-coupons", "coupon_template": "cake_coupon", "value": "20.00", "cadence": "monthly"}


def test_monthly_benefits_from_the_joining_month_once_per_month_while_active():
    rules = rules_with(merchant_steps("coffee", days=45), [MONTHLY])
    m = Member(rules)
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    cakes = lambda: [g for g in m.grants if g.benefit == "cake_coupon"]  # noqa: E731
    assert [g.details["period"] for g in cakes()] == ["2024-06"]
    july = next_due(m.state, rules, datetime.fromisoformat("2024-06-21T00:00:00+08:00"))
    assert july == datetime.fromisoformat("2024-07-01T00:00:00+08:00")
    changed, outputs = evaluate_member(m.state, rules, july, "eval-july")
    m.outputs.extend(outputs)
    assert changed and [g.details["period"] for g in cakes()] == ["2024-06", "2024-07"]
    assert evaluate_member(m.state, rules, july, "eval-july-again") == (False, [])
    # the membership ends 2024-08-04: August's first evaluation gives August's, then it expires
    _, outputs = evaluate_member(m.state, rules, datetime.fromisoformat("2024-08-01T00:00:00+08:00"), "eval-aug")
    m.outputs.extend(outputs)
    _, outputs = evaluate_member(m.state, rules, datetime.fromisoformat("2024-09-01T00:00:00+08:00"), "eval-sep")
    m.outputs.extend(outputs)
    assert [g.details["period"] for g in cakes()] == ["2024-06", "2024-07", "2024-08"]
    assert len({g.grant_id for g in cakes()}) == 3
    assert m.state.memberships["coffee/vip"].status is MembershipStatus.EXPIRED


def test_an_auto_renewing_card_asks_billing_to_renew_and_its_payment_extends():
    steps = merchant_steps("fruit", price="30.00", days=30)
    auto = [{**s, "auto_renew": True} if s["type"] == "product" else s for s in steps]
    rules = rules_with(auto)
    m = Member(rules)
    m.pay("o1", "30.00", PAID_AT, items=[card("fruit", price="30.00")])
    remind = m.state.memberships["fruit/vip"].remind_at
    _, outputs = evaluate_member(m.state, rules, remind, "eval-r")
    [request] = [o.value for o in outputs]
    assert request.kind == "membership_renewal_request"
    assert (request.data["product_id"], request.data["until"]) == ("vip-year", "2024-07-20T16:38:00+08:00")
    m.pay("o2", "30.00", "2024-07-14T09:00:00+08:00", items=[card("fruit", price="30.00")])  # billing charged it
    assert m.state.memberships["fruit/vip"].until == datetime.fromisoformat("2024-08-19T16:38:00+08:00")
    assert [c.kind for c in changes(m)] == ["joined", "extended"]


def test_buying_again_after_until_before_the_evaluation_records_the_expiry_then_joins(m):
    m.pay("o1", "30.00", PAID_AT, items=[card("fruit", price="30.00")])
    first = m.state.memberships["fruit/vip"].card_id
    m.pay("o2", "30.00", "2024-07-25T10:00:00+08:00", items=[card("fruit", price="30.00")])
    assert [(c.kind, c.card_id == first) for c in changes(m)] == [("joined", True), ("expired", True),
                                                                  ("joined", False)]
    assert m.state.memberships["fruit/vip"].since == datetime.fromisoformat("2024-07-25T10:00:00+08:00")
