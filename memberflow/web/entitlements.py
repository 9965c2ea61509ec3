"""``GET /members/{member_id}/entitlements``: what the member is entitled to at checkout as of a
moment (``as_of``, default now) -- the tier's discount, free-shipping threshold, priority delivery,
new-product trials and customer-service channel, and the benefits an order could use with their
conditions; routed to the worker that owns the member."""

from __future__ import annotations

import faust

from agents.rules_in_force import RulesInForce
from engine.entitlements import entitlements
from memberflow.web.auth import ServiceTokens
from memberflow.web.member_view import register_member_view


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    register_member_view(app, members, rules, tokens, "/members/{member_id}/entitlements", entitlements)
