"""Helpers for tests of the pure engine: rules, event builders, a member harness.

``tests/engine/conftest.py`` hands them out as session-scoped fixtures (so
hypothesis tests can use them too); other folders import them from here:

* ``make_rules(overrides=None, base_only=True)``: the shipped default rules
  (config/rules/default.yaml) with ``overrides`` deep-merged in.  With
  ``base_only`` the points earning is reduced to the base rule (1 point per
  yuan) plus behaviour points, so point numbers do not depend on the bonus
  rules of engine/earning.py.
* ``base_rules``: ``make_rules()``; ``shipped_rules``: the rule book's default.
* ``ev``: event constructors (``ev.paid``, ``ev.refunded``, ``ev.review``...).
* ``member``: ``member(rules, member_id="m1")`` -> a :class:`Member` harness
  that applies events one by one and keeps every output.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml

from config.earning.schema import EarningRules
from config.rules import TenantRules
from config.settings import SHIPPED_RULES_DIR
from engine.apply import apply_event
from engine.outcome import Emitted, Outcome
from engine.wallet import held
from models.events import Complaint, Login, MemberEvent, OrderItem, OrderPaid, OrderRefunded, Profile, Review, Verdict
from models.outputs import BenefitGrant, LedgerEntry, Notification, TierChange
from models.state import MemberState, state_json

DEFAULT_DATA: dict[str, Any] = yaml.safe_load((SHIPPED_RULES_DIR / "default.yaml").read_text(encoding="utf-8"))
EARNING_SECTIONS = [name for name in EarningRules.model_fields if name != "windows"]
KEEP_IN_BASE_ONLY = {"base", "behaviours", "daily_caps"}
BASE_ONLY_EARNING = {name: {"enabled": name in KEEP_IN_BASE_ONLY} for name in EARNING_SECTIONS}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_rules(overrides: dict[str, Any] | None = None, *, base_only: bool = True) -> TenantRules:
    data = DEFAULT_DATA
    if base_only:
        data = deep_merge(data, {"points": {"earning": BASE_ONLY_EARNING}})
    if overrides:
        data = deep_merge(data, overrides)
    return TenantRules.model_validate(data)


def when(at: str | datetime) -> datetime:
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    assert moment.tzinfo is not None, "test events need an offset"
    return moment


def _common(event_id: str, at: str | datetime, member: str, tenant: str) -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "tenant_id": tenant, "occurred_at": when(at)}


def paid(
    event_id: str,
    order_id: str,
    amount: str | Decimal | int,
    at: str | datetime,
    *,
    member: str = "m1",
    tenant: str = "default",
    items: Iterable[OrderItem] = (),
) -> OrderPaid:
    return OrderPaid(
        type="order_paid",
        order_id=order_id,
        amount=Decimal(str(amount)),
        items=list(items),
        **_common(event_id, at, member, tenant),
    )


def refunded(
    event_id: str, order_id: str, amount: str | Decimal | int, at: str | datetime, *, member: str = "m1",
    tenant: str = "default",
) -> OrderRefunded:
    return OrderRefunded(
        type="order_refunded", order_id=order_id, amount=Decimal(str(amount)), **_common(event_id, at, member, tenant)
    )


def review(event_id: str, at: str | datetime, *, member: str = "m1", tenant: str = "default") -> Review:
    return Review(review_id=f"r-{event_id}", **_common(event_id, at, member, tenant))


def login(event_id: str, at: str | datetime, *, member: str = "m1", tenant: str = "default") -> Login:
    return Login(**_common(event_id, at, member, tenant))


def complaint(
    event_id: str, verdict: str | Verdict, at: str | datetime, *, member: str = "m1", tenant: str = "default"
) -> Complaint:
    return Complaint(complaint_id=f"c-{event_id}", verdict=Verdict(verdict), **_common(event_id, at, member, tenant))


def profile(
    event_id: str, at: str | datetime, *, member: str = "m1", tenant: str = "default", **fields: Any
) -> Profile:
    return Profile(**fields, **_common(event_id, at, member, tenant))


def item(price: str, quantity: int = 1, *, sku: str = "SKU", category: str = "general") -> OrderItem:
    return OrderItem(sku=sku, category=category, unit_price=Decimal(price), quantity=quantity)


class KeptOutputs:
    """Typed views of a harness's ``outputs`` (shared by the member and badge harnesses)."""

    outputs: list[Emitted]

    def of(self, kind: type) -> list[Any]:
        return [o.value for o in self.outputs if isinstance(o.value, kind)]

    @property
    def ledger(self) -> list[LedgerEntry]:
        return self.of(LedgerEntry)

    @property
    def tier_changes(self) -> list[TierChange]:
        return self.of(TierChange)

    @property
    def grants(self) -> list[BenefitGrant]:
        return self.of(BenefitGrant)

    @property
    def notifications(self) -> list[Notification]:
        return self.of(Notification)


class Member(KeptOutputs):
    """Applies events to one member's state in order and keeps every output."""

    def __init__(self, rules: TenantRules, member_id: str = "m1", tenant_id: str = "default") -> None:
        self.rules = rules
        self.member_id = member_id
        self.tenant_id = tenant_id
        self.state: MemberState | None = None
        self.outputs: list[Emitted] = []
        self._seq = 0

    def _eid(self, event_id: str | None) -> str:
        self._seq += 1
        return event_id or f"{self.member_id}-e{self._seq}"

    def _kw(self) -> dict[str, str]:
        return {"member": self.member_id, "tenant": self.tenant_id}

    def apply(self, event: MemberEvent) -> Outcome:
        outcome = apply_event(self.state, event, self.rules)
        self.state = outcome.state
        self.outputs.extend(outcome.outputs)
        return outcome

    def pay(self, order_id: str, amount: str | Decimal | int, at: str | datetime, *, event_id: str | None = None,
            items: Iterable[OrderItem] = ()) -> Outcome:
        return self.apply(paid(self._eid(event_id), order_id, amount, at, items=items, **self._kw()))

    def refund(self, order_id: str, amount: str | Decimal | int, at: str | datetime, *,
               event_id: str | None = None) -> Outcome:
        return self.apply(refunded(self._eid(event_id), order_id, amount, at, **self._kw()))

    def review(self, at: str | datetime, *, event_id: str | None = None) -> Outcome:
        return self.apply(review(self._eid(event_id), at, **self._kw()))

    def login(self, at: str | datetime, *, event_id: str | None = None) -> Outcome:
        return self.apply(login(self._eid(event_id), at, **self._kw()))

    def complain(self, verdict: str, at: str | datetime, *, event_id: str | None = None) -> Outcome:
        return self.apply(complaint(self._eid(event_id), verdict, at, **self._kw()))

    def profile(self, at: str | datetime, *, event_id: str | None = None, **fields: Any) -> Outcome:
        return self.apply(profile(self._eid(event_id), at, **self._kw(), **fields))

    # -- views -------------------------------------------------------------

    @property
    def held(self) -> int:
        assert self.state is not None
        return held(self.state)

    @property
    def tier(self) -> str:
        assert self.state is not None
        return self.state.tier

    def snapshot(self) -> str:
        assert self.state is not None
        return state_json(self.state).decode()


def values(outcome: Outcome, kind: type) -> list[Any]:
    return [o.value for o in outcome.outputs if isinstance(o.value, kind)]
