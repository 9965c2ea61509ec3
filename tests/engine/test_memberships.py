"""Paid cards of merchants' plans on a member (seed 002): buy, redeliver, extend, upgrade, refund, expire."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from config.rules import RuleBook
from engine.evaluation import evaluate_member, next_due
from engine.memberships import memberships_view
from engine.outcome import Applied
from engine.plans import fold_all, with_facts
from models.benefits import BenefitChange, BenefitStatus, BenefitUsage
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
    assert [c.amount for c in changes(m)] == [Decimal("88.00"), Decimal("88.00"), Decimal("188.00")]  # as paid
    assert len([g for g in m.grants if g.benefit == "membership_card"]) == 1  # one card instance
    coupons = [g for g in m.grants if g.benefit == "free_coffee"]
    assert len({g.grant_id for g in coupons}) == 3  # one per (membership, benefit, period: the card order)


REFUNDED_AT = "2024-06-21T10:00:00+08:00"


def use(m: Member, benefit_id: str, order_id: str, at: str, action: str = "used"):
    m._seq += 1
    return m.apply(BenefitUsage(event_id=f"u{m._seq}", member_id=m.member_id, occurred_at=datetime.fromisoformat(at),
                                benefit_id=benefit_id, action=action, order_id=order_id,
                                amount_saved=Decimal("15.00") if action == "used" else None))


def voided(outcome) -> list[tuple[str, str, str, int]]:
    return [(o.value.benefit_id, o.value.action, o.value.status.value, o.value.uses) for o in outcome.outputs
            if isinstance(o.value, BenefitChange)]


def test_the_card_and_its_coupons_are_benefit_instances_bundled_with_the_card(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    held = m.state.memberships["coffee/vip"]
    assert {g.grant_id: (m.state.benefits[g.grant_id].benefit, m.state.benefits[g.grant_id].card_id)
            for g in m.grants} == {g.grant_id: (g.benefit, held.card_id) for g in m.grants}
    m.pay("o2", "88.00", "2024-07-01T10:00:00+08:00", items=[card()])
    assert m.state.benefits[held.card_id].valid_until == held.until  # the card is valid as long as its membership
    assert state_of_json(state_json(m.state)).benefits == m.state.benefits


def test_a_refund_of_the_card_order_revokes_and_voids_its_unused_benefits_once(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    card_id = m.state.memberships["coffee/vip"].card_id
    coupon = next(g.grant_id for g in m.grants if g.benefit == "free_coffee")
    assert use(m, coupon, "o9", "2024-06-20T18:00:00+08:00").result is Applied.APPLIED
    out = m.refund("o1", "88.00", REFUNDED_AT)
    assert m.state.memberships["coffee/vip"].status is MembershipStatus.REVOKED
    assert [(c.kind, c.amount) for c in changes(m)] == [("joined", Decimal("88.00")), ("revoked", None)]
    # the card and the coupon of quantity 2 used on one order (for its second use) are voided
    assert sorted(voided(out)) == sorted([(card_id, "voided", "voided", 0), (coupon, "voided", "voided", 1)])
    assert len({o.value.change_id for o in out.outputs if isinstance(o.value, BenefitChange)}) == 2
    again = m.refund("o1", "88.00", "2024-06-22T10:00:00+08:00", event_id="o1-refund-again")
    assert voided(again) == [] and [c.kind for c in changes(m)] == ["joined", "revoked"]
    refused = use(m, coupon, "o10", "2024-06-23T10:00:00+08:00")
    assert (refused.result, refused.detail) == (Applied.REJECTED, f"benefit {coupon}: voided")
    # the order it was used on refunded: the use is given back, the coupon stays void
    restored = use(m, coupon, "o9", "2024-06-24T10:00:00+08:00", action="restored")
    assert voided(restored) == [(coupon, "restored", "voided", 0)]
    # nothing of the card is due but the voided instances' retention
    kept = m.rules.benefits.keep_settled_days
    assert next_due(m.state, RULES, datetime.fromisoformat("2024-06-22T00:00:00+08:00")) == (
        datetime.fromisoformat(REFUNDED_AT) + timedelta(days=kept))


def test_a_used_up_benefit_stays_used_and_becomes_void_if_restored_after_the_refund(m):
    m.pay("o1", "88.00", PAID_AT, items=[card()])
    coupon = next(g.grant_id for g in m.grants if g.benefit == "free_coffee")
    use(m, coupon, "o8", "2024-06-20T17:00:00+08:00")
    use(m, coupon, "o9", "2024-06-20T18:00:00+08:00")
    out = m.refund("o1", "88.00", REFUNDED_AT)
    assert [v for v in voided(out) if v[0] == coupon] == []
    assert m.state.benefits[coupon].status is BenefitStatus.USED
    restored = use(m, coupon, "o9", "2024-06-22T10:00:00+08:00", action="restored")
    assert voided(restored) == [(coupon, "restored", "voided", 1)]  # not usable again: its card was refunded


def test_a_refund_of_another_card_voids_only_that_cards_benefits(m):
    m.pay("o1", "118.00", PAID_AT, items=[card(), card("fruit", price="30.00")])
    fruit = m.state.memberships["fruit/vip"].card_id
    m.pay("o3", "30.00", "2024-06-20T17:00:00+08:00", items=[card("fruit", price="30.00")])
    out = m.refund("o3", "30.00", REFUNDED_AT)  # extended the fruit card: that membership is revoked
    assert len(voided(out)) == 3  # the fruit card and its coupons of o1 and o3
    assert {v[0] for v in voided(out)} == {bid for bid, inst in m.state.benefits.items() if inst.card_id == fruit}
    assert m.state.memberships["coffee/vip"].status is MembershipStatus.ACTIVE
    assert all(inst.status is BenefitStatus.ISSUED for inst in m.state.benefits.values() if inst.card_id != fruit)


def test_a_lower_levels_card_bought_extends_and_its_change_names_the_product_and_price_paid(m):
    m.pay("o1", "188.00", PAID_AT, items=[card(product="vip-black", price="188.00")])
    m.pay("o2", "80.00", "2024-07-01T10:00:00+08:00", items=[card(price="80.00")])  # a discounted gold card
    assert m.state.memberships["coffee/vip"].level_id == "black"
    assert [(c.kind, c.product_id, c.amount) for c in changes(m)] == [
        ("joined", "vip-black", Decimal("188.00")), ("extended", "vip-year", Decimal("80.00"))]


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
    coupon_reminder = until - timedelta(days=RULES.benefits.remind_days_before)  # the card's coupon, not the card
    assert next_due(m.state, RULES, due) == coupon_reminder
    changed, outputs = evaluate_member(m.state, RULES, coupon_reminder, "eval-c")
    assert [(o.value.kind, o.value.data["benefit"]) for o in outputs] == [("benefit_expiry_reminder", "free_coffee")]
    assert next_due(m.state, RULES, coupon_reminder) == until
    changed, outputs = evaluate_member(m.state, RULES, until, "eval-2")
    assert [o.value.kind for o in outputs if isinstance(o.value, MembershipChange)] == ["expired"]
    assert sorted((o.value.benefit, o.value.action) for o in outputs if isinstance(o.value, BenefitChange)) == [
        ("free_coffee", "expired"), ("membership_card", "expired")]  # the card instance ends with its membership
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
