"""``GET /members/{member_id}``: a member's tier, points, growth, spend, status,
badges and redemptions as of a moment; routed to the worker that owns the member;
the tenant is the service token's (``memberflow.web.auth``)."""

from __future__ import annotations

import faust

from agents.rules_in_force import RulesInForce
from engine.views import member_summary
from memberflow.web.auth import ServiceTokens
from memberflow.web.member_view import register_member_view


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    register_member_view(app, members, rules, tokens, "/members/{member_id}", member_summary)
