"""Merchants' membership plans (seed 002) on the workers' member API:

- ``GET /members/{member_id}/memberships``: the member's memberships, routed to the worker that owns the member;
- ``GET /merchants/{merchant_id}/plans``: the display-ready catalogue of a merchant's effective plans
  (levels, join channels, sellable card products, benefits of effective activities, card template),
  answered by any worker: every worker reads the plans whole.

The tenant is the service token's (``memberflow.web.auth``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from engine.memberships import memberships_view
from engine.plans import EMPTY, catalogue
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from tables.members import decode, state_key


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    @app.page("/members/{member_id}/memberships")
    @authorised(tokens)
    @app.table_route(table=members, match_info="member_id")
    async def member_memberships(web: Any, request: Any, member_id: str) -> Any:
        tenant_id = request[TENANT]
        as_of_text = request.query.get("as_of")
        try:
            as_of = datetime.fromisoformat(as_of_text) if as_of_text else datetime.now(UTC)
        except ValueError:
            return web.json({"error": "as_of must be RFC 3339 with an offset"}, status=400)
        if as_of.tzinfo is None:
            return web.json({"error": "as_of must carry an offset"}, status=400)
        raw = members.get(state_key(tenant_id, member_id))
        if raw is None:
            return web.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        return web.json(memberships_view(decode(raw), rules.book.for_tenant(tenant_id), as_of))

    @app.page("/merchants/{merchant_id}/plans")
    @authorised(tokens)
    async def merchant_plans(web: Any, request: Any, merchant_id: str) -> Any:
        tenant_id = request[TENANT]
        shown = catalogue(rules.plans or EMPTY, tenant_id, merchant_id)
        if shown is None:
            return web.json({"error": "unknown merchant", "merchant_id": merchant_id, "tenant_id": tenant_id},
                            status=404)
        return web.json(shown)
