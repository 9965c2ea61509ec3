"""Joining merchants' plans by registration, spend, invitation and operator grant (engine/join_channels.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.rules import RuleBook
from config.topics import Topic
from engine.evaluation import evaluate_member, next_due
from engine.outcome import Applied
from engine.plans import catalogue, facts_of, fold_all, with_facts
from models.benefits import BenefitChange
from models.commands import DeviceVerdict, InvitationAccepted, MembershipGrant, MembershipInvitation
from models.events import OrderItem, Registration
from models.outputs import MembershipChange
from models.state import MembershipStatus, state_json, state_of_json
from tests.engine.fixtures import Member, make_rules
from tests.engine.plan_fixtures import club_steps, parsed

AT = "2026-03-01T12:00:00+08:00"


def rules_with(*groups):
    return with_facts(RuleBook.single(make_rules()), fold_all(parsed([s for g in groups for s in g]))).default


RULES = rules_with(club_steps())


@pytest.fixture
def m() -> Member:
    return Member(RULES)


def when(at: str) -> datetime:
    return datetime.fromisoformat(at)


def changes(m: Member) -> list[tuple[str, str, str]]:
    return [(c.kind.value, c.level_id, c.channel) for c in m.of(MembershipChange)]


def register(m: Member, merchant: str | None = "coffee", *, invited_by: str | None = None, allowed: bool = True):
    m.apply(Registration(event_id="reg-1", member_id=m.member_id, occurred_at=when(AT), channel="app",
                         device_id="d1", invited_by=invited_by, merchant_id=merchant))
    return m.apply(DeviceVerdict(type="device_verdict", command_id="dv-1", member_id=m.member_id,
                                 occurred_at=when(AT), device_id="d1", registration_event_id="reg-1",
                                 allowed=allowed, registrations=1, limit=3))


def goods(price: str, merchant: str | None = "coffee") -> OrderItem:
    return OrderItem(sku="beans", category="grocery", unit_price=Decimal(price), quantity=1, merchant_id=merchant)


# -- registration -----------------------------------------------------------------


def test_an_allowed_registration_with_the_merchant_joins_its_free_level_with_card_and_coupon(m):
    out = register(m)
    held = m.state.memberships["coffee/club"]
    assert (held.level_id, held.channel, held.until, held.status) == ("green", "registration", None,
                                                                      MembershipStatus.ACTIVE)
    assert changes(m) == [("joined", "green", "registration")]
    assert [(g.benefit, g.grant_id == held.card_id) for g in m.grants] == [("membership_card", True),
                                                                           ("free_latte", False)]
    assert held.since == when(AT)
    again = m.apply(DeviceVerdict(type="device_verdict", command_id="dv-1", member_id="m1", occurred_at=when(AT),
                                  device_id="d1", registration_event_id="reg-1", allowed=True, registrations=1,
                                  limit=3))
    assert again.result is Applied.DUPLICATE and again.outputs == [] and len(m.of(MembershipChange)) == 1
    assert out.result is Applied.APPLIED
    assert state_of_json(state_json(m.state)).memberships == m.state.memberships


def test_a_refused_registration_or_one_without_a_merchant_joins_nothing(m):
    register(m, allowed=False)
    assert not m.state.memberships
    other = Member(RULES, "m2")
    register(other, merchant=None)
    assert not other.state.memberships and other.of(MembershipChange) == []


def test_a_suspended_merchant_takes_no_new_members_by_registration():
    m = Member(rules_with(club_steps(suspended=True)))
    register(m)
    assert not m.state.memberships


# -- spend threshold --------------------------------------------------------------


def test_spend_one_cent_under_the_threshold_joins_nothing_and_exactly_the_threshold_joins(m):
    m.pay("o1", "60.00", AT, items=[goods("60.00")])
    m.pay("o2", "39.99", "2026-03-02T12:00:00+08:00", items=[goods("39.99"), goods("50.00", "tea")])
    assert not m.state.memberships and m.state.merchant_spend == {"coffee": Decimal("99.99")}  # tea has no plan
    m.pay("o3", "0.01", "2026-03-03T12:00:00+08:00", items=[goods("0.01")])
    held = m.state.memberships["coffee/club"]
    assert (held.level_id, held.channel, held.until, held.since) == ("gold", "spend_threshold", None,
                                                                     when("2026-03-03T12:00:00+08:00"))
    assert changes(m) == [("joined", "gold", "spend_threshold")]
    assert [g.benefit for g in m.grants] == ["membership_card", "free_latte"]


def test_a_redelivered_order_adds_no_spend_and_joins_once(m):
    m.pay("o1", "100.00", AT, event_id="e1", items=[goods("100.00")])
    assert m.pay("o1", "100.00", AT, event_id="e1-retry", items=[goods("100.00")]).result is Applied.DUPLICATE
    assert m.state.merchant_spend == {"coffee": Decimal("100.00")} and len(m.of(MembershipChange)) == 1


def test_spend_upgrades_a_registration_membership_and_keeps_its_card(m):
    register(m)
    card_id = m.state.memberships["coffee/club"].card_id
    m.pay("o1", "120.00", "2026-03-02T12:00:00+08:00", items=[goods("120.00")])
    held = m.state.memberships["coffee/club"]
    assert (held.level_id, held.card_id) == ("gold", card_id)
    assert changes(m) == [("joined", "green", "registration"), ("upgraded", "gold", "registration")]


def test_a_refund_taking_the_spend_under_the_threshold_revokes_and_voids_the_unused_coupon(m):
    m.pay("o1", "80.00", AT, items=[goods("80.00")])
    m.pay("o2", "40.00", "2026-03-02T12:00:00+08:00", items=[goods("40.00")])
    partial = m.refund("o2", "20.00", "2026-03-03T12:00:00+08:00")  # 100.00 left: still at the threshold
    assert m.state.merchant_spend["coffee"] == Decimal("100.00")
    assert [o for o in partial.outputs if isinstance(o.value, MembershipChange)] == []
    assert m.state.memberships["coffee/club"].status is MembershipStatus.ACTIVE
    out = m.refund("o2", "0.01", "2026-03-04T12:00:00+08:00")  # 99.99: one cent under
    assert m.state.merchant_spend["coffee"] == Decimal("99.99")
    assert m.state.memberships["coffee/club"].status is MembershipStatus.REVOKED
    assert changes(m) == [("joined", "gold", "spend_threshold"), ("revoked", "gold", "spend_threshold")]
    assert sorted(o.value.action for o in out.outputs if isinstance(o.value, BenefitChange)) == ["voided", "voided"]
    again = m.refund("o2", "0.01", "2026-03-04T12:00:00+08:00", event_id=m.of(MembershipChange)[-1].cause_event_id)
    assert again.result is Applied.DUPLICATE and len(m.of(MembershipChange)) == 2  # a redelivered refund
    m.pay("o3", "0.01", "2026-03-05T12:00:00+08:00", items=[goods("0.01")])  # back at 100.00: joins anew
    assert changes(m)[-1] == ("joined", "gold", "spend_threshold")
    assert m.state.memberships["coffee/club"].status is MembershipStatus.ACTIVE


def test_a_full_refund_takes_back_all_of_the_orders_spend(m):
    m.pay("o1", "33.33", AT, items=[goods("33.33")])
    m.refund("o1", "11.11", "2026-03-02T12:00:00+08:00")
    m.refund("o1", "22.22", "2026-03-03T12:00:00+08:00")
    assert m.state.merchant_spend["coffee"] == Decimal("0.00")


# -- invitation -------------------------------------------------------------------


def test_an_inviter_holding_the_plan_invites_the_invitee_who_joins_by_invitation():
    inviter = Member(RULES, "alice")
    register(inviter)
    accepted = InvitationAccepted(type="invitation_accepted", command_id="ia-1", member_id="alice",
                                  occurred_at=when("2026-03-02T12:00:00+08:00"), invitee_id="bob")
    out = inviter.apply(accepted)
    (sent,) = [o for o in out.outputs if o.topic == Topic.MEMBER_COMMANDS]
    assert sent.key == "bob" and isinstance(sent.value, MembershipInvitation)
    assert (sent.value.merchant_id, sent.value.plan_id, sent.value.level_id) == ("coffee", "club", "green")
    bob = Member(RULES, "bob")
    assert bob.apply(sent.value).result is Applied.APPLIED
    assert changes(bob) == [("joined", "green", "invitation")]
    assert bob.apply(sent.value).result is Applied.DUPLICATE and len(bob.of(MembershipChange)) == 1


def test_an_inviter_without_an_active_membership_invites_to_nothing():
    inviter = Member(RULES, "alice")
    inviter.pay("o0", "1.00", AT)
    out = inviter.apply(InvitationAccepted(type="invitation_accepted", command_id="ia-1", member_id="alice",
                                           occurred_at=when(AT), invitee_id="bob"))
    assert [o for o in out.outputs if o.topic == Topic.MEMBER_COMMANDS] == []


def test_an_invitation_to_a_level_not_listing_invitation_is_dead_lettered_not_joinable():
    bob = Member(RULES, "bob")
    out = bob.apply(MembershipInvitation(type="membership_invitation", command_id="mi-1", member_id="bob",
                                         occurred_at=when(AT), inviter_id="alice", merchant_id="coffee",
                                         plan_id="club", level_id="gold"))
    assert (out.result, out.reason) == (Applied.REJECTED, "not_joinable")
    assert out.detail == ("level gold of plan club is not joined by invitation "
                          "(its channels: spend_threshold, operator_grant)")


# -- operator grant ---------------------------------------------------------------


def grant(level: str = "gold", until: str = "2026-06-01T00:00:00+08:00", command_id: str = "oc-1",
          at: str = AT) -> MembershipGrant:
    return MembershipGrant(type="membership_grant", command_id=command_id, member_id="m1", occurred_at=when(at),
                           actor="t1:ops", reason="compensation for a broken machine", request_id=command_id,
                           merchant_id="coffee", plan_id="club", level_id=level, until=when(until))


def test_an_operator_grant_joins_until_its_date_and_expires_there(m):
    assert m.apply(grant()).result is Applied.APPLIED
    held = m.state.memberships["coffee/club"]
    assert (held.level_id, held.channel, held.until) == ("gold", "operator_grant", when("2026-06-01T00:00:00+08:00"))
    assert changes(m) == [("joined", "gold", "operator_grant")]
    assert m.apply(grant()).result is Applied.DUPLICATE and len(m.of(MembershipChange)) == 1
    longer = m.apply(grant(until="2026-09-01T00:00:00+08:00", command_id="oc-2"))
    assert longer.result is Applied.APPLIED and changes(m)[-1] == ("extended", "gold", "operator_grant")


def test_an_operator_grant_of_a_level_not_listing_it_is_refused_with_the_reason(m):
    out = m.apply(grant("black"))
    assert (out.result, out.reason, out.detail) == (
        Applied.REJECTED, "not_joinable", "level black of plan club is not joined by operator_grant "
                                          "(its channels: purchase)")
    assert not m.state.memberships


def test_an_operator_grant_ending_before_it_starts_or_changing_nothing_is_refused(m):
    out = m.apply(grant(until=AT))
    assert (out.result, out.reason) == (Applied.REJECTED, "invalid_command")
    m.apply(grant())
    same = m.apply(grant("green", command_id="oc-3"))  # a lower level than the one held
    assert (same.result, same.reason) == (Applied.REJECTED, "invalid_command")


def test_a_free_membership_never_expires_and_gets_its_monthly_benefit_every_month():
    monthly = {"tenant_id": "default", "merchant_id": "coffee", "type": "benefit", "benefit_id": "monthly-latte",
               "plan_id": "club", "activity_id": "welcome", "coupon_template": "monthly_latte", "cadence": "monthly"}
    rules = rules_with(club_steps(), [monthly])
    m = Member(rules)
    register(m)
    assert [g.benefit for g in m.grants] == ["membership_card", "free_latte", "monthly_latte"]
    april = next_due(m.state, rules, when("2026-03-02T00:00:00+08:00"))
    assert april == when("2026-04-01T00:00:00+08:00")
    changed, outputs = evaluate_member(m.state, rules, april, "eval-april")
    assert changed and [o.value.details["period"] for o in outputs if o.value.benefit == "monthly_latte"] == [
        "2026-04"]
    assert evaluate_member(m.state, rules, april, "eval-april") == (False, [])
    assert m.state.memberships["coffee/club"].status is MembershipStatus.ACTIVE


def test_the_catalogue_shows_each_levels_channels_and_spend_threshold():
    [plan] = catalogue(facts_of(RULES), "default", "coffee")["plans"]
    assert [(lv["level_id"], lv["channels"], lv["spend_threshold"]) for lv in plan["levels"]] == [
        ("green", ["registration", "invitation", "operator_grant"], None),
        ("gold", ["spend_threshold", "operator_grant"], "100.00"), ("black", ["purchase"], None)]



def _left(price: Decimal, refunded: Decimal, amount: Decimal) -> Decimal:
    """What an order's coffee items still count for after refunds totalling ``refunded``."""
    return Decimal(0) if refunded >= amount else price - (price * refunded / amount).quantize(
        Decimal("0.01"), rounding=ROUND_FLOOR)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(1, 6000), st.lists(st.integers(1, 7000), max_size=3)), min_size=1,
                max_size=5))
def test_spend_is_what_was_paid_less_the_refunds_share_and_the_spend_level_follows_it(orders):
    """Orders of coffee goods (plus 10.00 of another shop's), refunded in parts: the spend kept is each
    order's coffee items less the refunds' share, rounded down to the cent; after an order the level joined
    by spend is held exactly when the spend is at or above the threshold, after a refund only then."""
    m, day, threshold = Member(RULES), 0, Decimal("100.00")
    kept: dict[str, Decimal] = {}

    def active() -> bool:
        held = m.state.memberships.get("coffee/club") if m.state.memberships else None
        return held is not None and held.status is MembershipStatus.ACTIVE

    for n, (cents, refunds) in enumerate(orders):
        price = Decimal(cents).scaleb(-2)
        amount = price + 10
        day += 1
        m.pay(f"o{n}", amount, f"2026-03-{day:02d}T12:00:00+08:00", items=[goods(str(price)), goods("10.00", "tea")])
        kept[f"o{n}"] = price
        assert m.state.merchant_spend["coffee"] == sum(kept.values())
        assert active() == (sum(kept.values()) >= threshold)
        refunded = Decimal(0)
        for part in refunds:
            back = min(Decimal(part).scaleb(-2), amount - refunded)
            if back <= 0:
                break
            refunded += back
            day += 1
            m.refund(f"o{n}", back, f"2026-03-{day:02d}T12:00:00+08:00")
            kept[f"o{n}"] = _left(price, refunded, amount)
            assert m.state.merchant_spend["coffee"] == sum(kept.values())
            assert not active() or sum(kept.values()) >= threshold
