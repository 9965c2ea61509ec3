"""``GET /members/{member_id}/entitlements``: what the member is entitled to at checkout as of a
moment (``as_of``, default now) -- the tier's discount, free-shipping threshold, priority delivery,
new-product trials and customer-service channel, and the benefits an order could use with their
conditions; routed to the worker that owns the member."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from engine.entitlements import entitlements
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from tables.members import decode, state_key


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    @app.page("/members/{member_id}/entitlements")
    @authorised(tokens)
    @app.table_route(table=members, match_info="member_id")
    async def member_entitlements(web: Any, request: Any, member_id: str) -> Any:
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
        return web.json(entitlements(decode(raw), rules.book.for_tenant(tenant_id), as_of))
