"""Merchants' membership plans (seed 002) on the workers' member API:

- ``GET /members/{member_id}/memberships``: the member's memberships, routed to the worker that owns the member;
- ``GET /merchants/{merchant_id}/plans``: the display-ready catalogue of a merchant's effective plans
  (levels, join channels, sellable card products, benefits of effective activities, card template),
  answered by any worker: every worker reads the plans whole.

The tenant is the service token's (``memberflow.web.auth``).
"""

from __future__ import annotations

from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from engine.memberships import memberships_view
from engine.plans import EMPTY, catalogue
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from memberflow.web.member_view import register_member_view


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    register_member_view(app, members, rules, tokens, "/members/{member_id}/memberships", memberships_view)

    @app.page("/merchants/{merchant_id}/plans")
    @authorised(tokens)
    async def merchant_plans(web: Any, request: Any, merchant_id: str) -> Any:
        tenant_id = request[TENANT]
        shown = catalogue(rules.plans or EMPTY, tenant_id, merchant_id)
        if shown is None:
            return web.json({"error": "unknown merchant", "merchant_id": merchant_id, "tenant_id": tenant_id},
                            status=404)
        return web.json(shown)
