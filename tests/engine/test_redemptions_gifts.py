"""Gifting between members: hold, offer, accept/reject, transfer, expiry (lazy
and periodic, event time), idempotent hand-offs, limits, and what a forged or
late hand-off does."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.redemptions import expire_gifts
from engine.redemptions.views import redemptions_summary
from engine.step import Step
from models.commands import GiftAccepted, GiftRejected, GiftTransfer, PointsPiece
from models.outputs import DeadLetterReason, LedgerEntry, LedgerKind, Notification, NotificationKind
from models.redemption_state import GiftStatus
from models.redemptions import RejectReason
from tests.engine.redemption_fixtures import Hub, commands

T0 = "2026-03-01T10:00:00+08:00"
OFFER = "2026-03-02T10:00:00+08:00"
DEADLINE = "2026-03-09T10:00:00+08:00"  # OFFER + 7 days


@pytest.fixture
def hub(base_rules) -> Hub:
    h = Hub(base_rules, "A", "B")
    h["A"].pay("fund-a", "1000", T0)
    return h


def offer(hub: Hub, points: int = 300, request_id: str = "g1", at: str = OFFER):
    result = hub.ask("gift", request_id, at, "A", to_member_id="B", points=points)
    return result


def status(hub: Hub, member: str, gift_id: str) -> GiftStatus:
    memory = hub[member].state.redemption
    gift = memory.gifts_sent.get(gift_id) if member == "A" else memory.gifts_received.get(gift_id)
    return gift.status


def ledger(hub: Hub, member: str) -> list[LedgerEntry]:
    return hub[member].of(LedgerEntry)


def test_a_gift_holds_the_points_until_the_receiver_accepts(hub):
    result = offer(hub)
    gift_id = result.granted.gift_id
    assert result.status == "accepted" and result.points_spent == 300
    assert hub["A"].held == 700 and result.spendable_after == 700  # held points are neither balance nor spendable
    hold = ledger(hub, "A")[-1]
    assert (hold.kind, hold.rule, hold.delta, hold.balance) == (LedgerKind.SPEND, "gift_hold", -300, 700)
    [offered] = hub.outbox
    assert (offered.type, offered.member_id, offered.points) == ("gift_offered", "B", 300)

    hub.deliver()
    assert status(hub, "A", gift_id) == status(hub, "B", gift_id) == GiftStatus.OFFERED
    [note] = hub["B"].of(Notification)
    assert note.kind == NotificationKind.GIFT_RECEIVED and note.data["gift_id"] == gift_id

    answer = hub.ask("gift_respond", "b1", "2026-03-03T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
    assert answer.status == "accepted" and answer.granted.accept and answer.granted.points == 300
    assert status(hub, "B", gift_id) == GiftStatus.ACCEPTED
    hub.deliver()  # gift_accepted -> A, gift_transfer -> B
    assert status(hub, "A", gift_id) == GiftStatus.TRANSFERRED
    assert status(hub, "B", gift_id) == GiftStatus.CREDITED
    credit = ledger(hub, "B")[-1]
    assert (credit.kind, credit.rule, credit.delta, credit.balance) == (LedgerKind.EARN, "gift", 300, 300)
    assert hub["A"].held == 700 and hub["B"].held == 300
    assert [lot.expires_at for lot in hub["B"].state.lots] == [hub["A"].state.lots[0].expires_at]  # expiry kept
    assert [e.rule for e in ledger(hub, "A")] == ["base", "gift_hold"]  # accepting moves no more of A's points


def test_a_rejected_gift_comes_back_to_the_sender(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    answer = hub.ask("gift_respond", "b1", "2026-03-03T10:00:00+08:00", "B", gift_id=gift_id, accept=False)
    assert answer.status == "accepted" and not answer.granted.accept
    hub.deliver()
    assert status(hub, "A", gift_id) == status(hub, "B", gift_id) == GiftStatus.REJECTED
    back = ledger(hub, "A")[-1]
    assert (back.kind, back.rule, back.delta, back.balance) == (LedgerKind.ADJUSTMENT, "gift_return", 300, 1000)
    assert hub["A"].held == 1000 and hub["B"].state.lots == []
    assert any(n.kind == NotificationKind.GIFT_RETURNED for n in hub["A"].of(Notification))
    again = hub.ask("gift_respond", "b2", "2026-03-03T11:00:00+08:00", "B", gift_id=gift_id, accept=True)
    assert again.reason == RejectReason.GIFT_NOT_PENDING


def test_an_unanswered_gift_returns_on_the_senders_next_event_past_the_deadline(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    before = hub.ask("coupon", "c1", "2026-03-09T09:59:59+08:00", "A", denomination="20", quantity=4)
    assert before.reason == RejectReason.INSUFFICIENT_POINTS  # 700 spendable: the 300 are still held
    result = hub.ask("coupon", "c2", DEADLINE, "A", denomination="100")  # exactly at the deadline
    assert result.status == "accepted" and result.points_spent == 1000  # the points came back first
    assert status(hub, "A", gift_id) == GiftStatus.EXPIRED
    assert [e.rule for e in ledger(hub, "A")] == ["base", "gift_hold", "gift_return", "coupon"]
    [void] = hub.outbox
    assert void.type == "gift_expired" and void.member_id == "B"
    hub.deliver()
    assert status(hub, "B", gift_id) == GiftStatus.EXPIRED
    late = hub.ask("gift_respond", "b1", "2026-03-10T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
    assert late.reason == RejectReason.GIFT_EXPIRED


def test_any_later_event_of_the_sender_expires_the_offer(hub):
    gift_id = offer(hub).granted.gift_id
    hub["A"].login("2026-03-10T08:00:00+08:00")
    assert status(hub, "A", gift_id) == GiftStatus.EXPIRED and hub["A"].held == 1000


def test_a_late_answer_by_the_receiver_is_refused_and_returns_the_points(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    late = hub.ask("gift_respond", "b1", DEADLINE, "B", gift_id=gift_id, accept=True)
    assert late.status == "rejected" and late.reason == RejectReason.GIFT_EXPIRED
    [told] = hub.outbox
    assert (told.type, told.why) == ("gift_rejected", "expired")
    hub.deliver()
    assert status(hub, "A", gift_id) == GiftStatus.EXPIRED and hub["A"].held == 1000


def test_an_acceptance_reaching_the_sender_after_expiry_is_void(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    hub.ask("gift_respond", "b1", "2026-03-08T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
    accepted = hub.outbox.pop()
    hub["A"].login("2026-03-09T12:00:00+08:00")  # A expires the gift before the acceptance arrives
    hub.outbox += commands(hub["A"].outputs)[-1:]  # gift_expired to B
    hub.apply("A", accepted)
    hub.deliver()
    assert status(hub, "A", gift_id) == GiftStatus.EXPIRED and hub["A"].held == 1000
    assert status(hub, "B", gift_id) == GiftStatus.EXPIRED and hub["B"].held == 0
    assert not any(isinstance(c, GiftTransfer) for c, _ in hub.delivered)


def test_expire_gifts_is_pure_and_idempotent(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    a = hub["A"].state
    early = Step(a, hub["A"].rules, "eval-1", datetime.fromisoformat("2026-03-09T09:00:00+08:00"))
    assert expire_gifts(early, early.occurred_at) is False and early.outputs == []
    step = Step(a, hub["A"].rules, "eval-2", datetime.fromisoformat(DEADLINE))
    assert expire_gifts(step, step.occurred_at) is True
    kinds = [type(o.value).__name__ for o in step.outputs]
    assert kinds == ["LedgerEntry", "Notification", "GiftExpired"]
    again = Step(a, hub["A"].rules, "eval-3", datetime.fromisoformat("2026-03-10T10:00:00+08:00"))
    assert expire_gifts(again, again.occurred_at) is False and again.outputs == []
    # the receiver's side, evaluated on its own, tells the sender (who already closed it: nothing happens)
    b_step = Step(hub["B"].state, hub["B"].rules, "eval-2", datetime.fromisoformat(DEADLINE))
    assert expire_gifts(b_step, b_step.occurred_at) is True
    assert status(hub, "B", gift_id) == GiftStatus.EXPIRED
    [told] = [o.value for o in b_step.outputs]
    assert told.type == "gift_rejected" and told.why == "expired"
    lots = list(hub["A"].state.lots)
    assert hub.apply("A", told).outputs == []  # A had closed it already: nothing comes back twice
    assert hub["A"].state.lots == lots and hub["A"].held == 1000


def test_every_hand_off_twice_changes_nothing(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver(twice=True)
    hub.ask("gift_respond", "b1", "2026-03-03T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
    hub.deliver(twice=True)
    assert [o.result for _, o in hub.delivered] == ["applied", "duplicate"] * 3
    assert hub["B"].held == 300 and hub["A"].held == 700
    assert len([e for e in ledger(hub, "B") if e.rule == "gift"]) == 1


def test_hand_off_ids_are_deterministic(base_rules):
    def run() -> list[str]:
        h = Hub(base_rules, "A", "B")
        h["A"].pay("fund-a", "1000", T0)
        gift_id = offer(h).granted.gift_id
        h.deliver()
        h.ask("gift_respond", "b1", "2026-03-03T10:00:00+08:00", "B", gift_id=gift_id, accept=True)
        h.deliver()
        return [c.command_id for c, _ in h.delivered]

    first = run()
    assert first == run() and len(set(first)) == 3


def test_the_held_points_are_safe_from_penalties(hub):
    gift_id = offer(hub, points=1000).granted.gift_id
    hub.deliver()
    hub["A"].complain("malicious", "2026-03-03T10:00:00+08:00")  # nothing to deduct: locked
    assert hub["A"].state.status == "locked"
    hub.ask("gift_respond", "b1", "2026-03-03T11:00:00+08:00", "B", gift_id=gift_id, accept=False)
    hub.deliver()
    assert hub["A"].held == 1000


def test_gift_limits(make_rules):
    rules = make_rules({"redemptions": {"gifting": {"min_points": 10, "max_points": 500, "max_open_sent": 2}}})
    h = Hub(rules, "A", "B")
    h["A"].pay("fund-a", "1000", T0)
    assert h.ask("gift", "g1", OFFER, "A", to_member_id="A", points=10).reason == RejectReason.GIFT_TO_SELF
    assert h.ask("gift", "g2", OFFER, "A", to_member_id="B", points=9).reason == RejectReason.BELOW_MINIMUM
    assert h.ask("gift", "g3", OFFER, "A", to_member_id="B", points=501).reason == RejectReason.OVER_ORDER_CAP
    assert h.ask("gift", "g4", OFFER, "A", to_member_id="B", points=500).status == "accepted"
    assert h.ask("gift", "g5", OFFER, "A", to_member_id="B", points=500).status == "accepted"
    assert h.ask("gift", "g6", OFFER, "A", to_member_id="B", points=10).reason == RejectReason.TOO_MANY_OPEN_GIFTS
    assert h["A"].held == 0
    h2 = Hub(rules, "A", "B")
    h2["A"].pay("fund-a", "100", T0)
    assert h2.ask("gift", "g1", OFFER, "A", to_member_id="B", points=101).reason == RejectReason.INSUFFICIENT_POINTS


def test_a_full_inbox_rejects_new_offers(make_rules):
    h = Hub(make_rules({"redemptions": {"gifting": {"max_open_received": 1}}}), "A", "B")
    h["A"].pay("fund-a", "1000", T0)
    first = h.ask("gift", "g1", OFFER, "A", to_member_id="B", points=100).granted.gift_id
    second = h.ask("gift", "g2", OFFER, "A", to_member_id="B", points=100).granted.gift_id
    h.deliver()
    assert status(h, "B", first) == GiftStatus.OFFERED
    assert status(h, "B", second) == status(h, "A", second) == GiftStatus.REJECTED
    assert h["A"].held == 900


def test_a_transfer_the_receiver_did_not_accept_is_a_dead_letter(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    forged = GiftTransfer(command_id="forged", member_id="B", occurred_at=OFFER, type="gift_transfer",
                          gift_id=gift_id, from_member_id="A", points=300,
                          pieces=[PointsPiece(amount=300, earned_at=OFFER)])
    before = hub["B"].snapshot()
    outcome = hub.apply("B", forged)
    assert outcome.result == "rejected" and outcome.reason == DeadLetterReason.INVALID_EVENT
    assert hub["B"].snapshot() == before
    unknown = forged.model_copy(update={"command_id": "forged-2", "gift_id": "nope"})
    assert hub.apply("B", unknown).result == "rejected"


def test_answers_about_unknown_gifts(hub):
    assert hub.ask("gift_respond", "x", OFFER, "B", gift_id="g", accept=True).reason == RejectReason.UNKNOWN_GIFT
    stale = GiftAccepted(command_id="c", member_id="A", occurred_at=OFFER, type="gift_accepted", gift_id="g",
                         by_member_id="B")
    lots = list(hub["A"].state.lots)
    [void] = commands(hub.apply("A", stale))  # the receiver must not wait forever: the offer is void
    assert (void.type, void.member_id, void.gift_id) == ("gift_expired", "B", "g") and hub["A"].state.lots == lots
    told = GiftRejected(command_id="d", member_id="A", occurred_at=OFFER, type="gift_rejected", gift_id="g",
                        by_member_id="B", why="declined")
    before = hub["A"].snapshot()
    assert hub.apply("A", told).result == "rejected" and hub["A"].snapshot() == before


def test_both_sides_see_the_gift(hub):
    gift_id = offer(hub).granted.gift_id
    hub.deliver()
    as_of = datetime.fromisoformat("2026-03-03T00:00:00+08:00")
    a = redemptions_summary(hub["A"].state, as_of)["redemptions"]
    b = redemptions_summary(hub["B"].state, as_of)["redemptions"]
    assert a["points_held_for_gifts"] == 300
    assert a["gifts_sent"][0] | {"gift_id": gift_id} == a["gifts_sent"][0]
    assert (a["gifts_sent"][0]["status"], a["gifts_sent"][0]["to_member_id"]) == ("offered", "B")
    assert (b["gifts_received"][0]["status"], b["gifts_received"][0]["from_member_id"]) == ("offered", "A")
    assert b["gifts_received"][0]["respond_by"] == DEADLINE


def test_closed_gifts_kept_are_bounded(make_rules):
    h = Hub(make_rules({"redemptions": {"gifting": {"keep_closed": 2}}}), "A", "B")
    h["A"].pay("fund-a", "1000", T0)
    for i in range(4):
        gift_id = h.ask("gift", f"g{i}", OFFER, "A", to_member_id="B", points=10).granted.gift_id
        h.deliver()
        h.ask("gift_respond", f"b{i}", OFFER, "B", gift_id=gift_id, accept=False)
        h.deliver()
    assert len(h["A"].state.redemption.gifts_sent) == len(h["B"].state.redemption.gifts_received) == 2
    assert h["A"].held == 1000


def _every_kind(hub: Hub) -> list[str]:
    """A scenario touching every request kind and every hand-off; returns all outputs as JSON."""
    hub["A"].pay("fund-a2", "5000", T0)
    steps = [
        ("coupon", "k1", "A", {"denomination": "20", "quantity": 2}),
        ("merchandise", "k2", "A", {"item_id": "mug"}),
        ("points_cash", "k3", "A", {"order_id": "o1", "order_amount": "100.00"}),
        ("points_cash", "k4", "A", {"order_id": "o2", "order_amount": "100.00", "quote_only": True}),
        ("points_cash_cancel", "k5", "A", {"original_request_id": "k3"}),
        ("coupon", "k6", "A", {"denomination": "7"}),
    ]
    for kind, rid, who, fields in steps:
        hub.ask(kind, rid, OFFER, who, **fields)
    accepted = offer(hub, 100, "g-yes").granted.gift_id
    declined = offer(hub, 100, "g-no").granted.gift_id
    offer(hub, 100, "g-late")
    hub.deliver()
    hub.ask("gift_respond", "r1", "2026-03-03T10:00:00+08:00", "B", gift_id=accepted, accept=True)
    hub.ask("gift_respond", "r2", "2026-03-03T10:00:00+08:00", "B", gift_id=declined, accept=False)
    hub.deliver()
    hub.ask("coupon", "k7", "2026-03-10T10:00:00+08:00", "A", denomination="10")  # expires g-late
    hub.deliver()
    hub.ask("coupon", "k1", OFFER, "A", denomination="20", quantity=2)  # a retry
    return [o.value.model_dump_json() for m in ("A", "B") for o in hub[m].outputs]


def test_state_stored_between_events_changes_nothing(base_rules):
    plain, stored = Hub(base_rules, "A", "B"), Hub(base_rules, "A", "B", stored=True)
    for h in (plain, stored):
        h["A"].pay("fund-a", "1000", T0)
    assert _every_kind(stored) == _every_kind(plain)
    for m in ("A", "B"):
        assert stored[m].snapshot() == plain[m].snapshot()
    assert plain["B"].held == 100 and plain["A"].held == 6000 - 400 - 1500 - 10 * 10 - 100
